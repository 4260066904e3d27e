"""Tests of the terms on the segment masks (amd_train/segment_terms.py) and of
``training_objective`` adding them to the view-synthesis loss. Small tensors, CPU, fast."""

from __future__ import annotations

import math

import pytest
import torch

from amd_train.losses import LossConfig
from amd_train.testing import smooth_texture as _textured


def test_segment_usage_penalty_is_zero_for_even_usage_and_log_k_for_one_segment():
    from amd_train.segment_terms import segment_usage_penalty

    k = 5
    even = torch.full((2, k, 4, 4), 1.0 / k)
    one = torch.zeros(2, k, 4, 4)
    one[:, 2] = 1.0
    assert float(segment_usage_penalty(even)) == pytest.approx(0.0, abs=1e-6)
    assert float(segment_usage_penalty(one)) == pytest.approx(math.log(k), rel=1e-5)
    # even over the batch, though each image uses one segment: only totals are constrained
    split = torch.zeros(k, k, 4, 4)
    for i in range(k):
        split[i, i] = 1.0
    assert float(segment_usage_penalty(split)) == pytest.approx(0.0, abs=1e-6)


def test_usage_weight_adds_the_penalty_and_its_gradient_revives_an_empty_segment(small_model):
    from amd_train.objective import training_objective
    from amd_train.segment_terms import segment_usage_penalty

    a, b = _textured(2, 64), _textured(2, 64, seed=1)
    logits = torch.zeros(2, small_model.num_segments, 8, 8)
    logits[:, 0] = 5.0  # segment 0 holds nearly everything, the others are almost empty
    logits.requires_grad_(True)
    masks = logits.softmax(1)
    out = small_model.motion(a, b, masks, masks)
    plain, _ = training_objective(out, a, b, masks=masks)
    total, terms = training_objective(out, a, b, LossConfig(usage_weight=0.1), masks=masks)
    torch.testing.assert_close(total, plain + 0.1 * segment_usage_penalty(masks))
    assert not terms["usage_penalty"].requires_grad  # terms are for logging
    (grad,) = torch.autograd.grad(0.1 * segment_usage_penalty(masks), logits)
    assert (grad[:, 1:] < 0).all() and (grad[:, 0] > 0).all()  # descent grows the empty ones
    with pytest.raises(ValueError, match="needs the masks"):
        training_objective(out, a, b, LossConfig(usage_weight=0.1))


def test_mask_entropy_is_zero_for_committed_masks_log_k_for_even_ones_and_sharpens(small_model):
    from amd_train.objective import training_objective
    from amd_train.segment_terms import mask_entropy

    k = 3
    one_hot = torch.zeros(2, k, 6, 6)
    one_hot[:, 1] = 1.0
    assert float(mask_entropy(one_hot)) == pytest.approx(0.0, abs=1e-4)
    even = torch.full((2, k, 6, 6), 1.0 / k)
    assert float(mask_entropy(even)) == pytest.approx(math.log(k), rel=1e-5)

    a, b = _textured(2, 64), _textured(2, 64, seed=1)
    logits = torch.zeros(2, small_model.num_segments, 8, 8)
    logits[:, 0] = 1.0  # segment 0 leads everywhere, but not by much
    logits.requires_grad_(True)
    masks = logits.softmax(1)
    out = small_model.motion(a, b, masks, masks)
    plain, _ = training_objective(out, a, b, masks=masks)
    cfg = LossConfig(mask_entropy_weight=0.2)
    total, terms = training_objective(out, a, b, cfg, masks=masks)
    torch.testing.assert_close(total, plain + 0.2 * mask_entropy(masks))
    assert not terms["entropy_penalty"].requires_grad
    (grad,) = torch.autograd.grad(mask_entropy(masks), logits)
    assert (grad[:, 0] < 0).all() and (grad[:, 1:] > 0).all()  # descent commits to the leader
    with pytest.raises(ValueError, match="needs the masks"):
        training_objective(out, a, b, cfg)
    with pytest.raises(ValueError, match="loss weights"):
        LossConfig(mask_entropy_weight=-0.1)


def test_mask_entropy_term_counts_only_from_its_start_step():
    cfg = LossConfig(mask_entropy_weight=0.3, mask_entropy_start_step=100)
    assert cfg.at_step(99).mask_entropy_weight == 0.0 and not cfg.at_step(99).needs_masks
    assert cfg.at_step(100) is cfg and cfg.needs_masks
    assert LossConfig().at_step(0) == LossConfig()
    with pytest.raises(ValueError, match="loss weights"):
        LossConfig(mask_entropy_start_step=-1)


def test_usage_floor_costs_only_the_shares_below_it():
    from amd_train.segment_terms import segment_usage_penalty

    masks = torch.zeros(1, 4, 10, 10)
    masks[:, 0] = 0.9
    masks[:, 1] = 0.07
    masks[:, 2] = 0.03  # segment 3 is empty
    # floor 0.05: segment 2 is 0.02 short (0.4 of the floor), segment 3 is 1 floor short
    assert float(segment_usage_penalty(masks, floor=0.05)) == pytest.approx(1.4, rel=1e-5)
    assert float(segment_usage_penalty(masks, floor=0.02)) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="usage_floor"):
        LossConfig(usage_floor=1.0)


def test_segment_flow_fit_is_zero_for_segments_that_move_as_one_and_one_when_they_do_not():
    from amd_train.segment_terms import segment_flow_fit

    flow = torch.zeros(2, 2, 16, 16)
    flow[:, 0, 4:10, 3:9] = 5.0  # an object moving 5 px right on a still background
    obj = torch.zeros(2, 1, 16, 16)
    obj[:, :, 4:10, 3:9] = 1.0
    split = torch.cat([obj, 1 - obj], 1)
    uniform = torch.full((2, 2, 16, 16), 0.5)
    assert float(segment_flow_fit(split, flow, noise_px=0.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(segment_flow_fit(uniform, flow, noise_px=0.0)) == pytest.approx(1.0, rel=1e-5)
    # masks at a coarser grid are resized to the flow's; a static scene does not divide by 0
    assert float(segment_flow_fit(split[:, :, ::2, ::2], torch.zeros(2, 2, 8, 8))) == 0.0


def test_segment_flow_fit_moves_a_pixel_to_the_segment_whose_flow_is_closest():
    from amd_train.segment_terms import segment_flow_fit

    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 1, :, :4] = 3.0  # left half moves down, right half is still
    logits = torch.zeros(1, 2, 8, 8)
    logits[:, 0, :, :4] = 1.0  # segment 0 leans to the left half, segment 1 to the right
    logits[:, 1, :, 4:] = 1.0
    logits[:, 1, 0, 0] = 2.0  # except one left pixel, which sits in segment 1
    logits.requires_grad_(True)
    (grad,) = torch.autograd.grad(segment_flow_fit(logits.softmax(1), flow), logits)
    # descent raises segment 0 (mean flow ≈ down) at that pixel, whatever the distance
    assert grad[0, 0, 0, 0] < 0 < grad[0, 1, 0, 0]
    assert grad[0, 1, 0, 7] < 0 < grad[0, 0, 0, 7]  # and keeps a right pixel in segment 1


def test_flow_fit_weight_fits_the_masks_to_the_mask_free_pixel_flow(small_model):
    from amd_plugin.modeling.motion import MotionPathway
    from amd_train.objective import training_objective
    from amd_train.segment_terms import segment_flow_fit

    a, b = _textured(2, 64), _textured(2, 64, seed=1)
    logits = torch.randn(2, 4, 8, 8, requires_grad=True)
    masks = logits.softmax(1)
    both = torch.cat([masks, masks])
    with pytest.raises(ValueError, match="motion_soft_argmax"):
        training_objective(
            small_model.motion(a, b, masks, masks),
            a,
            b,
            masks=both,
            cfg=LossConfig(flow_fit_weight=0.5),
        )
    torch.manual_seed(0)
    motion = MotionPathway(normalize_features=True, soft_argmax=True, min_level_size=4)
    out = motion(a, b, masks, masks)
    # the target owes nothing to the masks: other masks, the same pixel flow
    other = motion(a, b, masks.detach().flip(1), masks.detach().flip(1))
    torch.testing.assert_close(out.forward_pixel, other.forward_pixel)
    assert out.forward_pixel.shape == (2, 2, 16, 16) and not out.forward_pixel.requires_grad
    plain, _ = training_objective(out, a, b, masks=both)
    total, terms = training_objective(out, a, b, LossConfig(flow_fit_weight=0.5), masks=both)
    pixel = torch.cat([out.forward_pixel, out.backward_pixel])
    torch.testing.assert_close(total, plain + 0.5 * segment_flow_fit(both, pixel))
    torch.testing.assert_close(terms["flow_fit"], segment_flow_fit(both, pixel))
    (grad,) = torch.autograd.grad(segment_flow_fit(both, pixel), logits)
    assert grad.abs().sum() > 0
    with pytest.raises(ValueError, match="needs the masks"):
        training_objective(out, a, b, LossConfig(flow_fit_weight=0.5))
    # the recorded alternative: the finest dense flow, which the masks themselves shaped
    dense_cfg = LossConfig(flow_fit_weight=0.5, flow_fit_target="dense")
    total, _ = training_objective(out, a, b, dense_cfg, masks=both)
    dense = torch.cat([out.forward_dense[0], out.backward_dense[0]])
    torch.testing.assert_close(total, plain + 0.5 * segment_flow_fit(both, dense))
    with pytest.raises(ValueError, match="flow_fit_target"):
        LossConfig(flow_fit_target="whole")


def test_own_frame_masks_switch_on_at_their_step_and_never_by_default():
    cfg = LossConfig(own_frame_masks_from_step=300)
    assert not cfg.own_frame_masks_at(299) and cfg.own_frame_masks_at(300)
    assert not any(LossConfig().own_frame_masks_at(s) for s in (0, 1, 10**6))
    with pytest.raises(ValueError):
        LossConfig(own_frame_masks_from_step=-1)


def disk_logits(size: int, centre: tuple[float, float], radius: float) -> torch.Tensor:
    """Two-segment logits ``1×2×size×size`` of a sharp disk (channel 0) on the scene."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    inside = ((ys - centre[0]) ** 2 + (xs - centre[1]) ** 2 < radius**2).float()
    return torch.stack([inside, 1.0 - inside])[None] * 20.0


def test_rotation_consistency_is_zero_for_turning_masks_and_counts_an_offset_outline():
    from amd_train.segment_terms import rotation_consistency

    logits = torch.randn(2, 3, 8, 8)
    assert float(rotation_consistency(logits, logits.flip(-2, -1))) == pytest.approx(0, abs=1e-7)
    # a net that draws every disk one pixel right of where it is: for the turned image it
    # draws the turned disk one pixel right too, i.e. one pixel left once turned back
    size, radius = 32, 8.0
    right = disk_logits(size, (16.0, 17.0), radius)  # the disk is centred at (16, 16)
    right_of_turned = disk_logits(size, (16.0, 17.0), radius)
    term = float(rotation_consistency(right, right_of_turned))
    differing = (right.argmax(1) != right_of_turned.flip(-2, -1).argmax(1)).float().mean()
    assert term == pytest.approx(float(differing), rel=1e-3)
    assert term > 0.02  # two 1-px crescents on either side of a 16-px disk in a 32-px frame
    centred = disk_logits(size, (16.0, 16.0), radius)
    assert float(rotation_consistency(centred, centred)) == pytest.approx(0, abs=1e-7)


def test_centroid_form_measures_where_segments_lie_not_their_outlines():
    from amd_train.segment_terms import rotation_consistency

    logits = torch.randn(2, 3, 8, 8)
    turned = logits.flip(-2, -1)
    assert float(rotation_consistency(logits, turned, "centroids")) == pytest.approx(0, abs=1e-6)
    size, radius = 32, 8.0
    right = disk_logits(size, (16.0, 17.0), radius)
    # the disk one pixel right in both maps: its turned-back centroid is 2 px (1/16 of the
    # side) off; the scene's centroid moves the other way by the disk's share of that
    disk_share = math.pi * radius**2 / size**2
    scene_shift = 2 / size * disk_share / (1 - disk_share)
    expected = (2 / size + scene_shift) / 2
    term = float(rotation_consistency(right, right, "centroids"))
    assert term == pytest.approx(expected, rel=0.05)
    # a turn-consistent disk costs nothing however long its outline; the pixel form does not
    # tell a smaller offset disk from a larger one the same way: it grows with the outline
    small = disk_logits(size, (16.0, 17.0), radius / 2)
    small_term = float(rotation_consistency(small, small, "centroids"))
    assert small_term == pytest.approx(term, rel=0.3)
    assert float(rotation_consistency(small, small)) < 0.6 * float(
        rotation_consistency(right, right)
    )
    # an (almost) empty segment hardly counts
    empty = torch.stack([torch.full((size, size), -20.0), torch.zeros(size, size)])[None]
    empty[0, 0, 0, 0] = 20.0  # one stray pixel in the corner, far from its turned twin
    assert float(rotation_consistency(empty, empty, "centroids")) < 0.02
    with pytest.raises(ValueError, match="pixels or centroids"):
        rotation_consistency(logits, turned, "moments")
    with pytest.raises(ValueError, match="pixels or centroids"):
        LossConfig(rotation_consistency_form="moments")


def test_rotation_consistency_weight_adds_the_term_and_needs_the_turned_logits(small_model):
    from amd_train.objective import training_objective

    a, b = _textured(2, 64), _textured(2, 64, seed=1)
    masks = torch.full((2, small_model.num_segments, 8, 8), 1.0 / small_model.num_segments)
    motion = small_model.motion(a, b, masks, masks)
    cfg = LossConfig(rotation_consistency_weight=0.5)
    with pytest.raises(ValueError, match="turned images"):
        training_objective(motion, a, b, cfg)
    logits = torch.randn(2, small_model.num_segments, 8, 8)
    total, terms = training_objective(motion, a, b, cfg, rotated_logits=(logits, logits))
    base, _ = training_objective(motion, a, b, LossConfig())
    assert float((total - base).detach()) == pytest.approx(
        0.5 * float(terms["rotation_consistency"])
    )
    assert float(terms["rotation_consistency"]) > 0


def test_rotation_consistency_counts_only_from_its_start_step():
    cfg = LossConfig(rotation_consistency_weight=0.1, rotation_consistency_start_step=100)
    assert cfg.at_step(99).rotation_consistency_weight == 0.0
    assert cfg.at_step(100).rotation_consistency_weight == 0.1
    with pytest.raises(ValueError):
        LossConfig(rotation_consistency_start_step=-1)
    with pytest.raises(ValueError):
        LossConfig(rotation_consistency_weight=-0.1)


def test_training_with_rotation_consistency_logs_the_term_and_needs_centred_grids(tmp_path):
    import json

    from amd_train.config import ConfigError, load_train_config
    from amd_train.testing import TINY_TRAINING
    from amd_train.trainer import train

    world = ["data.kind=synthetic", "data.synthetic.height=64", "data.synthetic.width=64",
             "data.synthetic_videos_per_epoch=8", "eval.synthetic_videos=0",
             "run.max_minutes=0", "run.max_steps=3", "run.batch_size=2"]  # fmt: skip
    overrides = [*TINY_TRAINING, *world, "loss.rotation_consistency_weight=0.1",
                 "loss.rotation_consistency_start_step=0"]  # fmt: skip
    with pytest.raises((ConfigError, ValueError), match="small_centred_downsampling"):
        load_train_config("synthetic.yaml", [*overrides, "model.small_centred_downsampling=false"])
    overrides += ["model.small_centred_downsampling=true", f"run.out_dir={tmp_path / 'run'}"]
    train(load_train_config("synthetic.yaml", overrides), show_progress=False)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    turns = [r["rotation_consistency"] for r in records if r["kind"] == "train"]
    assert len(turns) == 3 and all(0 < t <= 1 for t in turns)
    # from its start step on only: the first step logs no term
    overrides += ["loss.rotation_consistency_start_step=1", f"run.out_dir={tmp_path / 'late'}"]
    train(load_train_config("synthetic.yaml", overrides), show_progress=False)
    records = [
        json.loads(x) for x in (tmp_path / "late" / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r["step"] for r in records if r["kind"] == "train" and "rotation_consistency" in r]
    assert steps == [2, 3]
