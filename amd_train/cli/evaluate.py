"""``amd-eval``: DAVIS-style J&F on video folders, or saliency F/MAE on image sets.

    amd-eval DAVIS_ROOT --checkpoint CKPT --out results/        # videos (J, F, J&F)
    amd-eval --saliency IMAGES MASKS --checkpoint CKPT           # saliency (max/adaptive F, MAE)

The foreground channel is chosen without labels (the checkpoint's stored channel, else per
sequence from appearance + segment-flow statistics). ``--channel oracle`` picks it with the
ground truth instead — for analysis only, and labelled so in every output.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from amd_plugin.checkpoint import CheckpointError, load_model
from amd_plugin.visualize import make_grid, overlay_contours, save_png
from amd_train.eval_data import (
    discover_saliency_pairs,
    discover_sequences,
    load_frame,
    load_gt_mask,
    resize_mask_nearest,
)
from amd_train.evaluate import evaluate_video
from amd_train.metrics import SaliencyAccumulator, summarize

log = logging.getLogger("amd-eval")


def load_sequence(seq, stride: int, max_frames: int):
    """Frames and GT masks (GT resized to the frame when sizes differ, with a warning)."""
    idx = list(range(0, len(seq.frame_paths), max(1, stride)))[: max_frames or None]
    frames, gts = [], []
    for i in idx:
        frame = load_frame(seq.frame_paths[i])
        gt = None
        if seq.gt_paths[i] is not None:
            gt = load_gt_mask(seq.gt_paths[i])
            if gt.shape != frame.shape[:2]:
                log.warning(
                    "%s: mask is %s but frame is %s; resized (nearest)",
                    seq.gt_paths[i],
                    gt.shape,
                    frame.shape[:2],
                )
                gt = resize_mask_nearest(gt, frame.shape[:2])
        frames.append(frame)
        gts.append(gt)
    return frames, gts


def picture_strip(frames, gts, preds, count: int = 6) -> np.ndarray:
    """Evenly spaced frames with GT (green) and prediction (red) contours."""
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    tiles = []
    for i in picks:
        layers = [(preds[i], (255, 40, 40))]
        if gts[i] is not None:
            layers.insert(0, (gts[i], (40, 230, 40)))
        tiles.append(overlay_contours(frames[i], layers))
    return make_grid([tiles], tile_height=160)


def evaluate_videos(args, loaded) -> int:
    sequences = discover_sequences(args.root)
    if not sequences:
        print(f"amd-eval: {args.root}: no sequences found", file=sys.stderr)
        return 2
    channel = args.channel
    if channel == "auto":
        channel = (
            loaded.foreground_channel if loaded.foreground_channel is not None else "label-free"
        )
    elif channel not in ("label-free", "oracle"):
        channel = int(channel)
    per_sequence, rows, failed = {}, [], 0
    for seq in tqdm(sequences, desc="sequences", unit="seq"):
        try:
            frames, gts = load_sequence(seq, args.stride, args.max_frames)
            result = evaluate_video(loaded.model, seq.name, frames, gts, args.short_side, channel)
        except (ValueError, OSError) as err:
            log.error("error: %s: %s", seq.name, err)
            rows.append({"sequence": seq.name, "error": str(err)})
            failed += 1
            continue
        per_sequence[seq.name] = result.details
        rows.append(
            {
                "sequence": seq.name,
                "channel": result.channel,
                "J": result.j_mean,
                "F": result.f_mean,
                "oracle_channel": result.oracle_channel,
                "oracle_J": result.oracle_j_mean,
            }
        )
        save_png(
            picture_strip(frames, gts, result.details["predictions"]),
            args.out / "strips" / f"{seq.name}.png",
        )
    summary = (
        summarize({k: {"J": v["J"], "F": v["F"]} for k, v in per_sequence.items()})
        if per_sequence
        else {}
    )
    mode = (
        "ORACLE channel (uses GT; analysis only)"
        if args.channel == "oracle"
        else "label-free channel"
    )
    print(f"\n{'sequence':<24} {'ch':>3} {'J':>7} {'F':>7}   {'oracle ch':>9} {'oracle J':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['sequence']:<24} ERROR {r['error']}")
        else:
            print(
                f"{r['sequence']:<24} {r['channel']:>3} {r['J']:>7.3f} {r['F']:>7.3f}   {r['oracle_channel']:>9} {r['oracle_J']:>9.3f}"
            )
    if summary:
        print(
            f"\n[{mode}] J-mean {summary['J-mean']:.3f}  F-mean {summary['F-mean']:.3f}  J&F-mean {summary['J&F-mean']:.3f}"
        )
    report = {
        "mode": mode,
        "checkpoint": str(args.checkpoint),
        "summary": summary,
        "sequences": rows,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2, default=float))
    with open(args.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=["sequence", "channel", "J", "F", "oracle_channel", "oracle_J", "error"],
        )
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}/results.json, results.csv and strips/")
    return 1 if failed else 0


def evaluate_saliency(args) -> int:
    from amd_plugin.predictor import Segmenter

    image_dir, mask_dir = args.saliency
    pairs = discover_saliency_pairs(image_dir, mask_dir, strict=False)
    foreground = "auto" if args.channel in ("auto", "label-free") else int(args.channel)
    segmenter = Segmenter(args.checkpoint, short_side=args.short_side, foreground=foreground)
    acc = SaliencyAccumulator()
    for pair in tqdm(pairs, desc="images", unit="img"):
        pred = segmenter.predict([load_frame(pair.image_path)])[0]
        gt = load_gt_mask(pair.mask_path, threshold=127)
        prob = (
            pred.foreground
            if pred.foreground.shape == gt.shape
            else resize_mask_nearest(pred.foreground, gt.shape)
        )
        acc.add(prob, gt)
    result = acc.result()
    print(
        f"saliency on {result['num_images']} images: max F-beta {result['max_f']:.3f}  adaptive F-beta {result['adaptive_f']:.3f}  MAE {result['mae']:.3f}"
    )
    (args.out / "saliency.json").write_text(json.dumps(result, indent=2, default=float))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(prog="amd-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", type=Path, help="DAVIS-style folder of sequences")
    p.add_argument(
        "--saliency", nargs=2, metavar=("IMAGES", "MASKS"), help="evaluate a saliency set instead"
    )
    p.add_argument("--checkpoint", default="synthetic-small")
    p.add_argument("--out", type=Path, default=Path("eval_out"))
    p.add_argument(
        "--channel",
        default="auto",
        help="auto (stored, else label-free), label-free, oracle (ANALYSIS ONLY: uses GT), or an index",
    )
    p.add_argument("--oracle-channel", action="store_true", help="same as --channel oracle")
    p.add_argument(
        "--short-side", type=int, default=None, help="inference short side (default: native size)"
    )
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--max-frames", type=int, default=0)
    args = p.parse_args(argv)
    if args.oracle_channel:
        args.channel = "oracle"
    args.out.mkdir(parents=True, exist_ok=True)
    if args.saliency:
        return evaluate_saliency(args)
    if args.root is None:
        p.error("give a DAVIS-style ROOT or --saliency IMAGES MASKS")
    try:
        loaded = load_model(args.checkpoint)
    except CheckpointError as err:
        print(f"amd-eval: {err}", file=sys.stderr)
        return 2
    return evaluate_videos(args, loaded)


if __name__ == "__main__":
    sys.exit(main())
