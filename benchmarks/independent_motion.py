"""How well does the independent-motion cue single out the object? (no model involved)

    python benchmarks/independent_motion.py ../shared/data/davis2016-dev --picture PNG
    python benchmarks/independent_motion.py runs/synth_tta8/videos

For every sequence of a DAVIS-style folder (``<seq>/JPEGImages``, ``<seq>/Annotations``) it
computes :func:`amd_plugin.camera_motion.independent_motion` (optical flow minus the
camera's homography, px at short side 128) for each pair of consecutive frames and compares
it with the ground-truth object (analysis only): the mean residual inside and outside the
object, and the AUC, i.e. the probability that a random object pixel has a larger residual
than a random background pixel (0.5 = no information, 1 = perfect separation). This is the
motion evidence the label-free foreground choice uses; how the choice then fares on adapted
models is ``benchmarks/channel_rules.py``. ``--picture`` draws, per sequence, the middle
frame with the object outlined, the raw flow's magnitude and the residual (same scale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

AUC_SAMPLE = 20_000  # pixels per class: the AUC's standard error is then below 0.005


def separation(residual: np.ndarray, objects: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean residual inside / outside ``objects`` (bool, same shape) and the AUC."""
    from scipy.stats import mannwhitneyu

    inside, outside = residual[objects], residual[~objects]
    rng = np.random.default_rng(seed)
    a = rng.choice(inside, min(AUC_SAMPLE, inside.size), replace=False)
    b = rng.choice(outside, min(AUC_SAMPLE, outside.size), replace=False)
    auc = mannwhitneyu(a, b).statistic / (a.size * b.size)
    return {
        "inside_px": float(inside.mean()),
        "outside_px": float(outside.mean()),
        "auc": float(auc),
    }


def picture_row(frame, gt, flow_magnitude, residual) -> list[np.ndarray]:
    from amd_plugin.visualize import heat_colormap, overlay_contours, resize_to

    top = max(float(np.percentile(flow_magnitude, 99)), 1e-3)
    h, w = residual.shape
    outlined = overlay_contours(
        resize_to(frame, h, w), [(resize_to(gt, h, w, True), (40, 220, 40))]
    )
    return [outlined, heat_colormap(flow_magnitude / top), heat_colormap(residual / top)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path, help="<seq>/{JPEGImages,Annotations}")
    p.add_argument("--picture", type=Path, help="write a PNG with one row per sequence")
    p.add_argument("--record", type=Path, help="write the numbers (JSON)")
    args = p.parse_args(argv)

    from amd_plugin.camera_motion import (
        analysis_size,
        dense_flow,
        independent_motion,
        resize_maps,
        to_grey,
    )
    from amd_train.eval_data import load_gt_mask
    from amd_train.tta import read_video_frames

    sequences = sorted(d for d in args.root.iterdir() if (d / "JPEGImages").is_dir())
    if not sequences:
        print(f"{args.root}: no <seq>/JPEGImages folders", file=sys.stderr)
        return 2
    rows, picture = [], []
    print("| sequence | pairs | residual on the object, px | elsewhere, px | AUC |")
    print("|---|---:|---:|---:|---:|")
    for seq in sequences:
        gts = [load_gt_mask(f) for f in sorted((seq / "Annotations").glob("*.png"))]
        frames = read_video_frames(seq / "JPEGImages")[: len(gts)]
        residual = independent_motion(frames)
        objects = resize_maps(np.stack(gts[:-1]).astype(np.float32), residual.shape[1:]) > 0.5
        row = {"sequence": seq.name, "pairs": len(residual), **separation(residual, objects)}
        rows.append(row)
        print(
            f"| {seq.name} | {row['pairs']} | {row['inside_px']:.2f} | {row['outside_px']:.2f} "
            f"| {row['auc']:.3f} |"
        )
        if args.picture:
            t = len(residual) // 2
            size = analysis_size(*frames[t].shape[:2])
            flow = dense_flow(to_grey(frames[t], size), to_grey(frames[t + 1], size))
            magnitude = np.linalg.norm(flow, axis=-1)
            picture.append(picture_row(frames[t], gts[t], magnitude, residual[t]))
    print(f"mean AUC {np.mean([r['auc'] for r in rows]):.3f} over {len(rows)} sequences")
    if args.record:
        args.record.write_text(json.dumps(rows, indent=1))
        print(f"wrote {args.record}")
    if args.picture:
        from amd_plugin.visualize import make_grid, save_png

        print(f"wrote {save_png(make_grid(picture), args.picture)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
