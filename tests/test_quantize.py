"""Calibrated int8: frames from video, ONNX Runtime static QDQ and NNCF (OpenVINO) int8, the
acceptance record in the model, and the runtimes refusing a rejected model."""

from __future__ import annotations

import numpy as np
import pytest

from amd_plugin import Segmenter, save_checkpoint
from amd_plugin.io.video import VideoWriter
from trt.graph_output import RejectedModel, check_acceptance

SHORT_SIDE = 48


def test_check_acceptance_reads_the_record():
    check_acceptance({}, "fp32.onnx", allow_rejected=False)  # no record: fp32 passes
    check_acceptance({"int8_accepted": "true"}, "a.xml", allow_rejected=False)
    check_acceptance({"int8_accepted": "false"}, "r.xml", allow_rejected=True)
    with pytest.raises(RejectedModel, match=r"r\.xml: .* IoU 0\.9 against fp32, needs 0\.98"):
        check_acceptance(
            {"int8_accepted": "false", "heldout_mask_iou": "0.9", "min_mask_iou": "0.98"},
            "r.xml",
            allow_rejected=False,
        )


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Four short videos: a bright square moving over a gradient, in different places."""
    root = tmp_path_factory.mktemp("clips")
    paths = []
    for c in range(4):
        path = root / f"clip{c}.mp4"
        ys, xs = np.mgrid[0:60, 0:80]
        with VideoWriter(path, fps=8) as writer:
            for t in range(8):
                frame = np.stack([xs * 3, ys * 4, np.full_like(xs, 60 + 40 * c)], -1)
                top, left = 10 + 3 * c, 8 + 5 * t
                frame[top : top + 20, left : left + 24] = (230, 220 - 30 * c, 40)
                writer.write(frame.clip(0, 255).astype(np.uint8))
        paths.append(path)
    return paths


def test_sample_frames(clips):
    from trt.quantize import sample_frames, split_alternate

    frames = sample_frames(clips[:2], per_clip=4, short_side=SHORT_SIDE)
    assert len(frames) == 8
    assert all(f.shape == (1, 3, SHORT_SIDE, 64) and f.dtype == np.float32 for f in frames)
    calibration, validation = split_alternate(frames)
    assert len(calibration) == len(validation) == 4
    with pytest.raises(ValueError, match="no frames"):
        sample_frames([], per_clip=2)


def test_onnxruntime_static_int8_record_and_refusal(decisive_model, clips, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from trt.quantize import quantize_onnxruntime, sample_frames, split_alternate
    from trt.runtimes import OnnxRuntimeBackend

    calibration, validation = split_alternate(sample_frames(clips[:2], 4, SHORT_SIDE))
    heldout = sample_frames(clips[2:], 2, SHORT_SIDE)
    out = tmp_path / "int8.onnx"
    # no model can beat IoU 1.01: this one is rejected whatever the quantisation does
    result = quantize_onnxruntime(
        decisive_model, out, calibration, validation, heldout, min_iou=1.01
    )
    assert not result.accepted and result.heldout_frames == 4 and result.calibration_frames == 4
    assert 0.0 < result.heldout_mask_iou <= 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.onnx"]  # no work files left
    with pytest.raises(RejectedModel):
        OnnxRuntimeBackend(out)
    with pytest.raises(RejectedModel):
        Segmenter(decisive_model, backend="onnxruntime", onnx=out)
    backend = OnnxRuntimeBackend(out, allow_rejected=True)
    assert backend.name == "onnxruntime-int8" and backend.metadata["classifier"] == "fp32"
    assert backend.metadata["int8_convolutions"] == "10/11"  # all but the classifier
    assert backend.logits(heldout[0]).shape == (1, 5, 6, 8)


def test_openvino_int8_cli_and_segmenter(decisive_model, clips, tmp_path, capsys):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    from trt import cli

    ckpt = save_checkpoint(decisive_model, tmp_path / "m.pt", foreground_channel=1)
    out = tmp_path / "int8.xml"
    common = ["quantize", "--checkpoint", str(ckpt), "--out", str(out)]
    frames = ["--frames-per-clip", "4", "--heldout-per-clip", "2", "--short-side", "48"]
    clip_args = ["--calibrate", *map(str, clips[:2]), "--heldout", *map(str, clips[2:])]
    assert cli.main([*common, "--calibrate", str(clips[0]), "--heldout", str(clips[0])]) == 1
    assert "held-out clips must not be calibration clips" in capsys.readouterr().err
    # threshold 0: accepted whatever the IoU (the 0.98 rule is exercised by the benchmark)
    code = cli.main([*common, *clip_args, *frames, "--min-iou", "0", "--no-accuracy-control"])
    assert code == 0, capsys.readouterr()
    assert "openvino int8 accepted" in capsys.readouterr().out
    segmenter = Segmenter(ckpt, backend="openvino", ir=out, short_side=SHORT_SIDE)
    assert segmenter.backend.name == "openvino-int8"
    assert segmenter.backend.metadata["heldout_clips"] == "clip2.mp4,clip3.mp4"
    assert segmenter.backend.metadata["int8_convolutions"] == "11/11"
    pred = segmenter.predict([np.zeros((60, 80, 3), np.uint8)])[0]
    assert pred.foreground.shape == (60, 80)
    # auto takes an accepted int8 model it is given
    assert Segmenter(ckpt, backend="auto", ir=out, device="cpu").backend.name == "openvino-int8"


@pytest.mark.slow
def test_openvino_accuracy_control_reaches_the_validation_target(decisive_model, clips, tmp_path):
    pytest.importorskip("nncf")
    from trt.quantize import quantize_openvino, sample_frames, split_alternate

    calibration, validation = split_alternate(sample_frames(clips[:2], 4, SHORT_SIDE))
    heldout = sample_frames(clips[2:], 2, SHORT_SIDE)
    result = quantize_openvino(
        decisive_model, tmp_path / "ac.xml", calibration, validation, heldout, max_drop=0.002
    )
    assert result.validation_mask_iou >= 0.998 - 1e-6
    assert result.accepted == (result.heldout_mask_iou >= 0.98)
    quantized, total = map(int, result.metadata["int8_convolutions"].split("/"))
    assert total == 11 and result.metadata["precision"] == ("int8" if quantized else "fp32")
