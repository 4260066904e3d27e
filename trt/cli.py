"""``amd-trt``: export the appearance network to ONNX, build TensorRT engines, check parity.

    amd-trt export --checkpoint CKPT --out model.onnx [--fp16] [--output masks] [--upsample]
    amd-trt build  --checkpoint CKPT --out model.engine [--onnx G] [--min 1x256x256 ...]
    amd-trt check  --checkpoint CKPT [--engine model.engine]
    amd-trt quantize --checkpoint CKPT --method openvino --calibrate CLIP ... --heldout CLIP ...
                     [--out model.int8.xml]

Missing TensorRT or CUDA ends ``build`` with exit code 2 and a one-line error; ``check``
reports it and still runs the ONNX Runtime and OpenVINO parity/throughput checks on CPU.
``quantize`` writes a calibrated int8 model with its acceptance check (held-out mask IoU
against fp32) in its metadata and exits 1 when the check fails (see :mod:`trt.quantize`);
without ``--out`` it goes to the cache, where ``backend="auto"`` finds it for these weights.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from amd_plugin.backends import TorchBackend
from amd_plugin.checkpoint import CheckpointError, file_sha256, load_model, resolve_checkpoint_path
from trt.engine import EngineBuildError, ShapeProfile, TensorRTUnavailable, parse_shape
from trt.export import ExportOptions, export_onnx
from trt.metadata import EngineMismatch
from trt.openvino_runtime import OpenVINOUnavailable
from trt.parity import compare_probabilities, measure_fps, softmax, synthetic_images


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amd-trt", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ckpt_help = "checkpoint path or built-in name (e.g. synthetic-small)"

    exp = sub.add_parser("export", help="export the appearance network to ONNX (+ parity check)")
    exp.add_argument("--checkpoint", required=True, help=ckpt_help)
    exp.add_argument("--out", required=True, type=Path, help="output .onnx")
    exp.add_argument(
        "--fp16", action="store_true", help="fp16 graph, fp32 inputs/outputs (TensorRT 11)"
    )
    exp.add_argument("--output", choices=("masks", "logits", "foreground"), default="masks")
    exp.add_argument(
        "--upsample", action="store_true", help="resize the output ×8 to the input size"
    )
    exp.add_argument(
        "--height", type=int, default=96, help="tracing example height (dims stay dynamic)"
    )
    exp.add_argument(
        "--width", type=int, default=160, help="tracing example width (must differ from height)"
    )
    exp.add_argument("--batch", type=int, default=2, help="tracing example batch (>= 2)")

    bld = sub.add_parser("build", help="build a TensorRT engine (needs TensorRT and an NVIDIA GPU)")
    bld.add_argument("--checkpoint", required=True, help=ckpt_help)
    bld.add_argument(
        "--out", required=True, type=Path, help="output .engine (metadata: <out>.json)"
    )
    bld.add_argument(
        "--onnx", type=Path, help="existing graph (default: export the logits graph to <out>.onnx)"
    )
    defaults = ShapeProfile()
    for which in ("min", "opt", "max"):
        value = "x".join(map(str, getattr(defaults, which)))
        bld.add_argument(
            f"--{which}", default=value, help=f"{which} BATCHxHEIGHTxWIDTH (default {value})"
        )
    bld.add_argument("--workspace-gb", type=float, default=4.0)
    bld.add_argument(
        "--timing-cache", default="auto", help="timing cache file, 'auto' (per GPU) or 'none'"
    )
    precision = bld.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp16", dest="fp16", action="store_true", default=True, help="fp16 engine (default)"
    )
    precision.add_argument("--fp32", dest="fp16", action="store_false", help="fp32 engine")
    bld.add_argument("--optimization-level", type=int, default=3, choices=range(6))
    bld.add_argument("--version-compatible", action="store_true")
    bld.add_argument("--hardware-compatibility", choices=("ampere_plus", "same_compute_capability"))

    chk = sub.add_parser(
        "check", help="parity and throughput of TensorRT / ONNX Runtime vs PyTorch"
    )
    chk.add_argument("--checkpoint", required=True, help=ckpt_help)
    chk.add_argument(
        "--engine", type=Path, help="engine to check (default: build or reuse a cached one)"
    )
    chk.add_argument("--height", type=int, default=240)
    chk.add_argument("--width", type=int, default=432)
    chk.add_argument("--batch", type=int, default=2)
    chk.add_argument("--iterations", type=int, default=3, help="timed calls per runtime")
    chk.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    chk.add_argument(
        "--min-iou", type=float, default=0.98, help="fail (exit 1) below this mask IoU"
    )

    qnt = sub.add_parser(
        "quantize", help="calibrated int8 for CPU runtimes, accepted only if masks stay"
    )
    qnt.add_argument("--checkpoint", required=True, help=ckpt_help)
    qnt.add_argument("--method", choices=("openvino", "onnxruntime"), default="openvino")
    qnt.add_argument(
        "--calibrate", nargs="+", required=True, help="videos for calibration + validation"
    )
    qnt.add_argument(
        "--heldout", nargs="+", required=True, help="other videos, for the acceptance check"
    )
    qnt.add_argument(
        "--out",
        type=Path,
        help="output .xml (openvino) or .onnx; default: the cache, where backend 'auto' "
        "finds it for these weights",
    )
    qnt.add_argument("--frames-per-clip", type=int, default=8, help="calibration+validation")
    qnt.add_argument("--heldout-per-clip", type=int, default=4)
    qnt.add_argument("--short-side", type=int, default=392, help="inference resolution")
    qnt.add_argument("--min-iou", type=float, default=0.98, help="acceptance threshold")
    qnt.add_argument(
        "--no-accuracy-control",
        action="store_true",
        help="quantise every layer it can (onnxruntime keeps the classifier fp32), whatever the IoU",
    )
    return parser


def cmd_export(args: argparse.Namespace) -> int:
    loaded = load_model(args.checkpoint, device="cpu")
    fg = loaded.foreground_channel
    if args.output == "foreground" and fg is None:
        raise ValueError(
            f"{args.checkpoint}: checkpoint stores no foreground channel; use --output masks"
        )
    options = ExportOptions(
        output=args.output,
        upsample=args.upsample,
        fp16=args.fp16,
        foreground_channel=fg if args.output == "foreground" else None,
        example_shape=(args.batch, args.height, args.width),
    )
    sha = file_sha256(resolve_checkpoint_path(args.checkpoint))
    result = export_onnx(
        loaded.model, args.out, options, checkpoint_sha256=sha, foreground_channel=fg
    )
    print(f"wrote {result.path} ({result.seconds:.1f} s); ONNX Runtime vs PyTorch: {result.parity}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from trt.engine import build_engine, require_tensorrt

    require_tensorrt()  # before a long export: exit 2 at once on a machine without TensorRT/GPU
    profile = ShapeProfile(parse_shape(args.min), parse_shape(args.opt), parse_shape(args.max))
    sha = file_sha256(resolve_checkpoint_path(args.checkpoint))
    onnx_path = args.onnx
    if onnx_path is None:
        loaded = load_model(args.checkpoint, device="cpu")
        onnx_path = args.out.with_suffix(".onnx")
        options = ExportOptions(output="logits", fp16=args.fp16)
        export_onnx(
            loaded.model,
            onnx_path,
            options,
            checkpoint_sha256=sha,
            foreground_channel=loaded.foreground_channel,
        )
    timing = None if args.timing_cache.lower() == "none" else args.timing_cache
    meta = build_engine(
        onnx_path,
        args.out,
        profile=profile,
        fp16=args.fp16,
        workspace_gb=args.workspace_gb,
        timing_cache=timing,
        optimization_level=args.optimization_level,
        version_compatible=args.version_compatible,
        hardware_compatibility=args.hardware_compatibility,
        checkpoint_sha256=sha,
    )
    print(
        f"wrote {args.out} for {meta['gpu_name']} (TensorRT {meta['tensorrt_version']}, {meta['precision']})"
    )
    return 0


def report(
    label: str, reference: np.ndarray, logits: np.ndarray, fps: float, ref_fps: float
) -> float:
    """Print one runtime's parity and speed vs the reference; returns its mask IoU."""
    parity = compare_probabilities(softmax(reference), softmax(logits))
    print(
        f"{label}: {parity}; {fps:.2f} frames/s vs PyTorch eager {ref_fps:.2f} ({fps / ref_fps:.2f}×)"
    )
    return parity.mask_iou


def cmd_check(args: argparse.Namespace) -> int:
    import torch

    from trt.backend_choice import make_backend, onnxruntime_importable
    from trt.engine import require_tensorrt
    from trt.openvino_runtime import INSTALL_HINT, openvino_importable
    from trt.runtimes import TensorRTBackend

    loaded = load_model(args.checkpoint, device="cpu")
    images = synthetic_images(args.batch, args.height, args.width, seed=3)
    ious = []
    try:
        require_tensorrt()
        trt_ok = True
    except TensorRTUnavailable as err:
        print(f"TensorRT: not available here ({err}); checking ONNX Runtime on CPU instead")
        trt_ok = False
    if trt_ok:
        backend = (
            TensorRTBackend(args.engine)
            if args.engine
            else make_backend("tensorrt", model=loaded.model, checkpoint=args.checkpoint)
        )
        eager = TorchBackend(loaded.model, device="cuda")
        reference = eager.logits(images)
        ref_fps = measure_fps(eager.logits, images, args.iterations)
        fps = measure_fps(backend.logits, images, args.iterations)
        ious.append(
            report(
                f"{backend.name} ({torch.cuda.get_device_name()})",
                reference,
                backend.logits(images),
                fps,
                ref_fps,
            )
        )
        loaded.model.cpu()
    cpu_runtimes = (
        (
            "onnxruntime",
            onnxruntime_importable,
            "ONNX Runtime: not installed (pip install onnxruntime)",
        ),
        ("openvino", openvino_importable, f"OpenVINO: not installed ({INSTALL_HINT})"),
    )
    cpu_eager = None  # eager CPU logits and frames/s: one reference for every CPU runtime
    for name, importable, missing in cpu_runtimes:
        if not importable():
            print(missing)
            continue
        backend = make_backend(
            name, model=loaded.model, checkpoint=args.checkpoint, threads=args.threads
        )
        if cpu_eager is None:
            eager = TorchBackend(loaded.model, device="cpu")
            cpu_eager = (eager.logits(images), measure_fps(eager.logits, images, args.iterations))
        reference, ref_fps = cpu_eager
        fps = measure_fps(backend.logits, images, args.iterations)
        ious.append(
            report(f"{backend.name} (CPU)", reference, backend.logits(images), fps, ref_fps)
        )
    if not ious:
        raise TensorRTUnavailable("neither TensorRT, ONNX Runtime nor OpenVINO can run here")
    if min(ious) < args.min_iou:
        print(f"FAILED: mask IoU {min(ious):.4f} < {args.min_iou}")
        return 1
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from trt.cache import INT8_SUFFIXES, int8_cache_path, store_int8_in_cache
    from trt.quantize import quantize_openvino, sample_frames, split_alternate
    from trt.quantize_ort import quantize_onnxruntime

    overlap = {Path(c).resolve() for c in args.calibrate} & {
        Path(c).resolve() for c in args.heldout
    }
    if overlap:
        raise ValueError(
            f"held-out clips must not be calibration clips: {sorted(map(str, overlap))}"
        )
    suffix = INT8_SUFFIXES[args.method]
    if args.out is not None and args.out.suffix != suffix:
        raise ValueError(f"{args.out}: --method {args.method} writes a {suffix} file")
    loaded = load_model(args.checkpoint, device="cpu")
    # without --out: written under a temporary name, then moved into the cache
    target = None if args.out else int8_cache_path(loaded.model, args.method)
    out = args.out or target.with_name(f"{target.stem}.new{target.suffix}")
    calibration, validation = split_alternate(
        sample_frames(args.calibrate, args.frames_per_clip, args.short_side)
    )
    heldout = sample_frames(args.heldout, args.heldout_per_clip, args.short_side)
    provenance = {
        "checkpoint_sha256": file_sha256(resolve_checkpoint_path(args.checkpoint)),
        "calibration_clips": ",".join(Path(c).name for c in args.calibrate),
        "heldout_clips": ",".join(Path(c).name for c in args.heldout),
        "foreground_channel": ""
        if loaded.foreground_channel is None
        else str(loaded.foreground_channel),
    }
    if args.method == "openvino":
        result = quantize_openvino(
            loaded.model,
            out,
            calibration,
            validation,
            heldout,
            min_iou=args.min_iou,
            max_drop=1.0 - args.min_iou,
            provenance=provenance,
            accuracy_control=not args.no_accuracy_control,
        )
    else:
        result = quantize_onnxruntime(
            loaded.model,
            out,
            calibration,
            validation,
            heldout,
            min_iou=args.min_iou,
            accuracy_control=not args.no_accuracy_control,
            provenance=provenance,
        )
    if target is not None:
        result = replace(result, path=store_int8_in_cache(result.path, target, result.accepted))
    print(result)
    if target is not None and result.accepted:
        print(f"stored in the cache: backend 'auto' times it against the fp32 runtimes ({target})")
    elif target is not None and result.path != target:
        print(
            f"the int8 model already in the cache stays ({target}); this rejected one is beside it"
        )
    return 0 if result.accepted else 1


def setup_logging() -> None:
    """Progress messages of the ``trt`` modules to stderr (once, however often main runs)."""
    logger = logging.getLogger("trt")
    if not any(getattr(h, "amd_trt", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[amd-trt] %(message)s"))
        handler.amd_trt = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2: TensorRT/CUDA missing, 1: other errors)."""
    args = build_parser().parse_args(argv)
    setup_logging()
    commands = {
        "export": cmd_export,
        "build": cmd_build,
        "check": cmd_check,
        "quantize": cmd_quantize,
    }
    try:
        return commands[args.command](args)
    except (TensorRTUnavailable, OpenVINOUnavailable) as err:
        print(f"amd-trt: error: {err}", file=sys.stderr)
        return 2
    except (
        CheckpointError,
        EngineBuildError,
        EngineMismatch,
        FileNotFoundError,
        ValueError,
    ) as err:
        print(f"amd-trt: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
