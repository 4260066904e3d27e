"""TensorRT build/run/parity and the compiled-PyTorch path (needs CUDA; TensorRT for most)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from amd_plugin import AMD, ModelConfig, Segmenter  # noqa: E402
from amd_plugin.backends import TorchBackend  # noqa: E402
from trt.backend_choice import make_backend  # noqa: E402
from trt.engine import ShapeProfile, build_engine  # noqa: E402
from trt.export import ExportOptions, export_onnx  # noqa: E402
from trt.metadata import EngineMismatch, metadata_path  # noqa: E402
from trt.parity import compare_probabilities, softmax, synthetic_images  # noqa: E402
from trt.runtimes import TensorRTBackend  # noqa: E402

PROFILE = ShapeProfile((2, 64, 64), (2, 128, 192), (4, 256, 256))


@pytest.fixture(scope="module")
def model() -> AMD:
    torch.manual_seed(0)
    net = AMD(ModelConfig(backbone="small")).eval()
    with torch.no_grad():  # peaked logits, so IoU checks are meaningful (see test_onnx.decisive)
        net.appearance.head.conv_seg.weight.mul_(8.0)
    return net


@pytest.fixture(scope="module")
def engine(model, tmp_path_factory):
    pytest.importorskip("tensorrt")
    folder = tmp_path_factory.mktemp("trt")
    graph = export_onnx(
        model, folder / "logits_fp16.onnx", ExportOptions(output="logits", fp16=True)
    ).path
    path = folder / "model.engine"
    build_engine(
        graph, path, PROFILE, fp16=True, workspace_gb=1, timing_cache=folder / "timing.cache"
    )
    return path


def reference(model: AMD, images: np.ndarray) -> np.ndarray:
    return TorchBackend(model, device="cpu").logits(images)


def test_build_writes_metadata_and_timing_cache(engine):
    meta = json.loads(metadata_path(engine).read_text())
    assert meta["gpu_name"] == torch.cuda.get_device_name()
    assert meta["precision"] == "fp16" and meta["num_segments"] == 5 and meta["output"] == "logits"
    assert meta["profile"]["max"] == [4, 256, 256]
    assert (engine.parent / "timing.cache").stat().st_size > 0


@pytest.mark.parametrize("batch", [1, 3, 6])  # below min (padded), in range, above max (split)
def test_engine_parity(model, engine, batch):
    backend = TensorRTBackend(engine)
    images = synthetic_images(batch, 120, 200, seed=batch)
    got = backend.logits(images)
    parity = compare_probabilities(softmax(reference(model, images)), softmax(got))
    assert got.shape == (batch, 5, 15, 25)
    assert parity.mask_iou >= 0.98 and parity.max_abs_diff < 0.05, parity


def test_engine_outside_profile_is_refused(engine):
    with pytest.raises(ValueError, match="outside the engine profile"):
        TensorRTBackend(engine).logits(synthetic_images(1, 512, 512))


def test_engine_for_another_gpu_is_refused(engine):
    meta_file = metadata_path(engine)
    original = meta_file.read_text()
    try:
        meta_file.write_text(json.dumps({**json.loads(original), "gpu_name": "Some Other GPU"}))
        with pytest.raises(EngineMismatch, match="Some Other GPU"):
            TensorRTBackend(engine)
    finally:
        meta_file.write_text(original)


def test_segmenter_with_engine(model, engine):
    rgb = (
        (synthetic_images(1, 128, 200)[0].transpose(1, 2, 0) * 50 + 120)
        .clip(0, 255)
        .astype(np.uint8)
    )
    want = Segmenter(model, backend="torch", device="cpu", short_side=None, foreground=1).predict(
        [rgb]
    )[0]
    got = Segmenter(model, backend="auto", engine=engine, short_side=None, foreground=1).predict(
        [rgb]
    )[0]
    assert got.foreground.shape == want.foreground.shape
    assert np.abs(got.foreground - want.foreground).mean() < 0.01


def test_compiled_torch_path(model):
    images = synthetic_images(2, 96, 160)
    want = softmax(reference(model, images))
    # TorchBackend converts the module in place (device, half): give it a copy
    backend = make_backend("torch-compiled", model=copy.deepcopy(model), device="cuda")
    assert backend.name == "torch-compiled-fp16"
    parity = compare_probabilities(want, softmax(backend.logits(images)))
    assert parity.mask_iou >= 0.98, parity
