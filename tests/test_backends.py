"""Backends by name: ``torch`` in the core, every other name through the
``amd_objectness.backends`` entry points, with the core never importing ``trt``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from amd_plugin import Segmenter
from amd_plugin import backends as core_backends
from amd_plugin.backends import TorchBackend, backend_names, create_backend


class Provider:
    """Stands in for an ``importlib.metadata.EntryPoint``."""

    def __init__(self, factory=None, error: Exception | None = None) -> None:
        self.value = "somewhere.runtimes:factory"
        self.factory, self.error = factory, error

    def load(self):
        if self.error is not None:
            raise self.error
        return self.factory


class FlatBackend:
    name = "flat"
    num_segments = 5

    def logits(self, batch: np.ndarray) -> np.ndarray:
        b, _, h, w = batch.shape
        return np.zeros((b, 5, -(-h // 8), -(-w // 8)), np.float32)


def test_this_installation_declares_the_runtimes():
    names = backend_names()
    assert names[0] == "torch"
    assert {"onnxruntime", "openvino", "tensorrt", "torch-compiled", "auto"} <= set(names)
    providers = core_backends.backend_providers()
    assert providers["openvino"].value == "trt.backend_choice:make_backend"


def test_names_resolve_through_providers(monkeypatch, small_model):
    calls = []

    def factory(name, **kwargs):
        calls.append((name, kwargs))
        return FlatBackend()

    monkeypatch.setattr(core_backends, "backend_providers", lambda: {"flat": Provider(factory)})
    segmenter = Segmenter(small_model, backend="flat", short_side=64, foreground=0, threads=3)
    assert segmenter.backend.name == "flat"
    name, kwargs = calls[0]
    assert name == "flat" and kwargs["model"] is small_model and kwargs["threads"] == 3
    pred = segmenter.predict([np.zeros((40, 56, 3), np.uint8)])[0]
    assert pred.foreground.shape == (40, 56)
    np.testing.assert_allclose(pred.foreground, 0.2, atol=1e-6)  # uniform over K=5
    with pytest.raises(ValueError, match=r"unknown backend 'nope' \(installed: torch, flat\)"):
        create_backend("nope", model=small_model)


def test_missing_provider_package(monkeypatch, small_model):
    broken = Provider(error=ImportError("No module named 'trt'"))
    monkeypatch.setattr(core_backends, "backend_providers", lambda: {"onnxruntime": broken})
    with pytest.raises(RuntimeError, match="backend 'onnxruntime' is provided by"):
        create_backend("onnxruntime", model=small_model)
    # auto falls back to eager PyTorch, dropping other runtimes' options
    monkeypatch.setattr(core_backends, "backend_providers", lambda: {"auto": broken})
    assert isinstance(create_backend("auto", model=small_model, threads=2), TorchBackend)
    monkeypatch.setattr(core_backends, "backend_providers", dict)
    assert create_backend("auto", model=small_model, device="cpu").name == "torch"


def test_torch_backend_refuses_unknown_options(small_model):
    with pytest.raises(TypeError, match="engine"):
        create_backend("torch", model=small_model, engine="x.engine")
    backend = FlatBackend()
    assert Segmenter(small_model, backend=backend).backend is backend  # an object, as is


def test_core_never_imports_trt():
    """Segmenting with the core alone loads no ``trt`` module (names are metadata only)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from amd_plugin import AMD, ModelConfig, Segmenter
        from amd_plugin.backends import backend_names
        import amd_plugin.cli.segment
        model = AMD(ModelConfig(backbone="small", small_width=8)).eval()
        Segmenter(model, backend="torch", short_side=32).predict([np.zeros((32, 48, 3), np.uint8)])
        assert "openvino" in backend_names()
        loaded = sorted(m for m in sys.modules if m == "trt" or m.startswith("trt."))
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
