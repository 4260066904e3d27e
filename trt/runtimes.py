"""Runtimes that honour :class:`amd_plugin.backends.InferenceBackend` (``logits(batch)``),
and :func:`make_backend`, which builds one by name.

- :class:`OnnxRuntimeBackend`: ONNX Runtime on CPU (fp32, fp16, or a calibrated int8 graph).
- :class:`~trt.openvino_runtime.OpenVINOBackend`: OpenVINO on CPU (fp32 or calibrated int8).
- :class:`TensorRTBackend`: a TensorRT engine, torch CUDA tensors as I/O buffers.
- compiled PyTorch on GPU: :class:`amd_plugin.backends.TorchBackend` with
  ``compile=True, half=True``.

``Segmenter(..., backend="onnxruntime")`` reaches :func:`make_backend` through the entry
points this package declares in the ``amd_objectness.backends`` group (see
:mod:`amd_plugin.backends`): the core never imports this package.

How graph outputs become logits, and the int8 acceptance rule: :mod:`trt.graph_output`.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amd_plugin.backends import InferenceBackend, TorchBackend, resolve_device
from amd_plugin.checkpoint import load_model
from amd_plugin.modeling.amd import AMD
from trt.cache import cached_engine, cached_onnx
from trt.engine import (
    ShapeProfile,
    TensorRTUnavailable,
    current_environment,
    require_tensorrt,
    tensorrt_importable,
)
from trt.export import ExportOptions, cpu_session, read_metadata
from trt.graph_output import INT8_MIN_IOU, check_acceptance, runtime_kind, to_logits
from trt.metadata import EngineMismatch, check_engine_metadata, metadata_path, read_engine_metadata
from trt.openvino_runtime import (
    OpenVINOBackend,
    OpenVINOUnavailable,
    openvino_importable,
    require_openvino,
)
from trt.parity import compare_probabilities, softmax, synthetic_images

LOG = logging.getLogger(__name__)
_TORCH_DTYPES = {
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "BF16": torch.bfloat16,
    "INT32": torch.int32,
}


class OnnxRuntimeBackend:
    """ONNX Runtime on CPU (all graph optimisations, configurable intra-op threads).

    Args:
        onnx_path: graph from :func:`trt.export.export_onnx` (``logits`` or ``masks``) or
            an int8 graph from :func:`trt.quantize.quantize_onnxruntime`.
        threads: intra-op threads (``None``: one per core).
        allow_rejected: run an int8 graph even when its acceptance check failed.
    """

    def __init__(
        self, onnx_path: str | Path, threads: int | None = None, allow_rejected: bool = False
    ) -> None:
        self.path = Path(onnx_path)
        meta = read_metadata(self.path)
        check_acceptance(meta, self.path, allow_rejected)
        self.metadata = meta
        self.session = cpu_session(self.path, threads)
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name, self.output_name = inp.name, out.name
        self.kind = runtime_kind(
            meta.get("output") or out.name, meta.get("upsample") == "true", self.path
        )
        self.input_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        k = meta.get("num_segments") or out.shape[1]
        self.num_segments = int(k)
        self.foreground_channel = (
            int(meta["foreground_channel"]) if meta.get("foreground_channel") else None
        )
        precision = meta.get("precision", "fp32")
        self.name = "onnxruntime" + ("" if precision == "fp32" else f"-{precision}")

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """``B×3×H×W`` float32 ImageNet-normalised → ``B×K×h×w`` float32 logits."""
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=self.input_dtype)}
        return to_logits(self.session.run([self.output_name], feed)[0], self.kind)


class TensorRTBackend:
    """A TensorRT engine (built by :func:`trt.engine.build_engine`) on one GPU.

    The engine's metadata is checked against this GPU and TensorRT before deserialising;
    a mismatch raises :class:`~trt.engine.EngineMismatch` naming the file and both values.
    Batches are split to the profile's max batch and padded to its min batch.

    Args:
        engine_path: the ``.engine`` file (metadata in ``<engine>.json``).
        device: ``cuda``/``cuda:N``/``auto``.
        check_metadata: set ``False`` to run an engine built elsewhere without metadata.
    """

    def __init__(
        self,
        engine_path: str | Path,
        device: str | torch.device = "auto",
        check_metadata: bool = True,
    ):
        tensorrt = require_tensorrt()  # CUDA checked before any Runtime exists
        self.path = Path(engine_path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: engine not found")
        self.device = resolve_device(device)
        if self.device.type != "cuda":
            raise ValueError(f"TensorRT runs on CUDA devices, got {self.device}")
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        self.device = torch.device("cuda", index)
        env = current_environment(tensorrt, index)
        if check_metadata:
            meta = check_engine_metadata(self.path, env)
        else:
            meta = read_engine_metadata(self.path) if metadata_path(self.path).exists() else {}
        self.metadata = meta
        with torch.cuda.device(self.device):
            self.runtime = tensorrt.Runtime(tensorrt.Logger(tensorrt.Logger.WARNING))
            if meta.get("version_compatible"):
                # version-compatible engines embed a lean runtime that must be allowed to run
                self.runtime.engine_host_code_allowed = True
            self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise EngineMismatch(
                    f"{self.path}: TensorRT {env['tensorrt_version']} could not deserialise this engine "
                    "(built by another TensorRT version or for another GPU?); rebuild it with `amd-trt build`"
                )
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == tensorrt.TensorIOMode.INPUT for n in names}
        self.input_name = next(n for n in names if is_input[n])
        self.output_name = next(n for n in names if not is_input[n])
        self.input_dtype = _TORCH_DTYPES[self.engine.get_tensor_dtype(self.input_name).name]
        self.output_dtype = _TORCH_DTYPES[self.engine.get_tensor_dtype(self.output_name).name]
        lo, opt, hi = (tuple(s) for s in self.engine.get_tensor_profile_shape(self.input_name, 0))
        self.profile = ShapeProfile(
            (lo[0], lo[2], lo[3]), (opt[0], opt[2], opt[3]), (hi[0], hi[2], hi[3])
        )
        self.kind = runtime_kind(meta.get("output") or self.output_name, False, self.path)
        self.num_segments = int(
            meta.get("num_segments") or self.engine.get_tensor_shape(self.output_name)[1]
        )
        self.foreground_channel = meta.get("foreground_channel")
        self.name = "tensorrt-" + str(meta.get("precision", "engine"))

    def _execute(self, chunk: torch.Tensor) -> torch.Tensor:
        """One engine call on a batch that fits the profile (on the current torch stream)."""
        chunk = chunk.to(self.device, self.input_dtype).contiguous()
        if not self.context.set_input_shape(self.input_name, tuple(chunk.shape)):
            raise ValueError(
                f"{self.path}: input shape {tuple(chunk.shape)} rejected by the engine profile"
            )
        out = torch.empty(
            tuple(self.context.get_tensor_shape(self.output_name)),
            dtype=self.output_dtype,
            device=self.device,
        )
        self.context.set_tensor_address(self.input_name, chunk.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        # torch's current stream orders the engine after the input copy and before any reader
        # of ``out``; the caching allocator is stream-ordered, so ``chunk`` stays valid
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"{self.path}: TensorRT execution failed (see its log)")
        return out

    def run_torch(self, images: torch.Tensor) -> torch.Tensor:
        """``B×3×H×W`` CUDA tensor → engine output ``B×K×h×w`` (no host copies)."""
        b, _, h, w = images.shape
        if not self.profile.fits(h, w):
            raise ValueError(
                f"{self.path}: input {h}×{w} is outside the engine profile "
                f"(height {self.profile.min[1]}–{self.profile.max[1]}, width {self.profile.min[2]}–{self.profile.max[2]}); "
                "rebuild with wider --min/--max or resize the images"
            )
        min_batch, max_batch = self.profile.min[0], self.profile.max[0]
        outputs = []
        with torch.cuda.device(self.device):  # TensorRT runs on the current CUDA device
            for start in range(0, b, max_batch):
                chunk = images[start : start + max_batch]
                n = chunk.shape[0]
                if n < min_batch:  # pad with blank frames and drop their outputs
                    chunk = torch.cat([chunk, chunk.new_zeros((min_batch - n, *chunk.shape[1:]))])
                outputs.append(self._execute(chunk)[:n])
        return torch.cat(outputs)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """``B×3×H×W`` float32 ImageNet-normalised → ``B×K×h×w`` float32 logits."""
        images = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        return to_logits(self.run_torch(images).float().cpu().numpy(), self.kind)


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
    and the load. Eager PyTorch closes the list (the fallback).
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
    models are not probed here: they carry the result of their held-out acceptance check,
    which their loader has already enforced.
    """
    if getattr(backend, "metadata", {}).get("int8_accepted") == "true":
        return 1.0
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
            it OpenVINO); the choice is logged and is the backend's ``name``.
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
    verified: list[InferenceBackend] = []
    for choice in candidates:
        if choice == "torch":
            break
        try:
            backend = _build(choice, files, common, options)
        except (TensorRTUnavailable, EngineMismatch, OpenVINOUnavailable, ImportError) as err:
            LOG.warning("auto backend: not using %s: %s", choice, err)
            continue
        if verify_backend(backend, weights) is None:
            LOG.warning("auto backend: %s disagrees with eager PyTorch, not using it", choice)
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
    seconds = {backend.name: probe_seconds(backend) for backend in verified}
    fastest = min(verified, key=lambda backend: seconds[backend.name])
    LOG.info(
        "auto backend: %s (%s per %d×%d frame)",
        fastest.name,
        ", ".join(f"{name} {t:.3f} s" for name, t in seconds.items()),
        *AUTO_PROBE_SIZE,
    )
    return fastest


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
