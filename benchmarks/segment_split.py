"""Where the foreground went: per-channel analysis of a trained checkpoint on held-out videos.

The trainer's held-out IoU scores one segment channel per video (chosen without labels).
When it falls while the loss keeps dropping, this script tells apart the two ways it can
fall: the segments stop following objects (every channel's IoU drops), or an object is
split across several channels (one channel's IoU drops, the union of a few stays high).

For every held-out video it reports (ANALYSIS ONLY: the oracle figures use the GT):

* ``label_free``: J of the channel the trainer's evaluation picks without labels;
* ``oracle``: J of the best single channel;
* ``best_union``: J of the best union of 1 … K−1 channels (the foreground if channels could
  be merged);
* the extent of the label-free channel's mask: ``precision`` and ``recall`` against the GT
  and the mean ``area`` of the mask and of the GT (fractions of the frame): an object
  segment that spills onto the scene around the object shows as precision < recall and
  area > GT area;
* per channel: mean mass and mean segment-flow length (px at the evaluation size).

    python benchmarks/segment_split.py runs/default30/last.pt --config runs/default30/config.yaml
    python benchmarks/segment_split.py runs/foreign_train/last.pt --root runs/foreign_world/heldout
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from amd_plugin.camera_motion import independent_motion
from amd_plugin.checkpoint import load_model
from amd_plugin.objectness import choose_foreground_channel
from amd_train.config import load_train_config
from amd_train.evaluate import channel_j, segment_frames, segment_motion, upsample
from amd_train.heldout import HeldOutEvaluator


def split_scores(masks: np.ndarray, gts: list[np.ndarray], channel: int) -> dict:
    """J of ``channel``, of the best single channel and of the best union of 1 … K−1
    channels of soft masks ``T×K×h×w`` against ``T`` GT masks (the last two use the GT)."""
    k = masks.shape[1]
    per_channel = channel_j(masks, gts)
    subsets = [s for r in range(1, k) for s in itertools.combinations(range(k), r)]
    unions = np.stack([masks[:, list(s)].sum(1) for s in subsets], axis=1)  # T×U×h×w
    union_j = channel_j(unions, gts)
    best = int(np.argmax(union_j))
    return {
        "label_free": float(per_channel[channel]),
        "oracle": float(per_channel.max()),
        "best_union": float(union_j[best]),
        "best_union_channels": list(subsets[best]),
    }


def extent(masks: np.ndarray, gts: list[np.ndarray], channel: int) -> dict:
    """Mean precision, recall and area of ``channel``'s mask (soft masks ``T×K×h×w``,
    upsampled to the GT size and cut at 0.5, as the J above) and the GT's mean area."""
    rows = []
    for m, g in zip(masks, gts):
        pred, gt = upsample(m[channel], g.shape) > 0.5, g.astype(bool)
        hit = float((pred & gt).sum())
        rows.append((hit / max(pred.sum(), 1), hit / max(gt.sum(), 1), pred.mean(), gt.mean()))
    precision, recall, area, gt_area = (float(v) for v in np.mean(rows, axis=0))
    return {"precision": precision, "recall": recall, "area": area, "gt_area": gt_area}


def analyse_video(model, frames, gts, short_side: int | None) -> dict:
    masks = segment_frames(model, frames, short_side)  # T×K×h×w
    channel = choose_foreground_channel(masks, residual_motion=independent_motion(frames))
    flow = np.linalg.norm(segment_motion(model, frames, short_side), axis=-1).mean(0)
    return {
        **split_scores(masks, gts, channel),
        **extent(masks, gts, channel),
        "mass": [round(float(m), 3) for m in masks.mean(axis=(0, 2, 3))],
        "flow_px": [round(float(f), 2) for f in flow],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a training config: its synthetic held-out videos")
    source.add_argument("--root", type=Path, help="held-out videos in the DAVIS layout")
    parser.add_argument("--frames", type=int, default=12, help="annotated frames per video")
    parser.add_argument("--short-side", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the per-video results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    overrides = ["eval.synthetic_videos=0", f"eval.root={args.root}"] if args.root else []
    overrides.append(f"eval.frames_per_video={args.frames}")
    videos = HeldOutEvaluator(load_train_config(args.config, overrides)).videos
    if not videos:
        raise SystemExit(f"{args.config or args.root}: no held-out videos with ground truth")
    model = load_model(args.checkpoint).model
    rows = {}
    for name, frames, gts in videos:
        rows[name] = analyse_video(model, frames, gts, args.short_side)
        r = rows[name]
        print(
            f"{name}: label-free {r['label_free']:.3f}  oracle {r['oracle']:.3f}  "
            f"best union {r['best_union']:.3f} {r['best_union_channels']}  "
            f"precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
            f"area {r['area']:.3f} (GT {r['gt_area']:.3f})  "
            f"mass {r['mass']}  |flow| {r['flow_px']}"
        )
    means = {
        key: float(np.mean([r[key] for r in rows.values()]))
        for key in ("label_free", "oracle", "best_union", "precision", "recall", "area", "gt_area")
    }
    print("mean: " + "  ".join(f"{key} {value:.3f}" for key, value in means.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {"checkpoint": str(args.checkpoint), "mean": means, "videos": rows}
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
