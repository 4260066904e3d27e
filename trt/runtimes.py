"""Runtimes that honour :class:`amd_plugin.backends.InferenceBackend` (``logits(batch)``);
:func:`trt.backend_choice.make_backend` builds one by name.

- :class:`OnnxRuntimeBackend`: ONNX Runtime on CPU (fp32, fp16, or a calibrated int8 graph).
- :class:`~trt.openvino_runtime.OpenVINOBackend`: OpenVINO on CPU (fp32 or calibrated int8).
- :class:`TensorRTBackend`: a TensorRT engine, torch CUDA tensors as I/O buffers.
- compiled PyTorch on GPU: :class:`amd_plugin.backends.TorchBackend` with
  ``compile=True, half=True``.

``Segmenter(..., backend="onnxruntime")`` reaches that factory through the entry
points this package declares in the ``amd_objectness.backends`` group (see
:mod:`amd_plugin.backends`): the core never imports this package.

How graph outputs become logits, and the int8 acceptance rule: :mod:`trt.graph_output`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from amd_plugin.backends import resolve_device
from trt.engine import (
    ShapeProfile,
    current_environment,
    require_tensorrt,
)
from trt.export import cpu_session, read_metadata
from trt.graph_output import check_acceptance, runtime_kind, to_logits
from trt.metadata import EngineMismatch, check_engine_metadata, metadata_path, read_engine_metadata

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
            an int8 graph from :func:`trt.quantize_ort.quantize_onnxruntime`.
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
