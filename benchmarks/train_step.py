"""Training-step speed: ours vs. a plain eager implementation of the same maths, one run.

    python benchmarks/train_step.py --batch 2 --crop 384 --motion 384 640 --backbone resnet50
    python benchmarks/train_step.py --batch 8 --crop 128 --motion 128 128 --backbone small

"Plain" = the same modules and loss with the two hot spots written the obvious way: the
81-displacement cost volume as a Python loop under autograd (``cost_volume_reference``) and
the two flow directions decoded one after the other. Both variants start from the same
weights and data; the script prints seconds per forward+backward step, the ratio, and the
relative loss difference (must be ≤ 1e-4).

``--variants`` adds candidate speed-ups of our step, measured in the same alternation and
reported against both: ``compile`` (``torch.compile`` of the appearance network, forward
and backward, Inductor's C++ backend on a CPU; compilation happens in the warm-up step and
is reported separately), ``compile-all`` (the whole model), ``channels-last`` (appearance
weights and input frames in channels-last memory format), ``bf16`` (``torch.autocast`` to
bfloat16 around forward and loss; its loss differs by bfloat16 rounding, so it has to be
judged by a training curve, not by the loss difference), ``bf16-networks`` (the same
around the two networks only; warp and loss in fp32 on fp32 copies of the flows).
``quarter-scale`` is not a speed-up but the cost of ``model.small_quarter_scale_logits``:
the same weights plus the untrained refinement, whose output equals the coarse logits
upsampled, so its loss matches up to that upsampling.

    python benchmarks/train_step.py --batch 4 --crop 128 --motion 64 64 --backbone small \
        --segments 2 --full-resolution-masks --variants quarter-scale --rounds 3

    python benchmarks/train_step.py --batch 8 --crop 128 --motion 128 128 --backbone small \
        --variants compile,channels-last --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import time

import torch

from amd_plugin import AMD, ModelConfig
from amd_plugin.checkpoint import load_state_strict
from amd_plugin.modeling import motion as motion_module
from amd_plugin.modeling.correlation import cost_volume, cost_volume_reference
from amd_plugin.modeling.motion import MotionOutput
from amd_train.losses import view_synthesis_loss


def plain_motion_forward(
    self, frame_a, frame_b, masks_a, masks_b, pair_masks_with_other_frame=None
) -> MotionOutput:
    """The motion pathway without batching the two directions (one decode each)."""
    feats_a, feats_b = self.pyramid(frame_a), self.pyramid(frame_b)
    if pair_masks_with_other_frame is None:
        pair_masks_with_other_frame = self.pair_masks_with_other_frame
    fw_masks, bw_masks = (masks_b, masks_a) if pair_masks_with_other_frame else (masks_a, masks_b)
    fw, fw_whole, fw_dense, fw_seg = self.decode(feats_a, feats_b, fw_masks)
    bw, bw_whole, bw_dense, bw_seg = self.decode(feats_b, feats_a, bw_masks)
    return MotionOutput(fw, bw, fw_whole, bw_whole, fw_seg, bw_seg, fw_dense, bw_dense)


def as_fp32(x):
    """Flows as fp32 tensors (a tensor or a list/tuple of them)."""
    if isinstance(x, (list, tuple)):
        return type(x)(as_fp32(v) for v in x)
    return x.float()


def step(model: AMD, a: torch.Tensor, b: torch.Tensor) -> float:
    dtype = getattr(model, "autocast_dtype", None)
    networks_only = getattr(model, "autocast_networks_only", False)
    with torch.autocast(a.device.type, dtype=dtype, enabled=dtype is not None):
        out = model(a, b)
        forward, backward = out.motion.forward, out.motion.backward
        if networks_only:  # warp and loss outside autocast, on fp32 flows
            forward, backward = as_fp32(forward), as_fp32(backward)
        with torch.autocast(a.device.type, enabled=dtype is not None and not networks_only):
            loss, _ = view_synthesis_loss(forward, backward, out.frame_a, out.frame_b)
    loss.backward()
    return float(loss.detach())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(model, a, b, plain: bool, repeats: int) -> tuple[float, float]:
    original_forward = type(model.motion).forward
    try:
        if plain:
            motion_module.cost_volume = cost_volume_reference
            type(model.motion).forward = plain_motion_forward
        if getattr(model, "channels_last_input", False):
            a = a.contiguous(memory_format=torch.channels_last)
            b = b.contiguous(memory_format=torch.channels_last)
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


def variant(model: AMD, name: str) -> AMD:
    """A copy of ``model`` with one candidate speed-up applied (see the module docstring)."""
    model = copy.deepcopy(model)
    if name == "compile":
        model.appearance = torch.compile(model.appearance)
    elif name == "compile-all":
        model = torch.compile(model)
    elif name == "bf16":
        model.autocast_dtype = torch.bfloat16
    elif name == "bf16-networks":
        model.autocast_dtype = torch.bfloat16
        model.autocast_networks_only = True
    elif name == "quarter-scale":
        cfg = dataclasses.replace(model.cfg, small_quarter_scale_logits=True)
        refined = AMD(cfg).to(next(model.parameters()).device).train()
        missing, _ = load_state_strict(refined, model.state_dict(), "the baseline model")
        assert all(k.startswith("appearance.refinement.") for k in missing), missing
        model = refined
    elif name == "channels-last":
        model.appearance = model.appearance.to(memory_format=torch.channels_last)
        model.channels_last_input = True
    else:
        raise ValueError(
            f"unknown variant {name!r} (compile, compile-all, channels-last, bf16, bf16-networks, "
            "quarter-scale)"
        )
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="small")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--motion", type=int, nargs=2, default=(128, 128))
    p.add_argument("--segments", type=int, default=5, help="K (model.num_segments)")
    p.add_argument(
        "--full-resolution-masks", action="store_true", help="model.motion_full_resolution_masks"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="alternations of all variants")
    p.add_argument(
        "--variants",
        default="",
        help="comma-separated: compile, compile-all, channels-last, bf16, bf16-networks, "
        "quarter-scale",
    )
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = (
        AMD(
            ModelConfig(
                backbone=args.backbone,
                motion_size=tuple(args.motion),
                num_segments=args.segments,
                motion_full_resolution_masks=args.full_resolution_masks,
                dropout=0.0,
            )
        )
        .to(device)
        .train()
    )
    candidates = {"plain": (copy.deepcopy(model), True), "ours": (model, False)}
    for name in filter(None, args.variants.split(",")):
        candidates[name] = (variant(model, name), False)
    a = torch.randn(args.batch, 3, args.crop, args.crop, device=device)
    b = torch.roll(a, shifts=(0, 3), dims=(2, 3)) + 0.05 * torch.randn_like(a)
    print(
        f"device {device}, threads {args.threads}, backbone {args.backbone}, batch {args.batch}, "
        f"crop {args.crop}, motion {tuple(args.motion)}, K {args.segments}, full-resolution masks "
        f"{args.full_resolution_masks}; load average {os.getloadavg()}"
    )
    for name, (m, plain) in candidates.items():  # first step: compilation, caches
        start = time.perf_counter()
        timed(m, a, b, plain, 1)
        print(f"{name}: first step (compilation, warm-up) {time.perf_counter() - start:.1f} s")
    rows = []
    for _ in range(args.rounds):  # interleave the variants so drift hits all alike
        for name, (m, plain) in candidates.items():
            rows.append((name, *timed(m, a, b, plain, args.repeats)))
    best = {name: min(t for n, t, _ in rows if n == name) for name in candidates}
    loss = {name: next(lv for n, _, lv in rows if n == name) for name in candidates}
    print("| variant | s/step | × plain | × ours | loss rel. diff vs plain |")
    print("|---|---:|---:|---:|---:|")
    for name in candidates:
        rel = abs(loss[name] - loss["plain"]) / abs(loss["plain"])
        print(
            f"| {name} | {best[name]:.3f} | ×{best['plain'] / best[name]:.2f} | "
            f"×{best['ours'] / best[name]:.2f} | {rel:.1e} |"
        )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
