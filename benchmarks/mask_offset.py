"""Where a checkpoint's held-out masks sit: the best shift of each predicted mask.

For every held-out frame of a config's synthetic world, the label-free foreground mask is
shifted by each whole-pixel offset within ``--radius`` and the offset with the highest IoU
against the ground truth is kept. The report gives the IoU as predicted and at the best
offset, the mean offset, and its linear dependence on the object's position in the frame
(a slope means the mask is scaled about the centre: a mismatch of the upsampling geometry)
and on the object's velocity (a shift along the motion: the pairing of one frame's flow
with the other frame's masks). Analysis only: the offsets use the labels.

    python benchmarks/mask_offset.py synthetic-small
    python benchmarks/mask_offset.py runs/synthetic/last.pt
"""

from __future__ import annotations

import argparse

import numpy as np

from amd_plugin.checkpoint import load_model
from amd_train.config import load_train_config
from amd_train.evaluate import segment_frames, upsample
from amd_train.heldout import HeldOutEvaluator
from amd_train.metrics import region_similarity


def best_offset(pred: np.ndarray, gt: np.ndarray, radius: int) -> tuple[float, tuple[int, int]]:
    """The IoU of ``pred`` rolled by the best ``(dy, dx)`` within ``radius``, and that offset."""
    best = (-1.0, (0, 0))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            j = region_similarity(np.roll(pred, (dy, dx), (0, 1)), gt)
            if j > best[0]:
                best = (j, (dy, dx))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a checkpoint file or a shipped name")
    p.add_argument("--config", default="synthetic.yaml", help="whose held-out videos to use")
    p.add_argument("--set", nargs="*", default=[], help="config overrides (data.synthetic.*)")
    p.add_argument("--radius", type=int, default=5)
    args = p.parse_args()
    cfg = load_train_config(args.config, args.set)
    heldout = HeldOutEvaluator(cfg)
    if not heldout.videos:
        raise SystemExit(f"{args.config}: no held-out videos (eval.synthetic_videos or eval.root)")
    model = load_model(args.checkpoint).model.eval()
    channel = heldout.choose_channel(model)
    rows = []  # iou, best iou, dy, dx, centre y, centre x, velocity y, velocity x
    for _, frames, gts in heldout.videos:
        masks = segment_frames(model, frames, heldout.short_side)
        centres = [np.argwhere(g > 0).mean(0) if (g > 0).any() else None for g in gts]
        for t, gt in enumerate(gts):
            if centres[t] is None:
                continue
            pred = upsample(masks[t, channel], gt.shape) > 0.5
            j_best, (dy, dx) = best_offset(pred, gt > 0, args.radius)
            before, after = centres[max(t - 1, 0)], centres[min(t + 1, len(gts) - 1)]
            velocity = (after - before) if before is not None and after is not None else (0, 0)
            middle = (np.array(gt.shape[:2]) - 1) / 2
            rows.append(
                (region_similarity(pred, gt > 0), j_best, dy, dx, *(centres[t] - middle), *velocity)
            )
    r = np.array(rows, float)
    print(f"{args.checkpoint}: {len(r)} frames, foreground channel {channel}")
    print(
        f"IoU as predicted {r[:, 0].mean():.4f}, at each frame's best offset {r[:, 1].mean():.4f}"
    )
    print(f"mean offset (dy, dx) ({r[:, 2].mean():+.2f}, {r[:, 3].mean():+.2f}) px")
    for axis, name in ((0, "y"), (1, "x")):
        shift, pos, vel = r[:, 2 + axis], r[:, 4 + axis], r[:, 6 + axis]
        slope, intercept = np.polyfit(pos, shift, 1)
        corr_v = np.corrcoef(vel, shift)[0, 1] if vel.std() > 0 and shift.std() > 0 else 0.0
        print(
            f"  {name}: offset = {slope:+.3f} x position {intercept:+.2f} px; "
            f"correlation with velocity {corr_v:+.2f}"
        )


if __name__ == "__main__":
    main()
