"""GPU inference of the appearance network: eager fp32 vs. half precision, compiled, CUDA graphs.

    python benchmarks/gpu_inference.py --size 392x696 --batch 16

All variants run in one process on the same frames (ResNet-50, random weights with a
spread head so that masks vary, see ``inference.spread_random_head``). For each: median
ms per batch (CUDA events, after warm-up), frames/s, the ratio to eager fp32, achieved
TFLOP/s (the network's FLOPs counted with ``torch.utils.flop_counter``) and its share of
the card's matmul rate measured here (a large fp16 / bf16 matrix product), and mask IoU
and max |Δp| against strict fp32 (TF32 off). Device-resident input: this measures the
model, not host transfers.
"""

from __future__ import annotations

import argparse
import copy
import statistics
from collections.abc import Callable

import torch
from inference import spread_random_head
from torch.utils.flop_counter import FlopCounterMode

from amd_plugin import AMD, ModelConfig
from trt.parity import compare_probabilities, synthetic_images

HALF_TYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def median_ms(fn: Callable[[], torch.Tensor], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def matmul_tflops(dtype: torch.dtype, device: torch.device, n: int = 8192) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    ms = median_ms(lambda: a @ b, warmup=3, repeats=10)
    return 2 * n**3 / (ms * 1e-3) / 1e12


def count_flops(net: torch.nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(x)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="392x696")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--device", default="cuda", help="a CUDA device (timing uses CUDA events)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type != "cuda" or not torch.cuda.is_available():
        p.error(
            f"needs a CUDA device, got --device {args.device} (CUDA available: "
            f"{torch.cuda.is_available()}); benchmarks/inference.py covers the CPU"
        )
    height, width = (int(v) for v in args.size.split("x"))
    torch.manual_seed(0)
    model = spread_random_head(AMD(ModelConfig(backbone=args.backbone)).eval())
    net32 = copy.deepcopy(model.appearance).to(device).eval()
    x32 = torch.from_numpy(synthetic_images(args.batch, height, width, seed=3)).to(device)
    flops = count_flops(net32, x32)
    peak = {tag: matmul_tflops(dtype, device) for tag, dtype in HALF_TYPES.items()}

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    with torch.inference_mode():
        reference = net32(x32).float().softmax(1).cpu().numpy()
    variants: dict[str, tuple[Callable[[], torch.Tensor], str | None]] = {}
    variants["eager fp32 (TF32 off)"] = (lambda: net32(x32), None)

    def with_tf32() -> torch.Tensor:  # PyTorch's default for cuDNN convolutions
        torch.backends.cudnn.allow_tf32 = True
        try:
            return net32(x32)
        finally:
            torch.backends.cudnn.allow_tf32 = False

    variants["eager fp32 (cuDNN TF32, PyTorch default)"] = (with_tf32, None)

    def half_variant(dtype: torch.dtype, mode: str | None) -> Callable[[], torch.Tensor]:
        net = copy.deepcopy(model.appearance).to(device).eval().to(dtype)
        net = net.to(memory_format=torch.channels_last)
        x = x32.to(dtype).contiguous(memory_format=torch.channels_last)
        runner = torch.compile(net, mode=mode) if mode else net
        return lambda: runner(x)

    for tag, dtype in HALF_TYPES.items():
        variants[f"eager {tag} channels-last"] = (half_variant(dtype, None), tag)
    if not args.no_compile:
        variants["compiled fp16 + CUDA graphs"] = (
            half_variant(torch.float16, "reduce-overhead"),
            "fp16",
        )
        variants["compiled bf16 + CUDA graphs"] = (
            half_variant(torch.bfloat16, "reduce-overhead"),
            "bf16",
        )

    print(
        f"# {torch.cuda.get_device_name(device)}, torch {torch.__version__}, {args.backbone} "
        f"{height}×{width}, batch {args.batch}: {flops / args.batch / 1e9:.1f} GFLOP/frame; "
        f"matmul 8192³ measured: fp16 {peak['fp16']:.0f}, bf16 {peak['bf16']:.0f} TFLOP/s"
    )
    print(
        "| variant | ms/batch | frames/s | × eager fp32 | TFLOP/s | % of matmul rate | mask IoU vs fp32 | max abs Δp |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base_ms = None
    for name, (run, tag) in variants.items():
        with torch.inference_mode():
            ms = median_ms(run, warmup=5, repeats=args.repeats)
            probs = run().float().softmax(1).cpu().numpy()
        base_ms = base_ms or ms
        parity = compare_probabilities(reference, probs)
        tflops = flops / (ms * 1e-3) / 1e12
        share = f"{100 * tflops / peak[tag]:.0f}%" if tag else "–"
        print(
            f"| {name} | {ms:.1f} | {args.batch / ms * 1e3:.0f} | {base_ms / ms:.2f} | "
            f"{tflops:.0f} | {share} | {parity.mask_iou:.4f} | {parity.max_abs_diff:.1e} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
