"""Inference throughput of every available runtime, side by side in one run.

For each input size, every runtime segments the same frames; the table gives frames/s, the
ratio to PyTorch eager fp32 (measured in this run, on this machine), and agreement with it
(mask IoU of the argmax segmentations, max |Δp| of the probabilities).

Runtimes: PyTorch eager fp32 and channels-last (CPU); ONNX Runtime fp32 and int8 (dynamic
quantisation: reported, and marked usable only when mask IoU ≥ 0.98); on a GPU also PyTorch
eager fp32, compiled fp16, and TensorRT (when installed, or an ``--engine`` is given).

    python benchmarks/inference.py --frames 2 --sizes 240x432,392x696
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from amd_plugin import AMD, ModelConfig, load_model
from amd_plugin.backends import TorchBackend
from trt.cache import cached_onnx
from trt.cache_dir import cache_root
from trt.engine import TensorRTUnavailable, parse_shape, require_tensorrt
from trt.export import ExportOptions
from trt.parity import compare_probabilities, softmax, synthetic_images
from trt.runtimes import OnnxRuntimeBackend, TensorRTBackend, onnxruntime_importable

USABLE_IOU = 0.98


def quantized_int8(onnx_path: Path) -> Path:
    """Dynamic int8 quantisation of a graph (weights int8, activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = onnx_path.with_name(onnx_path.stem + ".int8.onnx")
    if not out.exists():
        pre = out.with_name(f".{out.name}.pre.onnx")
        tmp = out.with_name(f".{out.name}.tmp")
        quant_pre_process(str(onnx_path), str(pre))  # shape inference + graph clean-up first
        # ConvInteger on ONNX Runtime's CPU provider takes uint8 weights
        quantize_dynamic(str(pre), str(tmp), weight_type=QuantType.QUInt8)
        tmp.replace(out)
        pre.unlink()
    return out


def spread_random_head(model: AMD, logit_std: float = 4.0) -> AMD:
    """Make a randomly initialised model's segmentation vary across the image.

    With the raw random init (BatchNorm at identity, small classifier weights and a bias
    that dominates), every pixel of every image gets the same segment, so a mask IoU
    against fp32 would be 1.0 whatever a runtime does. Zeroing the classifier bias and
    rescaling its weights to a logit std of ``logit_std`` over pixels gives spatially
    varying masks with plenty of near-ties: a strict probe of numerical agreement.
    """
    head = model.appearance.head.conv_seg
    with torch.no_grad():
        head.bias.zero_()
        logits = model.appearance(torch.from_numpy(synthetic_images(2, 120, 200, seed=5)))
        head.weight.mul_(logit_std / float(logits.std(dim=(0, 2, 3)).mean().clamp_min(1e-12)))
    return model


def runtimes(model: AMD, args: argparse.Namespace) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Name → ``logits(batch)`` of every runtime available here (eager fp32 first)."""
    found: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "torch eager fp32 (CPU)": TorchBackend(copy.deepcopy(model), device="cpu").logits,
        "torch channels-last fp32 (CPU)": TorchBackend(
            copy.deepcopy(model), device="cpu", channels_last=True
        ).logits,
    }
    if onnxruntime_importable():
        graph = cached_onnx(ExportOptions(output="logits"), model)
        found["onnxruntime fp32 (CPU)"] = OnnxRuntimeBackend(graph, threads=args.threads).logits
        if not args.skip_int8:
            found["onnxruntime int8 dynamic (CPU)"] = OnnxRuntimeBackend(
                quantized_int8(graph), threads=args.threads
            ).logits
    if torch.cuda.is_available():
        found["torch eager fp32 (GPU)"] = TorchBackend(copy.deepcopy(model), device="cuda").logits
        compiled = TorchBackend(copy.deepcopy(model), device="cuda", half=True, compile=True)
        found["torch compiled fp16 (GPU)"] = compiled.logits
        try:
            require_tensorrt()
            if args.engine:
                engine = TensorRTBackend(args.engine)
            else:
                from trt.cache import cached_engine

                engine = TensorRTBackend(cached_engine(model))
            found[f"{engine.name} (GPU)"] = engine.logits
        except TensorRTUnavailable as err:
            print(f"# TensorRT skipped: {err}")
    return found


def time_frames(
    run: Callable[[np.ndarray], np.ndarray], frames: np.ndarray, batch: int
) -> tuple[float, np.ndarray]:
    """(seconds for all frames, their logits)."""
    outputs = []
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        outputs.append(run(frames[i : i + batch]))
    return time.perf_counter() - start, np.concatenate(outputs)


def measure_size(
    found: dict[str, Callable[[np.ndarray], np.ndarray]],
    frames: np.ndarray,
    batch: int,
    rounds: int,
) -> dict[str, tuple[float, np.ndarray]]:
    """Name → (frames/s, logits), best of ``rounds`` interleaved rounds after a warm-up call.

    Rounds are interleaved (every runtime once per round) and the fastest round counts, so
    load from other processes on a shared machine penalises all runtimes alike and as
    little as possible.
    """
    for run in found.values():
        run(frames[:batch])
    best: dict[str, float] = {}
    logits: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, run in found.items():
            seconds, logits[name] = time_frames(run, frames, batch)
            best[name] = min(best.get(name, float("inf")), seconds)
    return {name: (len(frames) / best[name], logits[name]) for name in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="checkpoint (default: ResNet-50 with random weights)")
    parser.add_argument("--backbone", default="resnet50", choices=("resnet50", "resnet18", "small"))
    parser.add_argument("--sizes", default="392x696,240x432", help="comma-separated HxW")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per runtime and size")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved timing rounds (best counts)"
    )
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch and ONNX Runtime")
    parser.add_argument(
        "--engine", type=Path, help="TensorRT engine (default: build/reuse a cached one)"
    )
    parser.add_argument("--skip-int8", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.checkpoint:
        model = load_model(args.checkpoint, device="cpu").model
    else:
        model = spread_random_head(AMD(ModelConfig(backbone=args.backbone)).eval())
    print(
        f"# {platform.machine()} {platform.processor() or ''} cpus={torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}, "
        f"frames={args.frames} batch={args.batch} rounds={args.rounds}, "
        f"model: {args.checkpoint or args.backbone + ' (random weights, spread head)'}, cache {cache_root()}"
    )
    found = runtimes(model, args)
    print("| size | runtime | frames/s | × eager fp32 | mask IoU vs fp32 | max abs Δp |")
    print("|---|---|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        _, height, width = parse_shape(f"1x{size}")
        frames = synthetic_images(args.frames, height, width, seed=11)
        base_fps, base = None, None
        for name, (fps, logits) in measure_size(found, frames, args.batch, args.rounds).items():
            probs = softmax(logits)
            if base is None:
                base_fps, base = fps, probs
            parity = compare_probabilities(base, probs)
            note = " (below IoU 0.98: not usable)" if parity.mask_iou < USABLE_IOU else ""
            print(
                f"| {height}×{width} | {name}{note} | {fps:.3f} | {fps / base_fps:.2f} | "
                f"{parity.mask_iou:.4f} | {parity.max_abs_diff:.1e} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
