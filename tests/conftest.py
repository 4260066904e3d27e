import contextlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def small_model():
    from amd_plugin import AMD, ModelConfig

    torch.manual_seed(0)
    return AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 128))).eval()


def _decisive(model):
    """Random but non-trivial BatchNorm statistics and peaked logits.

    A freshly initialised net gives near-uniform masks, where any rounding flips the argmax
    and IoU checks say nothing; this makes segments clear-cut, like a trained model's.
    """
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.appearance.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
        model.appearance.head.conv_seg.weight.mul_(40.0)
    return model.eval()


@pytest.fixture(scope="session")
def decisive():
    """``decisive(model)``: clear-cut segments from random weights (for parity checks)."""
    return _decisive


@pytest.fixture(scope="module")
def decisive_model(decisive):
    """The default small backbone, random but decisive (K = 5)."""
    from amd_plugin import AMD, ModelConfig

    torch.manual_seed(0)
    return decisive(AMD(ModelConfig(backbone="small")))


@contextlib.contextmanager
def _benchmark_module(name: str):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # processes it starts find its functions by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


@pytest.fixture(scope="session")
def benchmark_module():
    """``with benchmark_module("name") as m:`` loads ``benchmarks/name.py`` as module ``name``,
    registered in ``sys.modules`` while in use."""
    return _benchmark_module
