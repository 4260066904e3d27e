"""Held-out evaluation during training: the no-model reference level and the record it adds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from amd_plugin import AMD, ModelConfig
from amd_train.config import load_train_config
from amd_train.heldout import HeldOutEvaluator, chance_iou


def test_chance_iou_known_answers():
    full = [np.ones((40, 60), bool)] * 3
    assert chance_iou(full) == pytest.approx(1.0)  # the whole-frame guess is exact
    yy, xx = np.mgrid[:40, :60]
    disk = (yy - 19.5) ** 2 + (xx - 29.5) ** 2 < 12**2  # radius 0.3 × 40
    assert chance_iou([disk, disk]) == pytest.approx(1.0)  # the centred-disk guess is exact
    corner = np.zeros((40, 60), bool)
    corner[:4, :6] = True  # 1 % of the frame, outside the disk
    assert chance_iou([corner]) == pytest.approx(corner.mean())


def test_heldout_record_carries_the_chance_level():
    cfg = load_train_config(
        "synthetic.yaml",
        [
            "eval.synthetic_videos=2",
            "eval.frames_per_video=3",
            "data.synthetic.height=64",
            "data.synthetic.width=64",
            "data.synthetic.num_frames=3",
        ],
    )
    evaluator = HeldOutEvaluator(cfg)
    expected = np.mean([chance_iou(gts) for _, _, gts in evaluator.videos])
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64)))
    result = evaluator.run(model)
    assert result["chance_iou"] == pytest.approx(expected)
    assert 0.0 < result["chance_iou"] < 1.0
    assert 0.0 <= result["iou"] <= result["oracle_iou"] + 1e-9 <= 1.0 + 1e-9


def test_evaluate_video_reports_every_channels_j_consistently():
    from amd_train.evaluate import evaluate_video

    cfg = load_train_config(
        "synthetic.yaml",
        ["eval.synthetic_videos=1", "eval.frames_per_video=3"]
        + [f"data.synthetic.{k}" for k in ("height=64", "width=64", "num_frames=3")],
    )
    name, frames, gts = HeldOutEvaluator(cfg).videos[0]
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64))).eval()
    with torch.no_grad():
        model.appearance.head.conv_seg.bias[0] = 5.0  # channel 0 covers the frame: J > 0
    every = evaluate_video(model, name, frames, gts, channel="oracle", boundary=False)
    per_channel = every.details["channel_J"]
    assert per_channel.shape == (model.num_segments,) and per_channel[0] > 0.05
    assert every.channel == every.oracle_channel == int(np.argmax(per_channel))
    for c in (0, model.num_segments - 1):  # a fixed channel scores what the table says
        fixed = evaluate_video(model, name, frames, gts, channel=c, boundary=False)
        assert fixed.j_mean == pytest.approx(per_channel[c])
