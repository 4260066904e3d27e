"""Inference throughput of every available runtime, side by side in one run.

For each model and input size, every runtime segments the same real frames (from clips
held out of int8 calibration); the table gives frames/s, the ratio to PyTorch eager fp32
measured in this run on this machine, and agreement with it (mask IoU of the argmax
segmentations, max |Δp| of the probabilities).

CPU runtimes: PyTorch eager fp32, ONNX Runtime fp32, OpenVINO fp32, and calibrated int8
(OpenVINO + NNCF with accuracy control; ONNX Runtime static QDQ per-channel), each int8 model
labelled with its acceptance check (held-out mask IoU ≥ 0.98 against fp32, see
``trt/quantize.py``); the fastest accepted one is the "best int8". On a GPU also PyTorch
eager fp32, compiled fp16 and TensorRT (when installed, or an ``--engine`` is given).

``--clip`` adds the end-to-end rate of ``amd-segment`` on the first ``--clip-frames`` frames
of a real video with each CPU runtime: decoding, inference, and writing masks, heatmaps and
the overlay video, after the runtime is built; and with ``backend="auto"`` as a user gets it
once the accepted int8 models are in its cache (the row names what auto took).

    python benchmarks/inference.py --models resnet50,synthetic-small \\
        --clip ../shared/data/real-video/sam2/04_coffee.mp4 --json benchmarks/results/cpu_inference.json
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from inference_end_to_end import auto_backend, end_to_end, trimmed_clip
from inference_int8 import HELDOUT_CLIPS, REAL_VIDEO, clips, int8_models
from PIL import Image

from amd_plugin import AMD, ModelConfig, load_model
from amd_plugin.backends import InferenceBackend, TorchBackend
from amd_plugin.io.video import iter_frames
from amd_plugin.predictor import prepare_image
from trt.backend_choice import onnxruntime_importable
from trt.cache import cached_onnx
from trt.engine import TensorRTUnavailable, parse_shape, require_tensorrt
from trt.export import ExportOptions
from trt.graph_output import INT8_MIN_IOU
from trt.openvino_runtime import OpenVINOBackend, openvino_importable
from trt.parity import compare_probabilities, softmax, synthetic_images
from trt.runtimes import OnnxRuntimeBackend, TensorRTBackend


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


def load_benchmark_model(spec: str) -> tuple[AMD, str, int]:
    """(model, label, foreground channel) for ``resnet50``/``small`` (random) or a checkpoint."""
    if spec in ("resnet50", "resnet18", "small"):
        torch.manual_seed(0)
        model = spread_random_head(AMD(ModelConfig(backbone=spec)).eval())
        return model, f"{spec} (random weights, spread head)", 1
    loaded = load_model(spec, device="cpu")
    fg = loaded.foreground_channel
    return loaded.model.eval(), f"{spec} (trained, {loaded.model.cfg.backbone})", (fg or 0)


def frames_at(paths: list[Path], count: int, height: int, width: int) -> np.ndarray:
    """``count`` frames spread over ``paths``, resized to exactly ``height×width``."""
    per_clip = -(-count // len(paths))
    out = []
    for path in paths:
        for _, frame in itertools.islice(iter_frames(path, 7), per_clip):
            image = np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))
            out.append(prepare_image(image, None))
    return np.stack(out[:count])


def cpu_runtimes(model: AMD, int8: list[dict], args) -> dict[str, InferenceBackend]:
    """Label → backend of every CPU runtime available here (eager fp32 first)."""
    found: dict[str, InferenceBackend] = {
        "torch eager fp32": TorchBackend(copy.deepcopy(model), device="cpu")
    }
    graph = None
    if onnxruntime_importable():
        graph = cached_onnx(ExportOptions(output="logits"), model)
        found["onnxruntime fp32"] = OnnxRuntimeBackend(graph, threads=args.threads)
    if openvino_importable():
        found["openvino fp32"] = OpenVINOBackend(graph or model, threads=args.threads)
    for record in int8:
        label = (
            f"{record['method']} int8 ({record['int8_convolutions']} convs int8, held-out "
            f"IoU {record['heldout_mask_iou']}"
        )
        verdict = "accepted" if record["int8_accepted"] == "true" else "NOT accepted"
        if record.get("precision") == "fp32":
            verdict += " but all fp32"  # accuracy control reverted every layer
        label += f", {verdict})"
        kind = OpenVINOBackend if record["path"].endswith(".xml") else OnnxRuntimeBackend
        found[label] = kind(record["path"], threads=args.threads, allow_rejected=True)
    return found


def gpu_runtimes(model: AMD, args) -> dict[str, InferenceBackend]:
    found: dict[str, InferenceBackend] = {
        "torch eager fp32 (GPU)": TorchBackend(copy.deepcopy(model), device="cuda"),
        "torch compiled fp16 (GPU)": TorchBackend(
            copy.deepcopy(model), device="cuda", half=True, compile=True
        ),
    }
    try:
        require_tensorrt()
        if args.engine:
            engine = TensorRTBackend(args.engine)
        else:
            from trt.cache import cached_engine

            engine = TensorRTBackend(cached_engine(model))
        found[f"{engine.name} (GPU)"] = engine
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
    found: dict[str, InferenceBackend], frames: np.ndarray, batch: int, rounds: int
) -> dict[str, tuple[float, np.ndarray]]:
    """Name → (frames/s, logits), best of ``rounds`` interleaved rounds after a warm-up call.

    Rounds are interleaved (every runtime once per round) and the fastest round counts, so
    load from other processes on a shared machine penalises all runtimes alike and as
    little as possible.
    """
    for backend in found.values():
        backend.logits(frames[:batch])
    best: dict[str, float] = {}
    logits: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, backend in found.items():
            seconds, logits[name] = time_frames(backend.logits, frames, batch)
            best[name] = min(best.get(name, float("inf")), seconds)
    return {name: (len(frames) / best[name], logits[name]) for name in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models",
        default="resnet50,synthetic-small",
        help="comma-separated: resnet50/resnet18/small (random weights) or checkpoints",
    )
    parser.add_argument("--sizes", default="240x432,392x696", help="comma-separated HxW")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per runtime and size")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved timing rounds (best counts)"
    )
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch and the runtimes")
    parser.add_argument(
        "--engine", type=Path, help="TensorRT engine (default: build/reuse a cached one)"
    )
    parser.add_argument("--data", type=Path, default=REAL_VIDEO, help="the real-video folder")
    parser.add_argument("--skip-int8", action="store_true")
    parser.add_argument("--calibration-per-clip", type=int, default=4)
    parser.add_argument("--heldout-per-clip", type=int, default=2)
    parser.add_argument(
        "--max-drops",
        action="append",
        default=[],
        metavar="[MODEL=]DROP[,DROP...]",
        help="NNCF accuracy-control tolerances (mask IoU drop on the validation frames), one "
        "OpenVINO int8 model each; 'none' quantises every layer (no accuracy control); "
        "MODEL= limits it to one model (default for all: 0.02)",
    )
    parser.add_argument("--clip", type=Path, help="real video for the end-to-end rate")
    parser.add_argument("--clip-frames", type=int, default=24)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="# %(message)s")
    for noisy in ("onnx_ir", "onnxscript", "nncf", "trt.cache", "trt.export"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    header = (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), GPU: "
        f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}, "
        f"frames={args.frames} batch={args.batch} rounds={args.rounds}"
    )
    print(f"# {header}\n# load average at start: {os.getloadavg()}")
    report: dict = {"machine": header, "date": time.strftime("%Y-%m-%d"), "models": []}
    for spec in args.models.split(","):
        model, label, fg = load_benchmark_model(spec)
        load_before = os.getloadavg()
        int8 = int8_models(model, spec, args)
        found = cpu_runtimes(model, int8, args)
        if torch.cuda.is_available():
            found.update(gpu_runtimes(model, args))
        accepted = [r for r in found if r.endswith(", accepted)")]
        rows = []
        print(f"\n## {label}\n")
        print("| size | runtime | frames/s | × eager fp32 | mask IoU vs fp32 | max abs Δp |")
        print("|---|---|---:|---:|---:|---:|")
        for size in args.sizes.split(","):
            _, height, width = parse_shape(f"1x{size}")
            frames = frames_at(clips(HELDOUT_CLIPS, args.data), args.frames, height, width)
            measured = measure_size(found, frames, args.batch, args.rounds)
            base_fps, base = None, None
            for name, (fps, logits) in measured.items():
                probs = softmax(logits)
                if base is None:
                    base_fps, base = fps, probs
                parity = compare_probabilities(base, probs)
                rows.append(
                    {
                        "size": size,
                        "runtime": name,
                        "fps": fps,
                        "x_eager": fps / base_fps,
                        "mask_iou": parity.mask_iou,
                        "max_abs_dp": parity.max_abs_diff,
                    }
                )
                print(
                    f"| {height}×{width} | {name} | {fps:.3f} | {fps / base_fps:.2f} | "
                    f"{parity.mask_iou:.4f} | {parity.max_abs_diff:.1e} |",
                    flush=True,
                )
        best = max(
            (
                r
                for r in rows
                if r["runtime"] in accepted and r["size"] == args.sizes.split(",")[-1]
            ),
            key=lambda r: r["fps"],
            default=None,
        )
        e2e = []
        if args.clip:
            e2e_runtimes = {k: v for k, v in found.items() if "int8" not in k or k in accepted}
            with tempfile.TemporaryDirectory() as tmp:
                auto = auto_backend(model, int8, Path(tmp) / "cache", args.threads)
                e2e_runtimes[f"auto (took {auto.name})"] = auto
                clip = trimmed_clip(args.clip, args.clip_frames, Path(tmp))
                e2e = end_to_end(model, e2e_runtimes, clip, fg, args)
            print(f"\n| end-to-end amd-segment, {args.clip.name}, {args.clip_frames} frames "
                  "| frames/s | × eager |\n|---|---:|---:|")  # fmt: skip
            for row in e2e:
                print(f"| {row['runtime']} | {row['fps']:.3f} | {row['x_eager']:.2f} |")
        report["models"].append(
            {
                "model": label,
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "int8": int8,
                "min_iou": INT8_MIN_IOU,
                "best_int8": best["runtime"] if best else None,
                "rows": rows,
                "end_to_end": e2e,
                "clip": str(args.clip) if args.clip else None,
            }
        )
        print(f"# load average after {label}: {os.getloadavg()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
