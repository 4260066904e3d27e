"""Choosing and building a runtime by name: :func:`make_backend` (the factory behind the
``amd_objectness.backends`` entry points) and the ``auto`` rule (:func:`choose_backend`,
:func:`verify_backend`, :func:`probe_seconds`).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import torch

from amd_plugin.backends import InferenceBackend, TorchBackend, resolve_device
from amd_plugin.checkpoint import load_model
from amd_plugin.modeling.amd import AMD
from trt.cache import cached_engine, cached_int8_models, cached_onnx
from trt.engine import TensorRTUnavailable, tensorrt_importable
from trt.export import ExportOptions
from trt.graph_output import INT8_MIN_IOU, RejectedModel
from trt.metadata import EngineMismatch
from trt.openvino_runtime import (
    OpenVINOBackend,
    OpenVINOUnavailable,
    openvino_importable,
    require_openvino,
)
from trt.parity import compare_probabilities, softmax, synthetic_images
from trt.runtimes import OnnxRuntimeBackend, TensorRTBackend

LOG = logging.getLogger(__name__)


def choose_backend(
    engine_given: bool,
    tensorrt_importable: bool,
    cuda_available: bool,
    onnxruntime_importable: bool,
    openvino_importable: bool = False,
) -> list[str]:
    """The ``auto`` candidates, in order.

    On a GPU the first that builds and passes :func:`verify_backend` runs: a given engine
    when TensorRT is there, else compiled half-precision PyTorch. On a CPU, every installed
    runtime among OpenVINO and ONNX Runtime that builds and passes is timed on this machine
    (:func:`probe_seconds`) and the fastest runs: measured in ``benchmarks/inference.py``
    they are within 2–20% of each other and which one leads depends on the model, the size
    and the load. Eager PyTorch closes the list (the fallback). :func:`make_backend` adds
    the calibrated int8 models of the same weights found in the cache to the CPU timing.
    """
    order = []
    if engine_given and tensorrt_importable and cuda_available:
        order.append("tensorrt")
    if cuda_available:
        order.append("torch-compiled")
    else:
        if openvino_importable:
            order.append("openvino")
        if onnxruntime_importable:
            order.append("onnxruntime")
    order.append("torch")
    return order


def onnxruntime_importable() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def onnx_export_importable() -> bool:
    """Whether this machine can export ONNX graphs (``onnx`` and ``onnxscript``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))


def _require_model(model: AMD | None, checkpoint: str | Path | None, what: str) -> AMD:
    if model is not None:
        return model
    if checkpoint is None:
        raise ValueError(f"the {what} backend needs a model or a checkpoint")
    return load_model(checkpoint, device="cpu").model


def verify_backend(
    backend: InferenceBackend, model: AMD, min_iou: float = INT8_MIN_IOU
) -> float | None:
    """Mask IoU of ``backend`` against eager fp32 PyTorch on two small synthetic images.

    Returns the IoU, or ``None`` when it is below ``min_iou`` (or the shapes differ). int8
    models are not probed here: their held-out acceptance check (real frames, more of them)
    is read from their metadata instead, so one accepted with a laxer ``--min-iou`` than
    ``min_iou`` does not pass.
    """
    meta = getattr(backend, "metadata", {})
    if meta.get("int8_accepted") == "true":
        iou = float(meta.get("heldout_mask_iou", "nan"))
        return iou if iou >= min_iou else None
    images = synthetic_images(2, 64, 96, seed=4)
    net = copy.deepcopy(model.appearance).float().cpu().eval()  # the caller's stays put
    with torch.inference_mode():
        reference = net(torch.from_numpy(images)).numpy()
    got = backend.logits(images)
    if got.shape != reference.shape:
        return None
    iou = compare_probabilities(softmax(reference), softmax(got)).mask_iou
    return iou if iou >= min_iou else None


def make_backend(
    name: str,
    model: AMD | None = None,
    checkpoint: str | Path | None = None,
    engine: str | Path | None = None,
    onnx: str | Path | None = None,
    ir: str | Path | None = None,
    device: str | torch.device = "auto",
    threads: int | None = None,
    cache_dir: str | Path | None = None,
    check_metadata: bool = True,
    allow_rejected: bool = False,
    **options: Any,
) -> InferenceBackend:
    """Build a runtime by name: ``onnxruntime``, ``openvino``, ``tensorrt``,
    ``torch-compiled``, ``torch`` or ``auto``.

    This is the factory behind the ``amd_objectness.backends`` entry points, so
    ``Segmenter(..., backend=name, **options)`` lands here with the same arguments.

    Args:
        name: which runtime. ``auto``: of :func:`choose_backend`'s candidates that build
            and agree with eager PyTorch (:func:`verify_backend`), on a GPU the first, on a
            CPU the fastest on this machine (:func:`probe_seconds`; an ``ir`` given makes
            it OpenVINO), timing the fp32 runtimes together with the accepted int8 models
            of these weights in the cache (``amd-trt quantize`` without ``--out``) when no
            file is given; the choice is logged and is the backend's ``name``.
        model, checkpoint: the weights (a checkpoint is loaded only when needed).
        engine: TensorRT engine; without one, ``tensorrt`` builds (and caches) an engine.
        onnx: ONNX graph for ``onnxruntime`` (or ``openvino``); without one the model is
            exported to the cache. An int8 graph from ``amd-trt quantize`` goes here too.
        ir: OpenVINO IR (``.xml``) for ``openvino``, e.g. an int8 model from
            ``amd-trt quantize``; without ``ir`` or ``onnx`` the cached ONNX export is read
            (or, without the ONNX packages, the PyTorch model is converted directly).
        device: ``auto``/``cpu``/``cuda[:N]``; ``cpu`` rules out the GPU runtimes.
        threads: ONNX Runtime / OpenVINO threads.
        cache_dir: export/engine cache (default ``~/.cache/amd-objectness``).
        check_metadata: refuse engines built for another GPU/TensorRT (default).
        allow_rejected: run an int8 model whose acceptance check failed.
        options: ``half``/``compile``/``channels_last`` for the PyTorch runtimes, and
            ``profile``/``fp16``/``workspace_gb``… for engines built on the fly.
    """
    torch_keys = {"half", "compile", "channels_last"}
    build_keys = {"profile", "fp16", "workspace_gb", "timing_cache", "optimization_level"}
    unknown = set(options) - torch_keys - build_keys
    if unknown:
        raise TypeError(
            f"unknown backend option(s) {sorted(unknown)}; known: {sorted(torch_keys | build_keys)}"
        )
    files = {"engine": engine, "onnx": onnx, "ir": ir}
    common = {
        "model": model,
        "checkpoint": checkpoint,
        "device": device,
        "threads": threads,
        "cache_dir": cache_dir,
        "check_metadata": check_metadata,
        "allow_rejected": allow_rejected,
    }
    if name != "auto":
        return _build(name, files, common, options)
    cuda = torch.cuda.is_available() and resolve_device(device).type == "cuda"
    candidates = choose_backend(
        engine is not None,
        tensorrt_importable(),
        cuda,
        onnxruntime_importable(),
        openvino_importable(),
    )
    weights = _require_model(model, checkpoint, "auto")
    common["model"] = weights
    runs = [(choice, files, False) for choice in candidates if choice != "torch"]
    if not cuda and not any(files.values()):
        runs += _cached_int8_runs(weights, candidates, files, cache_dir)
    verified: list[InferenceBackend] = []
    for choice, choice_files, cached_int8 in runs:
        try:
            backend = _build(choice, choice_files, common, options)
        except (
            TensorRTUnavailable,
            EngineMismatch,
            OpenVINOUnavailable,
            RejectedModel,
            ImportError,
        ) as err:
            LOG.warning("auto backend: not using %s: %s", choice, err)
            continue
        if verify_backend(backend, weights) is None:
            LOG.warning(
                "auto backend: %s disagrees with eager PyTorch (mask IoU < %s), not using it",
                backend.name,
                INT8_MIN_IOU,
            )
            continue
        if cached_int8 and backend.metadata.get("precision") != "int8":
            LOG.info("auto backend: %s has no int8 layer left, skipping it", backend.path)
            continue
        verified.append(backend)
        # GPU runtimes come in a fixed order; a given OpenVINO model is what was asked for
        if cuda or (choice == "openvino" and ir is not None):
            break
    if not verified:
        LOG.info("auto backend: torch")
        return _build("torch", files, common, options)
    if len(verified) == 1:
        LOG.info("auto backend: %s", verified[0].name)
        return verified[0]
    seconds = [probe_seconds(backend) for backend in verified]
    fastest = verified[seconds.index(min(seconds))]
    LOG.info(
        "auto backend: %s (%s per %d×%d frame)",
        fastest.name,
        ", ".join(f"{b.name} {t:.3f} s" for b, t in zip(verified, seconds)),
        *AUTO_PROBE_SIZE,
    )
    return fastest


def _cached_int8_runs(
    weights: AMD, candidates: list[str], files: dict[str, Any], cache_dir: str | Path | None
) -> list[tuple[str, dict[str, Any], bool]]:
    """The calibrated int8 models of these weights that ``amd-trt quantize`` left in the
    cache, as ``(runtime, files, True)`` for the runtimes among ``candidates``."""
    return [
        (runtime, {**files, "ir" if runtime == "openvino" else "onnx": path}, True)
        for runtime, path in cached_int8_models(weights, cache_dir).items()
        if runtime in candidates
    ]


# the frame size auto times the CPU runtimes on: the default inference size of a 16:9 video
AUTO_PROBE_SIZE = (392, 696)


def probe_seconds(backend: InferenceBackend, repeats: int = 2) -> float:
    """Best-of-``repeats`` seconds of one ``backend.logits`` call on a frame of
    :data:`AUTO_PROBE_SIZE`, after a warm-up call."""
    frame = synthetic_images(1, *AUTO_PROBE_SIZE, seed=6)
    backend.logits(frame)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        backend.logits(frame)
        best = min(best, time.perf_counter() - start)
    return best


def _build(
    name: str, files: dict[str, Any], common: dict[str, Any], options: dict[str, Any]
) -> InferenceBackend:
    """One named runtime (see :func:`make_backend` for the arguments)."""
    model, checkpoint, device = common["model"], common["checkpoint"], common["device"]
    threads, cache_dir = common["threads"], common["cache_dir"]
    torch_opts = {k: v for k, v in options.items() if k in {"half", "compile", "channels_last"}}
    if name == "onnxruntime":
        onnx = files["onnx"]
        if onnx is None:
            onnx = cached_onnx(ExportOptions(output="logits"), model, checkpoint, cache_dir)
        return OnnxRuntimeBackend(onnx, threads=threads, allow_rejected=common["allow_rejected"])
    if name == "openvino":
        require_openvino()  # before a long export
        source: Any = files["ir"] or files["onnx"]
        if source is None:
            if onnx_export_importable():
                source = cached_onnx(ExportOptions(output="logits"), model, checkpoint, cache_dir)
            else:
                source = _require_model(model, checkpoint, name)
        return OpenVINOBackend(source, threads=threads, allow_rejected=common["allow_rejected"])
    if name == "tensorrt":
        engine = files["engine"]
        if engine is None:
            build = {k: v for k, v in options.items() if k not in torch_opts}
            engine = cached_engine(model, checkpoint, cache_dir=cache_dir, **build)
        return TensorRTBackend(engine, device, common["check_metadata"])
    if name == "torch-compiled":
        torch_opts = {"half": True, "compile": True, **torch_opts}
        return TorchBackend(_require_model(model, checkpoint, name), device=device, **torch_opts)
    if name == "torch":
        return TorchBackend(_require_model(model, checkpoint, name), device=device, **torch_opts)
    raise ValueError(
        f"unknown runtime '{name}' "
        "(choose onnxruntime, openvino, tensorrt, torch-compiled, torch or auto)"
    )
