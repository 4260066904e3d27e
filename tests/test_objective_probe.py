"""benchmarks/objective_probe.py: GT bands and the losses it compares."""

from __future__ import annotations

import math

import pytest
import torch

from amd_plugin import AMD, ModelConfig
from amd_train.config import load_train_config
from amd_train.synthetic import generate_video


@pytest.fixture(scope="module")
def probe(benchmark_module):
    with benchmark_module("objective_probe") as module:
        yield module


def square(size: int = 16, lo: int = 5, hi: int = 11) -> torch.Tensor:
    gt = torch.zeros(1, 1, size, size)
    gt[..., lo:hi, lo:hi] = 1.0
    return gt


def test_grow_adds_and_shrink_removes_a_band_of_pixels(probe):
    gt = square()  # 6×6
    assert torch.equal(probe.grow(gt, 0), gt)
    assert probe.grow(gt, 2).sum() == 10 * 10
    assert probe.grow(gt, -2).sum() == 2 * 2
    assert torch.equal(probe.grow(gt, 2) * gt, gt)  # grown masks contain the object


def test_shift_moves_the_mask_and_fills_the_border_with_scene(probe):
    gt = square()
    moved = probe.shift(gt, 1, -2)
    assert torch.equal(moved[..., 6:12, 3:9], gt[..., 5:11, 5:11])
    assert moved.sum() == gt.sum()
    edge = torch.zeros(1, 1, 4, 4)
    edge[..., 0, :] = 1.0
    assert probe.shift(edge, -1, 0).sum() == 0  # moved out of the frame, nothing wraps round


def test_soft_masks_put_the_object_in_the_given_channel(probe):
    gt = square()
    for channel in (0, 1):
        masks = probe.soft_masks(gt, channel, (8, 8))
        assert masks.shape == (1, 2, 8, 8)
        assert torch.allclose(masks.sum(1), torch.ones(1, 8, 8))
        assert masks[0, channel, 4, 4] == 1.0 and masks[0, 1 - channel, 0, 0] == 1.0


def test_pair_losses_scores_every_kind_of_mask(probe):
    cfg = load_train_config(
        "synthetic.yaml", ["data.synthetic.height=64", "data.synthetic.width=64"]
    )
    video = generate_video(cfg.data.synthetic, (cfg.eval.seed, 0))
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, num_segments=2, motion_size=(64, 64)))
    losses = probe.pair_losses(
        model.eval(), cfg.loss, list(video.frames[:3]), list(video.masks[:3]), 1, channel=1
    )
    bands = ["gt" if b == 0 else f"gt{b:+d}px" for b in probe.BANDS]
    shifts = [f"gt@{dy:+d},{dx:+d}" for dy, dx in probe.SHIFTS]
    assert list(losses) == ["own", *bands, *shifts]
    assert all(math.isfinite(v) and v > 0 for v in losses.values())
    assert len(set(losses.values())) == len(losses)  # each mask explains the frames differently
