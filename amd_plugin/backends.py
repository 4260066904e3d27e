"""Inference backends: anything that maps normalised images to appearance logits.

The contract every backend honours (``torch`` here; ``onnxruntime`` and ``tensorrt`` live in
the ``trt`` package and are imported lazily, so the core never needs them installed):

    backend.logits(batch: np.ndarray B×3×H×W float32, ImageNet-normalised) -> B×K×h×w float32
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from amd_plugin.modeling.amd import AMD


@runtime_checkable
class InferenceBackend(Protocol):
    name: str
    num_segments: int

    def logits(self, batch: np.ndarray) -> np.ndarray: ...


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU. Decided once, by the caller."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TorchBackend:
    """Eager (optionally ``torch.compile``d, half precision on GPU) PyTorch appearance net."""

    def __init__(
        self,
        model: AMD,
        device: str | torch.device = "auto",
        half: bool = False,
        compile: bool = False,
        channels_last: bool = False,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        self.net = model.appearance.to(self.device).eval()
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        if self.dtype != torch.float32:
            self.net = self.net.to(self.dtype)
        self.runner = torch.compile(self.net, dynamic=True) if compile else self.net
        self.num_segments = model.num_segments
        self.name = (
            "torch"
            + ("-compiled" if compile else "")
            + ("-fp16" if self.dtype == torch.float16 else "")
        )

    @torch.inference_mode()
    def logits(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, self.dtype)
        x = x.contiguous(memory_format=self.memory_format)
        return self.runner(x).float().cpu().numpy()


def create_backend(name: str, model: AMD | None = None, **kwargs) -> InferenceBackend:
    """Build a backend by name: ``torch``, ``onnxruntime``, ``tensorrt`` or ``auto``.

    ``auto`` prefers a usable TensorRT engine (when ``engine`` is given), then compiled
    half-precision PyTorch on a GPU, then ONNX Runtime on CPU (when installed), then eager
    PyTorch. The non-torch backends come from the optional ``trt`` package.
    """
    if name == "torch":
        if model is None:
            raise ValueError("the torch backend needs a model")
        allowed = {"device", "half", "compile", "channels_last"}
        return TorchBackend(model, **{k: v for k, v in kwargs.items() if k in allowed})
    if name in ("onnxruntime", "tensorrt", "auto"):
        try:
            from trt.runtimes import create_runtime_backend
        except ImportError as err:
            if name == "auto" and model is not None:
                return TorchBackend(model, device=kwargs.get("device", "auto"))
            raise RuntimeError(
                f"backend '{name}' needs the optional 'trt' package and its dependencies "
                f"(pip install 'amd-objectness[onnx]'): {err}"
            ) from err
        return create_runtime_backend(name, model=model, **kwargs)
    raise ValueError(f"unknown backend '{name}' (choose torch, onnxruntime, tensorrt or auto)")
