"""Training-step speed: ours vs. a plain eager implementation of the same maths, one run.

    python benchmarks/train_step.py --batch 2 --crop 384 --motion 384 640 --backbone resnet50
    python benchmarks/train_step.py --batch 8 --crop 128 --motion 128 128 --backbone small

"Plain" = the same modules and loss with the two hot spots written the obvious way: the
81-displacement cost volume as a Python loop under autograd (``cost_volume_reference``) and
the two flow directions decoded one after the other. Both variants start from the same
weights and data; the script prints seconds per forward+backward step, the ratio, and the
relative loss difference (must be ≤ 1e-4).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from amd_plugin import AMD, ModelConfig
from amd_plugin.modeling import motion as motion_module
from amd_plugin.modeling.correlation import cost_volume, cost_volume_reference
from amd_plugin.modeling.motion import MotionOutput
from amd_train.losses import view_synthesis_loss


def plain_motion_forward(self, frame_a, frame_b, masks_a, masks_b) -> MotionOutput:
    """The motion pathway without batching the two directions (one decode each)."""
    feats_a, feats_b = self.pyramid(frame_a), self.pyramid(frame_b)
    fw_masks, bw_masks = (
        (masks_b, masks_a) if self.pair_masks_with_other_frame else (masks_a, masks_b)
    )
    fw, fw_whole, fw_seg = self.decode(feats_a, feats_b, fw_masks)
    bw, bw_whole, bw_seg = self.decode(feats_b, feats_a, bw_masks)
    return MotionOutput(fw, bw, fw_whole, bw_whole, fw_seg, bw_seg)


def step(model: AMD, a: torch.Tensor, b: torch.Tensor) -> float:
    out = model(a, b)
    loss, _ = view_synthesis_loss(out.motion.forward, out.motion.backward, out.frame_a, out.frame_b)
    loss.backward()
    return float(loss)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(model, a, b, plain: bool, repeats: int) -> tuple[float, float]:
    original_forward = type(model.motion).forward
    try:
        if plain:
            motion_module.cost_volume = cost_volume_reference
            type(model.motion).forward = plain_motion_forward
        loss = step(model, a, b)  # warm-up, also the loss to compare
        model.zero_grad(set_to_none=True)
        times = []
        for _ in range(repeats):
            synchronize(a.device)
            start = time.perf_counter()
            step(model, a, b)
            synchronize(a.device)  # backward runs asynchronously on a GPU
            times.append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
        return min(times), loss
    finally:
        motion_module.cost_volume = cost_volume
        type(model.motion).forward = original_forward


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="small")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--motion", type=int, nargs=2, default=(128, 128))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = (
        AMD(ModelConfig(backbone=args.backbone, motion_size=tuple(args.motion), dropout=0.0))
        .to(device)
        .train()
    )
    plain_model = copy.deepcopy(model)
    a = torch.randn(args.batch, 3, args.crop, args.crop, device=device)
    b = torch.roll(a, shifts=(0, 3), dims=(2, 3)) + 0.05 * torch.randn_like(a)
    rows = []
    for _ in range(2):  # interleave the variants so drift hits both alike
        rows.append(("plain", *timed(plain_model, a, b, True, args.repeats)))
        rows.append(("ours", *timed(model, a, b, False, args.repeats)))
    best = {name: min(t for n, t, _ in rows if n == name) for name in ("plain", "ours")}
    loss = {name: next(lv for n, _, lv in rows if n == name) for name in ("plain", "ours")}
    rel = abs(loss["ours"] - loss["plain"]) / abs(loss["plain"])
    print(
        f"device {device}, threads {args.threads}, backbone {args.backbone}, batch {args.batch}, crop {args.crop}, motion {tuple(args.motion)}"
    )
    print(
        f"plain eager: {best['plain']:.3f} s/step   ours: {best['ours']:.3f} s/step   speed-up ×{best['plain'] / best['ours']:.2f}"
    )
    print(f"loss plain {loss['plain']:.6f} ours {loss['ours']:.6f}  relative difference {rel:.2e}")


if __name__ == "__main__":
    main()
