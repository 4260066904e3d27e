"""Does the training objective prefer the true object masks? A yardstick check.

For a trained checkpoint and held-out synthetic videos, the view-synthesis loss the trainer
minimises is computed with the checkpoint's own motion pathway fed different masks in place
of the appearance network's: its own masks, the ground truth, and the ground truth grown or
shrunk by a band of a few pixels, or shifted by a pixel or two. If a grown mask scores a
lower loss than the truth, the objective itself rewards a mask that spills onto the scene,
and more training moves the masks away from the truth; if a shifted one scores about the
same, the objective does not pin the outline's position (ANALYSIS ONLY: the GT is used to
build the probe masks).

    python benchmarks/objective_probe.py runs/default15_k2/last.pt --config runs/default15_k2/config.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from amd_plugin.checkpoint import load_model
from amd_plugin.modeling.amd import AMD
from amd_train.config import load_train_config
from amd_train.evaluate import frames_to_tensor
from amd_train.losses import LossConfig
from amd_train.objective import training_objective
from amd_train.synthetic import generate_video

BANDS = (-4, -2, 0, 2, 4, 8)  # px at the frame size: < 0 shrinks the GT, > 0 grows it
SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (0, 2), (2, 0))  # (dy, dx) px


def grow(gt: torch.Tensor, band: int) -> torch.Tensor:
    """Binary ``N×1×H×W`` masks grown (band > 0) or shrunk (band < 0) by ``|band|`` px."""
    if band == 0:
        return gt
    size = 2 * abs(band) + 1
    if band > 0:
        return F.max_pool2d(gt, size, stride=1, padding=abs(band))
    return 1.0 - F.max_pool2d(1.0 - gt, size, stride=1, padding=abs(band))


def shift(gt: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Binary ``N×1×H×W`` masks moved by ``(dy, dx)`` px; what enters at the border is 0."""
    h, w = gt.shape[-2:]
    padded = F.pad(gt, (abs(dx), abs(dx), abs(dy), abs(dy)))
    y0, x0 = abs(dy) - dy, abs(dx) - dx
    return padded[..., y0 : y0 + h, x0 : x0 + w]


def soft_masks(fg: torch.Tensor, channel: int, size: tuple[int, int]) -> torch.Tensor:
    """Two-segment masks ``N×2×h×w`` on the appearance grid, the object in ``channel``."""
    fg = F.interpolate(fg, size=size, mode="area")
    return torch.cat([fg, 1.0 - fg] if channel == 0 else [1.0 - fg, fg], dim=1)


@torch.inference_mode()
def pair_losses(
    model: AMD, loss_cfg: LossConfig, frames: list, gts: list, gap: int, channel: int
) -> dict[str, float]:
    """Mean loss over the video's pairs ``(t, t + gap)`` for each kind of mask.

    The loss is the view-synthesis objective alone: the terms on the masks themselves
    (usage floor, flow fit, entropy, turn consistency) are set to 0, since they judge a
    net's predictions, not where a given mask lies."""
    loss_cfg = loss_cfg.without_mask_terms()
    x = frames_to_tensor(frames, None, "cpu")
    out = model(x[:-gap], x[gap:])  # the own masks and the motion pathway's RGB inputs
    gt = torch.from_numpy(np.stack(gts).astype(np.float32))[:, None]
    gt_a, gt_b = gt[:-gap], gt[gap:]
    # the own masks as the motion pathway is handed them (full size with full-resolution masks)
    own = (model.motion_masks(out.logits_a), model.motion_masks(out.logits_b))
    grid = tuple(own[0].shape[-2:])
    candidates = {"own": own}
    for band in BANDS:
        name = "gt" if band == 0 else f"gt{band:+d}px"
        candidates[name] = (
            soft_masks(grow(gt_a, band), channel, grid),
            soft_masks(grow(gt_b, band), channel, grid),
        )
    for dy, dx in SHIFTS:
        candidates[f"gt@{dy:+d},{dx:+d}"] = (
            soft_masks(shift(gt_a, dy, dx), channel, grid),
            soft_masks(shift(gt_b, dy, dx), channel, grid),
        )
    losses = {}
    for name, (masks_a, masks_b) in candidates.items():
        motion = model.motion(out.frame_a, out.frame_b, masks_a, masks_b)
        loss, _ = training_objective(motion, out.frame_a, out.frame_b, loss_cfg)
        losses[name] = float(loss)
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--config", required=True, help="the run's config (world, loss)")
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--gaps", default="1,2,3", help="frame gaps of the pairs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--own-frame-masks",
        action="store_true",
        help="compose each frame's flow with its own masks (model.pair_masks_with_other_frame=false)",
    )
    parser.add_argument(
        "--align-paired-masks",
        action="store_true",
        help="warp the other frame's masks onto the flow's grid (model.motion_align_paired_masks)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. loss.occlusion=consistency",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_train_config(args.config, args.set)
    loss_cfg = cfg.loss
    loaded = load_model(args.checkpoint, device="cpu")
    model, channel = loaded.model.eval(), loaded.foreground_channel or 1
    if args.own_frame_masks:
        model.motion.pair_masks_with_other_frame = False
    if args.align_paired_masks:
        model.motion.align_paired_masks = True
    if model.num_segments != 2:
        raise SystemExit(
            f"{args.checkpoint}: the probe builds two-segment masks, model has K={model.num_segments}"
        )
    rows = []
    for v in range(args.videos):
        video = generate_video(cfg.data.synthetic, (cfg.eval.seed, v))
        frames, gts = list(video.frames[: args.frames]), list(video.masks[: args.frames])
        for gap in map(int, args.gaps.split(",")):
            rows.append(pair_losses(model, loss_cfg, frames, gts, gap, channel))
    names = list(rows[0])
    means = {name: float(np.mean([r[name] for r in rows])) for name in names}
    wins = {
        name: float(np.mean([r[name] < r["gt"] for r in rows])) for name in names if name != "gt"
    }
    for name in names:
        beat = f"  (below the GT's loss in {wins[name]:.0%} of videos×gaps)" if name in wins else ""
        print(f"{name:>8}: loss {means[name]:.5f}{beat}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "checkpoint": str(args.checkpoint),
            "videos": args.videos,
            "frames": args.frames,
            "gaps": args.gaps,
            "overrides": args.set,
            "own_frame_masks": args.own_frame_masks,
            "align_paired_masks": args.align_paired_masks,
            "mean_loss": means,
            "below_gt": wins,
        }
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
