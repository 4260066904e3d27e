"""OpenVINO backend: parity with PyTorch (from ONNX and from the PyTorch model, dynamic
batch/height/width), Segmenter and auto, int8 acceptance records, and the error when
OpenVINO is not installed (tested whether it is installed or not)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from amd_plugin import Segmenter
from trt import backend_choice
from trt.graph_output import RejectedModel
from trt.openvino_runtime import OpenVINOUnavailable, openvino_importable, require_openvino
from trt.parity import compare_probabilities, softmax, synthetic_images

SHAPES = [(1, 64, 64), (3, 72, 120), (2, 200, 136)]  # none is the export example (2×96×160)


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("AMD_OBJECTNESS_CACHE", str(tmp_path_factory.getbasetemp() / "amd-cache"))


def torch_probs(model, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return softmax(model.appearance(torch.from_numpy(images)).numpy())


def test_absent_openvino_is_a_clear_error(monkeypatch, small_model):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails
    assert not openvino_importable()
    with pytest.raises(OpenVINOUnavailable, match=r"pip install 'amd-objectness\[openvino\]'"):
        require_openvino()
    with pytest.raises(OpenVINOUnavailable, match="openvino backend needs OpenVINO"):
        Segmenter(small_model, backend="openvino")
    # auto leaves it out
    monkeypatch.setattr(backend_choice, "onnxruntime_importable", lambda: False)
    assert Segmenter(small_model, backend="auto", device="cpu").backend.name == "torch"


ov = pytest.importorskip("openvino")

from trt.openvino_runtime import (  # noqa: E402
    OpenVINOBackend,
    convert_from_torch,
    model_metadata,
    read_model,
    save_ir,
    set_model_metadata,
)


@pytest.fixture(scope="module")
def logits_graph(decisive_model, tmp_path_factory):
    pytest.importorskip("onnxscript")
    from trt.export import ExportOptions, export_onnx

    path = tmp_path_factory.mktemp("onnx") / "logits.onnx"
    return export_onnx(decisive_model, path, ExportOptions(output="logits"), check=False).path


@pytest.mark.parametrize("source", ["onnx", "torch"])
def test_openvino_matches_pytorch_with_dynamic_dims(decisive_model, logits_graph, source):
    backend = OpenVINOBackend(logits_graph if source == "onnx" else decisive_model, threads=1)
    assert backend.num_segments == 5 and backend.name == "openvino"
    for batch, height, width in SHAPES:
        images = synthetic_images(batch, height, width, seed=batch)
        got = softmax(backend.logits(images))
        assert got.shape == (batch, 5, -(-height // 8), -(-width // 8))
        parity = compare_probabilities(torch_probs(decisive_model, images), got)
        assert parity.max_abs_diff < 1e-4, parity
        assert parity.mask_iou > 0.999, parity


def test_ir_round_trip(decisive_model, tmp_path):
    path = save_ir(convert_from_torch(decisive_model, foreground_channel=2), tmp_path / "m.xml")
    assert path.with_suffix(".bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.xml"]
    model, meta = read_model(path)
    assert meta["num_segments"] == "5" and meta["foreground_channel"] == "2"
    backend = OpenVINOBackend(path)
    assert backend.foreground_channel == 2
    images = synthetic_images(2, 64, 80)
    assert (
        np.abs(softmax(backend.logits(images)) - torch_probs(decisive_model, images)).max() < 1e-4
    )
    with pytest.raises(ValueError, match=r"ends in \.xml"):
        save_ir(model, tmp_path / "m.onnx")


def test_rejected_int8_model_is_refused(decisive_model, tmp_path):
    model = convert_from_torch(decisive_model)
    set_model_metadata(
        model,
        {"precision": "int8", "int8_accepted": "false", "heldout_mask_iou": "0.9500"},
    )
    path = save_ir(model, tmp_path / "rejected.xml")
    assert model_metadata(read_model(path)[0])["int8_accepted"] == "false"
    with pytest.raises(RejectedModel, match=r"held-out mask IoU 0\.9500"):
        OpenVINOBackend(path)
    with pytest.raises(RejectedModel):
        Segmenter(decisive_model, backend="openvino", ir=path)
    assert OpenVINOBackend(path, allow_rejected=True).name == "openvino-int8"


def test_segmenter_openvino_equals_torch(decisive_model):
    rng = np.random.default_rng(0)
    images = [
        (synthetic_images(1, 90, 150, seed=5)[0].transpose(1, 2, 0) * 50 + 120)
        .clip(0, 255)
        .astype(np.uint8),
        rng.integers(0, 255, (70, 50, 3), dtype=np.uint8),
    ]
    reference = Segmenter(decisive_model, device="cpu", short_side=None, foreground=1)
    segmenter = Segmenter(decisive_model, backend="openvino", short_side=None, foreground=1)
    assert segmenter.backend.name == "openvino"
    for want, got in zip(reference.predict(images), segmenter.predict(images)):
        assert got.foreground.shape == want.foreground.shape
        assert np.abs(got.foreground - want.foreground).max() < 1e-4
        assert abs(got.objectness - want.objectness) < 1e-3


def fixed_probe(monkeypatch, seconds: dict[str, float]) -> None:
    """Make auto's timing of the CPU runtimes deterministic."""
    monkeypatch.setattr(backend_choice, "probe_seconds", lambda backend: seconds[backend.name])


def test_auto_takes_the_fastest_verified_runtime(decisive_model, monkeypatch, caplog):
    pytest.importorskip("onnxruntime")
    caplog.set_level("INFO", logger="trt.backend_choice")
    fixed_probe(monkeypatch, {"openvino": 1.0, "onnxruntime": 2.0})
    assert Segmenter(decisive_model, backend="auto", device="cpu").backend.name == "openvino"
    assert "openvino 1.000 s, onnxruntime 2.000 s per 392×696 frame" in caplog.text
    fixed_probe(monkeypatch, {"openvino": 2.0, "onnxruntime": 1.0})
    assert Segmenter(decisive_model, backend="auto", device="cpu").backend.name == "onnxruntime"
    # the real probe: a number of seconds for a frame of the default inference size
    backend = backend_choice.make_backend("openvino", model=decisive_model)
    monkeypatch.undo()
    assert 0 < backend_choice.probe_seconds(backend) < 60


def test_auto_leaves_out_a_runtime_that_disagrees(decisive_model, monkeypatch, caplog):
    class Wrong(OpenVINOBackend):
        def logits(self, batch):
            return -super().logits(batch)  # every pixel takes another segment

    monkeypatch.setattr(backend_choice, "OpenVINOBackend", Wrong)
    backend = backend_choice.make_backend("auto", model=decisive_model, device="cpu")
    expected = "onnxruntime" if backend_choice.onnxruntime_importable() else "torch"
    assert backend.name == expected
    assert "openvino disagrees with eager PyTorch" in caplog.text


def test_amd_segment_reports_the_backend(decisive_model, tmp_path, capsys, monkeypatch):
    import json

    from amd_plugin import save_checkpoint
    from amd_plugin.cli.segment import main as segment_main
    from amd_plugin.io.video import VideoWriter

    ckpt = save_checkpoint(decisive_model, tmp_path / "m.pt", foreground_channel=1)
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, fps=8) as writer:
        for i in range(3):
            frame = np.full((48, 64, 3), 40, np.uint8)
            frame[10:30, 10 + 4 * i : 30 + 4 * i] = 220
            writer.write(frame)
    fixed_probe(monkeypatch, {"openvino": 1.0, "onnxruntime": 2.0})
    for backend in ("openvino", "auto"):
        out = tmp_path / backend
        args = [str(clip), "--checkpoint", str(ckpt), "--out", str(out), "--short-side", "48"]
        assert segment_main([*args, "--backend", backend, "--threads", "1"]) == 0
        rows = json.loads((out / "summary.json").read_text())
        assert rows[0]["backend"] == "openvino" and rows[0]["frames"] == 3
        assert "backend: openvino" in capsys.readouterr().out
    assert segment_main([*args, "--runtime-model", str(tmp_path / "m.pt")]) == 2
    assert "--runtime-model takes .onnx, .xml, .engine" in capsys.readouterr().err
