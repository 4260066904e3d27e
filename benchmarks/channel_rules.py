"""Which channel would each label-free rule pick, and what J would it get? (analysis)

    python benchmarks/channel_rules.py benchmarks/davis_tta_out --root ../shared/data/davis2016-dev
    python benchmarks/channel_rules.py runs/synth_tta8 --root runs/synth_tta8/videos

Reads the adapted models that ``benchmarks/davis_tta.py`` left in ``OUT/<seq>_<start>/`` and
the sequences' frames and ground truth under ``--root``. For every run it prints, per channel,
the label-free statistics the rules combine (mass, centredness = 1 − border share relative
to a uniform channel, mean departure of the segment flow from the mass-weighted dominant
flow, in px, and independent motion, i.e. optical flow minus the camera's homography, in
px at short side 128: the channel's mean residual minus its frames' means, and the plain
mean) next to the channel's J against the ground truth (analysis only), then the channel
each rule picks: the shipped rule (:func:`amd_plugin.objectness.choose_foreground_channel`:
centredness, weighted down as the motion grows, + the frame-relative residual scaled by the
largest candidate's or ``DEPARTURE_FLOOR_PX``, whichever is larger), the same with
centredness always at full weight, the same with the plain mean residual (the previous
rule), independent motion alone, the earlier segment-flow rule (centredness at full weight
+ the segment-flow departure) with its floor at 0.5 (its shipped value), 0, 1 and 2 px,
centredness alone, segment-flow departure alone, the departure measured from the
border ring's flow instead (alone and with centredness), and the oracle. ``--record JSON``
keeps every run's evidence and choices.
``--picture PNG`` also draws one row per run: the middle frame with the ground truth (green)
and the shipped rule's channel (red) outlined, the K segments in colour, then each channel's
probability as a heat map (channel 0 first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def channel_table(model, frames, gts, short_side: int) -> dict[str, np.ndarray]:
    from amd_plugin.camera_motion import independent_motion
    from amd_plugin.objectness import channel_evidence, residual_departure
    from amd_train.evaluate import channel_j, segment_frames, segment_motion

    masks = segment_frames(model, frames, short_side)
    motion = segment_motion(model, frames, short_side)
    residual = independent_motion(frames)
    return {
        "J": channel_j(masks, gts),
        "masks": masks,
        "motion": motion,
        **channel_evidence(masks, motion),
        "residual": residual_departure(masks, residual),
        "residual_plain": residual_departure(masks, residual, relative_to_frame=False),
    }


def border_departure(masks: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Like the shipped departure, but from the flow of the border ring (the background's
    motion when the camera follows the object) instead of the mass-weighted mean flow."""
    from amd_plugin.objectness import border_ring, motion_departure

    ring = border_ring(*masks.shape[-2:])
    on_border = masks[: len(motion), :, ring].mean(-1)  # T'×K
    return motion_departure(masks, motion, reference_weights=on_border)


def rule_choices(table: dict[str, np.ndarray]) -> dict[str, int]:
    """The channel each rule picks; every rule but the oracle goes through the shipped
    scoring (:func:`choose_from_evidence`) with some of its evidence left out or replaced."""
    from amd_plugin.objectness import choose_from_evidence

    appearance = {key: table[key] for key in ("mass", "centredness", "present")}
    no_centredness = {**appearance, "centredness": np.zeros_like(table["centredness"])}
    border = border_departure(table["masks"], table["motion"])
    camera = {**appearance, "departure": table["residual"]}
    fixed = {"fade_centredness": False}  # centredness weighs 1 whatever the motion
    return {
        "shipped": choose_from_evidence(camera),
        "camera_fixed_weight": choose_from_evidence(camera, **fixed),
        "plain_residual": choose_from_evidence(
            {**appearance, "departure": table["residual_plain"]}
        ),
        "residual_only": choose_from_evidence({**no_centredness, "departure": table["residual"]}),
        "segment_flow": choose_from_evidence(table, **fixed),
        **{
            f"segment_flow floor {f:g}px": choose_from_evidence(table, departure_floor=f, **fixed)
            for f in (0, 1, 2)
        },
        "centredness": choose_from_evidence(appearance),
        "motion": choose_from_evidence({**no_centredness, "departure": table["departure"]}),
        "border_motion": choose_from_evidence({**no_centredness, "departure": border}),
        "centred+border_motion": choose_from_evidence({**appearance, "departure": border}, **fixed),
        "oracle": int(np.argmax(table["J"])),
    }


def picture_row(frames, gts, table: dict[str, np.ndarray], channel: int) -> list[np.ndarray]:
    from amd_plugin.visualize import colorize_segments, heat_colormap, overlay_contours
    from amd_train.evaluate import upsample

    t = len(gts) // 2
    frame, gt, masks = frames[t], gts[t], table["masks"][t]
    pred = upsample(masks[channel], gt.shape) > 0.5
    outlined = overlay_contours(frame, [(gt, (40, 220, 40)), (pred, (230, 30, 30))])
    return [outlined, colorize_segments(masks)] + [heat_colormap(m) for m in masks]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="a davis_tta.py --out folder")
    p.add_argument("--root", type=Path, required=True, help="<seq>/{JPEGImages,Annotations}")
    p.add_argument("--short-side", type=int, default=128)
    p.add_argument("--picture", type=Path, help="write a PNG with one row per run")
    p.add_argument("--record", type=Path, help="write every run's evidence and choices (JSON)")
    args = p.parse_args(argv)

    from amd_plugin.checkpoint import load_model
    from amd_train.eval_data import load_gt_mask
    from amd_train.tta import read_video_frames

    rows = json.loads((args.out / "davis_tta.json").read_text())
    summary: dict[str, list[float]] = {}
    picture_rows, records = [], []
    for row in rows:
        run = args.out / f"{row['sequence']}_{row['start']}"
        seq = args.root / row["sequence"]
        model = load_model(run / "adapted.pt").model.eval()
        gts = [load_gt_mask(f) for f in sorted((seq / "Annotations").glob("*.png"))]
        frames = read_video_frames(seq / "JPEGImages")[: len(gts)]
        table = channel_table(model, frames, gts, args.short_side)
        choices = rule_choices(table)
        print(f"\n{row['sequence']} from {row['start']} ({row['steps']} steps)")
        print("ch  J      mass   centred  departure px  residual px (vs frame / plain)")
        for c in range(len(table["J"])):
            print(
                f"{c}   {table['J'][c]:.3f}  {table['mass'][c]:.3f}  {table['centredness'][c]:.3f}"
                f"    {table['departure'][c]:.2f}          {table['residual'][c]:.2f}"
                f" / {table['residual_plain'][c]:.2f}"
            )
        print("  ".join(f"{name}: ch {c} (J {table['J'][c]:.3f})" for name, c in choices.items()))
        for name, c in choices.items():
            summary.setdefault(name, []).append(float(table["J"][c]))
        keys = ("J", "mass", "centredness", "departure", "residual", "residual_plain")
        records.append(
            {
                **{k: row[k] for k in ("sequence", "start", "steps")},
                **{k: np.round(table[k], 4).tolist() for k in keys},
                "choices": choices,
            }
        )
        if args.picture:
            picture_rows.append(picture_row(frames, gts, table, choices["shipped"]))
    print("\nmean J over runs: " + ", ".join(f"{n} {np.mean(v):.3f}" for n, v in summary.items()))
    oracle = np.array(summary["oracle"])
    for name in (n for n in summary if n != "oracle"):
        gaps = oracle - np.array(summary[name])
        print(f"{name}: within 0.02 J of the oracle in {(gaps <= 0.02).sum()} of {len(gaps)} runs")
    if args.record:
        args.record.write_text(json.dumps(records, indent=1))
        print(f"wrote {args.record}")
    if args.picture:
        from amd_plugin.visualize import make_grid, save_png

        print(f"wrote {save_png(make_grid(picture_rows), args.picture)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
