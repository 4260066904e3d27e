"""ONNX export, ONNX Runtime backend, engine metadata checks and backend choice (CPU)."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

from amd_plugin import AMD, ModelConfig, Segmenter, save_checkpoint  # noqa: E402
from trt import backend_choice, cli  # noqa: E402
from trt.backend_choice import choose_backend, make_backend  # noqa: E402
from trt.engine import TensorRTUnavailable, require_tensorrt  # noqa: E402
from trt.export import (  # noqa: E402
    ExportOptions,
    export_onnx,
    graph_precision,
    read_metadata,
    reference_outputs,
)
from trt.metadata import EngineMismatch, check_engine_metadata, write_metadata  # noqa: E402
from trt.parity import mask_iou, softmax, synthetic_images  # noqa: E402
from trt.runtimes import OnnxRuntimeBackend, TensorRTBackend  # noqa: E402


@pytest.fixture(scope="module")
def model(decisive_model) -> AMD:
    return decisive_model


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("amd-cache")


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch, cache_dir):
    monkeypatch.setenv("AMD_OBJECTNESS_CACHE", str(cache_dir))


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return save_checkpoint(
        model, tmp_path_factory.mktemp("ckpt") / "small.pt", foreground_channel=1
    )


@pytest.fixture(scope="module")
def masks_graph(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "masks.onnx", ExportOptions())


def run(path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": images})[0]


def test_export_fp32_matches_pytorch_with_dynamic_dims(model, masks_graph):
    assert masks_graph.parity is not None and masks_graph.parity.max_abs_diff < 1e-4
    meta = read_metadata(masks_graph.path)
    assert meta["output"] == "masks" and meta["num_segments"] == "5" and meta["precision"] == "fp32"
    # one file, other batches and sizes than the tracing example (2×96×160)
    for batch, height, width in [(1, 64, 64), (3, 72, 120), (2, 200, 136)]:
        images = synthetic_images(batch, height, width, seed=batch)
        got = run(masks_graph.path, images)
        want = reference_outputs(model.appearance, images, masks_graph.options)
        assert got.shape == (batch, 5, -(-height // 8), -(-width // 8))
        assert np.abs(got - want).max() < 1e-4
        assert mask_iou(got, want) > 0.999


def test_quarter_scale_model_exports_with_dynamic_dims(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone="small", small_width=8, num_segments=2, small_quarter_scale_logits=True
    )
    model = AMD(cfg).eval()
    # a trained refinement is not zero: give its residual conv weights to check it is exported
    torch.nn.init.normal_(model.appearance.refinement.conv_residual.weight, std=0.5)
    graph = export_onnx(model, tmp_path / "q.onnx", ExportOptions(output="logits"))
    for batch, height, width in [(1, 64, 64), (3, 72, 120)]:
        images = synthetic_images(batch, height, width, seed=batch)
        got = run(graph.path, images)
        want = reference_outputs(model.appearance, images, graph.options)
        assert got.shape == (batch, 2, -(-height // 4), -(-width // 4))
        assert np.abs(got - want).max() < 1e-4


def test_cli_export_fp16_graph_keeps_fp32_io(model, checkpoint, tmp_path):
    out = tmp_path / "fp16.onnx"
    assert cli.main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--fp16"]) == 0
    assert graph_precision(out) == "fp16"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    assert session.get_outputs()[0].type == "tensor(float)"
    for batch, height, width in [(2, 120, 200), (1, 88, 64)]:
        images = synthetic_images(batch, height, width, seed=7)
        got = session.run(None, {"images": images})[0]
        want = reference_outputs(model.appearance, images, ExportOptions())
        assert mask_iou(got, want) >= 0.99
    assert read_metadata(out)["checkpoint_sha256"]


def test_resnet50_foreground_upsampled(tmp_path, decisive):
    torch.manual_seed(1)
    big = decisive(AMD(ModelConfig(backbone="resnet50")))
    options = ExportOptions(
        output="foreground", upsample=True, foreground_channel=1, example_shape=(2, 64, 96)
    )
    result = export_onnx(big, tmp_path / "r50.onnx", options)
    assert result.parity is not None and result.parity.max_abs_diff < 1e-4
    images = synthetic_images(1, 50, 78, seed=2)  # not a multiple of 8: resized to exactly H×W
    got = run(result.path, images)
    assert got.shape == (1, 1, 50, 78)
    assert np.abs(got - reference_outputs(big.appearance, images, options)).max() < 1e-4
    with pytest.raises(ValueError, match="logits"):
        OnnxRuntimeBackend(result.path)


def test_masks_graph_serves_as_backend(model, masks_graph):
    backend = OnnxRuntimeBackend(masks_graph.path, threads=1)
    images = synthetic_images(2, 64, 80)
    want = softmax(model.appearance(torch.from_numpy(images)).detach().numpy())
    assert np.abs(softmax(backend.logits(images)) - want).max() < 1e-4
    assert backend.num_segments == 5


def test_segmenter_onnxruntime_equals_torch(model, cache_dir):
    rng = np.random.default_rng(0)
    images = [
        (synthetic_images(1, 90, 150, seed=5)[0].transpose(1, 2, 0) * 50 + 120)
        .clip(0, 255)
        .astype(np.uint8),
        rng.integers(0, 255, (70, 50, 3), dtype=np.uint8),
    ]
    reference = Segmenter(
        model, backend="torch", device="cpu", short_side=None, foreground=1
    ).predict(images)
    segmenter = Segmenter(model, backend="onnxruntime", short_side=None, foreground=1)
    assert segmenter.backend.name == "onnxruntime"
    for want, got in zip(reference, segmenter.predict(images)):
        assert got.foreground.shape == want.foreground.shape
        assert np.abs(got.foreground - want.foreground).max() < 1e-4
        assert abs(got.objectness - want.objectness) < 1e-3
    # the export is cached: a second runtime reuses the same graph
    make_backend("onnxruntime", model=model)
    assert len(list((cache_dir / "onnx").glob("*.onnx"))) == 1


def test_auto_backend_on_cpu(model, monkeypatch):
    monkeypatch.setattr(backend_choice, "openvino_importable", lambda: False)  # see test_openvino
    assert make_backend("auto", model=model, device="cpu").name == "onnxruntime"
    # an engine that cannot run here (no TensorRT/GPU) falls back instead of failing
    backend = make_backend("auto", model=model, engine="missing.engine", device="cpu")
    assert backend.name == "onnxruntime"
    assert Segmenter(model, backend="auto", device="cpu").backend.name == "onnxruntime"
    with pytest.raises(TypeError, match="unknown backend option"):
        make_backend("onnxruntime", model=model, treads=2)


@pytest.mark.parametrize(
    ("engine", "trt", "cuda", "ort_ok", "ov_ok", "expected"),
    [
        (True, True, True, True, True, ["tensorrt", "torch-compiled", "torch"]),
        (True, False, True, True, False, ["torch-compiled", "torch"]),
        (True, True, False, True, False, ["onnxruntime", "torch"]),
        (False, True, True, True, True, ["torch-compiled", "torch"]),
        (False, False, False, True, False, ["onnxruntime", "torch"]),
        (False, False, False, True, True, ["openvino", "onnxruntime", "torch"]),
        (False, False, False, False, True, ["openvino", "torch"]),
        (False, False, False, False, False, ["torch"]),
        (True, True, False, False, False, ["torch"]),
    ],
)
def test_choose_backend(engine, trt, cuda, ort_ok, ov_ok, expected):
    assert choose_backend(engine, trt, cuda, ort_ok, ov_ok) == expected


ENV = {
    "tensorrt_version": "10.9.0",
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "compute_capability": "9.0",
    "cuda_version": "12.8",
}


def test_engine_metadata_mismatch_is_refused(tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not really an engine")
    with pytest.raises(EngineMismatch, match="no metadata"):
        check_engine_metadata(engine, ENV)
    write_metadata(
        engine, {**ENV, "gpu_name": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0"}
    )
    with pytest.raises(EngineMismatch) as err:
        check_engine_metadata(engine, ENV)
    message = str(err.value)
    assert str(engine) in message and "A100" in message and "H100" in message and "8.0" in message
    write_metadata(engine, {**ENV, "tensorrt_version": "10.3.0"})
    with pytest.raises(EngineMismatch, match=r"10\.3\.0.*10\.9\.0"):
        check_engine_metadata(engine, ENV)
    # version-compatible engines run on the same major, same or newer runtime
    write_metadata(engine, {**ENV, "tensorrt_version": "10.3.0", "version_compatible": True})
    assert check_engine_metadata(engine, ENV)["version_compatible"]
    write_metadata(engine, {**ENV, "tensorrt_version": "11.0.0", "version_compatible": True})
    with pytest.raises(EngineMismatch):
        check_engine_metadata(engine, ENV)
    # hardware-compatible (Ampere+) engines run on another Ampere+ GPU
    write_metadata(
        engine,
        {
            **ENV,
            "gpu_name": "NVIDIA A10",
            "compute_capability": "8.6",
            "hardware_compatibility": "ampere_plus",
        },
    )
    assert check_engine_metadata(engine, ENV)
    write_metadata(engine, dict(ENV))
    assert check_engine_metadata(engine, ENV)["gpu_name"] == ENV["gpu_name"]


def test_missing_tensorrt_is_a_clear_error(monkeypatch, capsys, checkpoint, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` fail
    with pytest.raises(
        TensorRTUnavailable, match="TensorRT is not installed: install tensorrt with pip"
    ):
        require_tensorrt()
    with pytest.raises(TensorRTUnavailable):
        TensorRTBackend(tmp_path / "model.engine")
    assert (
        cli.main(["build", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "m.engine")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "amd-trt: error: TensorRT is not installed: install tensorrt with pip on a machine with an NVIDIA GPU"
    ]


def test_missing_cuda_is_a_clear_error(monkeypatch, capsys, checkpoint, tmp_path):
    fake = types.ModuleType("tensorrt")
    fake.Builder = object  # looks installed; must never be instantiated without a GPU
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TensorRTUnavailable, match="no CUDA GPU visible"):
        require_tensorrt()
    assert (
        cli.main(["build", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "m.engine")])
        == 2
    )
    assert "no CUDA GPU visible" in capsys.readouterr().err


def test_stub_tensorrt_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(TensorRTUnavailable, match="no bindings"):
        require_tensorrt()


def test_cli_check_without_tensorrt(monkeypatch, capsys, checkpoint):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code = cli.main(
        [
            "check",
            "--checkpoint",
            str(checkpoint),
            "--height",
            "64",
            "--width",
            "96",
            "--iterations",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "TensorRT: not available here" in out
        and "onnxruntime (CPU)" in out
        and "mask IoU = 1.0000" in out
    )


def test_metadata_json_roundtrip(tmp_path):
    engine = tmp_path / "x.engine"
    path = write_metadata(engine, ENV)
    assert path.name == "x.engine.json" and json.loads(path.read_text()) == ENV
