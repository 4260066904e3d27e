"""Inference backends: anything that maps normalised images to appearance logits.

The contract every backend honours:

    backend.logits(batch: np.ndarray B×3×H×W float32, ImageNet-normalised) -> B×K×h×w float32

plus the attributes ``name`` (what runs, e.g. ``openvino-int8``) and ``num_segments``.
``Segmenter`` accepts any such object, so a runtime never has to be known here.

Backends by name (:func:`create_backend`): ``torch`` is built here. Every other name is
provided from above, by an entry point in the group ``amd_objectness.backends`` of an
installed distribution: the entry point's name is the backend's name and it loads a factory

    factory(name, *, model, checkpoint, device, **options) -> InferenceBackend

This package's own ``pyproject.toml`` declares ``onnxruntime``, ``openvino``, ``tensorrt``,
``torch-compiled`` and ``auto`` with :func:`trt.backend_choice.make_backend`. The core only reads
the installed metadata (:mod:`importlib.metadata`); it imports no runtime itself, so it
installs and runs without them, and ``auto`` falls back to ``torch`` when no provider of
``auto`` is installed.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

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


BACKEND_ENTRY_POINTS = "amd_objectness.backends"
TORCH_OPTIONS = ("half", "compile", "channels_last")
LOG = logging.getLogger(__name__)


def backend_providers() -> dict[str, EntryPoint]:
    """Backend name → the entry point providing it (installed distributions' metadata)."""
    return {ep.name: ep for ep in entry_points(group=BACKEND_ENTRY_POINTS) if ep.name != "torch"}


def backend_names() -> list[str]:
    """Every backend name :func:`create_backend` can resolve on this installation."""
    return ["torch", *sorted(backend_providers())]


def create_backend(
    name: str,
    model: AMD | None = None,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "auto",
    **options: Any,
) -> InferenceBackend:
    """Build a backend by name: ``torch`` here, any other name through its entry point.

    Args:
        name: ``torch``, or a name from :func:`backend_names` (``onnxruntime``,
            ``openvino``, ``tensorrt``, ``torch-compiled``, ``auto`` with this package's
            ``trt`` installed).
        model: the loaded model (``torch`` needs it).
        checkpoint: where the model came from (lets providers cache exports by file).
        device: ``auto``/``cpu``/``cuda[:N]``.
        options: ``half``/``compile``/``channels_last`` for ``torch``; anything the
            provider accepts otherwise (e.g. ``engine``, ``onnx``, ``ir``, ``threads``).

    Raises:
        ValueError: unknown name (the message lists the installed ones).
        RuntimeError: the provider is declared but cannot be imported (missing extras).
    """
    if name == "torch":
        return _torch_backend(model, device, options)
    provider = backend_providers().get(name)
    if provider is None and name == "auto":  # no runtimes installed: eager PyTorch it is
        LOG.info("auto backend: torch (no runtime provider installed)")
        return _torch_backend(model, device, options, strict=False)
    if provider is None:
        raise ValueError(f"unknown backend '{name}' (installed: {', '.join(backend_names())})")
    try:
        factory = provider.load()
    except ImportError as err:
        if name == "auto":
            LOG.warning("auto backend: torch (%s cannot be imported: %s)", provider.value, err)
            return _torch_backend(model, device, options, strict=False)
        raise RuntimeError(
            f"backend '{name}' is provided by {provider.value}, which cannot be imported here "
            f"({err}); install its extras, e.g. pip install 'amd-objectness[onnx]'"
        ) from err
    return factory(name, model=model, checkpoint=checkpoint, device=device, **options)


def _torch_backend(
    model: AMD | None, device: str | torch.device, options: dict, strict: bool = True
) -> TorchBackend:
    """Eager PyTorch; ``strict=False`` (an ``auto`` fallback) drops other runtimes' options."""
    if model is None:
        raise ValueError("the torch backend needs a model")
    unknown = sorted(set(options) - set(TORCH_OPTIONS))
    if not strict:
        options = {k: v for k, v in options.items() if k in TORCH_OPTIONS}
    elif unknown:
        raise TypeError(
            f"unknown option(s) {unknown} for the torch backend; known: {TORCH_OPTIONS}"
        )
    return TorchBackend(model, device=device, **options)
