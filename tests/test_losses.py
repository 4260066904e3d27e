"""Tests of the view-synthesis objective (amd_train/losses.py). Small tensors, CPU, fast."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from amd_train.losses import (
    LossConfig,
    occlusion_mask,
    photometric_error,
    smoothness,
    splat_weights,
    ssim_distance,
    view_synthesis_loss,
)

SIZE = 32


def _textured(batch: int = 2, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random texture ``B×3×size×size`` in [0, 1] (noise blurred, so warping works)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch, 3, size // 4, size // 4, generator=gen)
    return F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)


def _pyramid(flow: torch.Tensor, levels: int = 5) -> list[torch.Tensor]:
    """Constant flow at every scale, values halved with the size (pixels of each scale)."""
    out = []
    for i in range(levels):
        h, w = flow.shape[-2] >> i, flow.shape[-1] >> i
        out.append(F.interpolate(flow, size=(h, w), mode="area") / (2**i))
    return out


def _constant_flow(dx: float, dy: float, batch: int = 2, size: int = SIZE) -> torch.Tensor:
    flow = torch.zeros(batch, 2, size, size)
    flow[:, 0] = dx
    flow[:, 1] = dy
    return flow


def test_identical_frames_zero_flow_give_zero_loss():
    img = _textured()
    zero = _pyramid(_constant_flow(0, 0))
    total, terms = view_synthesis_loss(zero, zero, img, img.clone())
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    assert terms["occlusion_fw"].item() == 1.0


def test_matching_shift_beats_zero_flow():
    shift = 3
    frame_a = _textured(size=SIZE + 2 * shift, seed=1)
    # B is A moved 3 px to the right: B(x) = A(x - 3), so A(x) = B(x + 3): flow_fw = +3
    frame_b = torch.roll(frame_a, shifts=shift, dims=-1)
    crop = slice(shift, shift + SIZE)
    frame_a, frame_b = frame_a[..., crop, crop], frame_b[..., crop, crop]
    cfg = LossConfig(scale_weights=(1.0,))
    right = view_synthesis_loss(
        [_constant_flow(shift, 0)], [_constant_flow(-shift, 0)], frame_a, frame_b, cfg
    )[0]
    zero = view_synthesis_loss(
        [_constant_flow(0, 0)], [_constant_flow(0, 0)], frame_a, frame_b, cfg
    )[0]
    assert right.item() < 1e-4
    assert zero.item() > 20 * right.item() + 1e-2


def test_photometric_error_on_interior_of_shift():
    img = _textured(seed=2)
    shifted = torch.roll(img, shifts=-3, dims=-1)  # shifted(x) = img(x + 3)
    recon = torch.roll(shifted, shifts=3, dims=-1)
    cfg = LossConfig()
    inner = (..., slice(4, -4), slice(4, -4))
    good = photometric_error(img[inner], recon[inner], None, cfg)
    bad = photometric_error(img[inner], shifted[inner], None, cfg)
    assert good.item() == pytest.approx(0.0, abs=1e-6)
    assert bad.item() > 0.01


def test_occlusion_band_for_known_translation():
    # flow_bw = +3: pixel x of B lands on x + 3 of A, so A's columns 0..2 receive
    # nothing (they left the view of B: disoccluded on the left), the rest exactly 1.
    flow_bw = _constant_flow(3, 0, batch=1, size=16)
    occ_a = occlusion_mask(flow_bw, threshold=0.2)
    assert occ_a.shape == (1, 1, 16, 16)
    assert torch.all(occ_a[..., :3] == 0)
    assert torch.all(occ_a[..., 3:] == 1)
    # and it reaches the loss's diagnostics: 13 of 16 columns of A visible
    zero = [torch.zeros(1, 2, 16, 16)]
    img = _textured(batch=1, size=16)
    cfg = LossConfig(scale_weights=(1.0,))
    _, terms = view_synthesis_loss(zero, [flow_bw], img, img, cfg)
    assert terms["occlusion_fw"].item() == pytest.approx(13 / 16)
    assert terms["occlusion_bw"].item() == 1.0


def test_splat_zero_flow_is_exactly_one():
    weights = splat_weights(torch.zeros(3, 2, 7, 9))
    assert weights.shape == (3, 1, 7, 9)
    assert torch.equal(weights, torch.ones_like(weights))


def test_splat_half_pixel_and_out_of_bounds():
    flow = _constant_flow(0.5, 0, batch=1, size=6)
    weights = splat_weights(flow)[0, 0]
    # column 0 receives half of pixel 0, interior columns two halves, and the half
    # that pixel 5 sends beyond the right border is dropped
    assert torch.allclose(weights[:, 0], torch.full((6,), 0.5))
    assert torch.allclose(weights[:, 1:], torch.ones(6, 5))
    assert weights.sum().item() == pytest.approx(36 - 3)
    nan_flow = torch.full((1, 2, 4, 4), math.nan)
    assert torch.equal(splat_weights(nan_flow), torch.zeros(1, 1, 4, 4))


def test_ssim_distance_identical_is_zero_and_shape():
    img = _textured(batch=1, size=10)
    dist = ssim_distance(img, img)
    assert dist.shape == (1, 3, 8, 8)
    assert torch.allclose(dist, torch.zeros_like(dist), atol=1e-6)
    assert ssim_distance(img, 1 - img).mean().item() > 0.1


def test_gradients_reach_flows():
    img_a = _textured(seed=3)
    img_b = torch.roll(img_a, shifts=2, dims=-1)
    fw = [f.requires_grad_() for f in _pyramid(_constant_flow(0.7, -0.4))]
    bw = [f.requires_grad_() for f in _pyramid(_constant_flow(-0.7, 0.4))]
    total, _ = view_synthesis_loss(fw, bw, img_a, img_b, LossConfig(w_smooth=0.1))
    total.backward()
    for i in range(4):
        assert fw[i].grad is not None and fw[i].grad.abs().sum() > 0
        assert bw[i].grad is not None and bw[i].grad.abs().sum() > 0
    assert fw[4].grad is None  # weight-0 scale: not part of the graph


def test_terms_are_named_finite_scalars_and_zero_weight_scales_skipped():
    img_a, img_b = _textured(seed=4), _textured(seed=5)
    fw = _pyramid(_constant_flow(1.0, 0.5))
    bw = _pyramid(_constant_flow(-1.0, -0.5))
    # a poisoned coarsest scale: if weight 0 did not skip it, NaN would leak into the total
    fw[4] = torch.full_like(fw[4], math.nan)
    total, terms = view_synthesis_loss(fw, bw, img_a, img_b)
    assert torch.isfinite(total)
    expected = {f"photometric_s{i}" for i in range(4)}
    expected |= {"photometric", "smooth", "occlusion_fw", "occlusion_bw", "flow_mag"}
    assert set(terms) == expected
    for name, value in terms.items():
        assert value.dim() == 0 and torch.isfinite(value), name
        assert not value.requires_grad, name
    weighted = sum(terms[f"photometric_s{i}"] for i in range(4))
    assert terms["photometric"].item() == pytest.approx(weighted.item(), rel=1e-5)
    assert terms["flow_mag"].item() == pytest.approx(math.hypot(1.0, 0.5), rel=1e-5)


def test_smoothness_zero_for_constant_flow_and_config_checks():
    img = _textured(batch=1, size=8)
    assert smoothness(_constant_flow(2, 1, batch=1, size=8), img).item() == 0.0
    ramp = torch.arange(8.0).expand(1, 2, 8, 8).contiguous()
    assert smoothness(ramp, torch.zeros(1, 3, 8, 8)).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="scale_weights"):
        view_synthesis_loss([torch.zeros(1, 2, 8, 8)], [torch.zeros(1, 2, 8, 8)], img, img)
    with pytest.raises(ValueError):
        LossConfig(scale_weights=(1.0, -1.0))


def _naive_splat(flow: torch.Tensor) -> torch.Tensor:
    """Pixel-by-pixel bilinear splatting, the slow obvious way (tiny inputs only)."""
    b, _, h, w = flow.shape
    out = torch.zeros(b, 1, h, w, dtype=torch.float64)
    for n in range(b):
        for y in range(h):
            for x in range(w):
                tx, ty = x + flow[n, 0, y, x].item(), y + flow[n, 1, y, x].item()
                x0, y0 = math.floor(tx), math.floor(ty)
                for cx, cy in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                    if 0 <= cx < w and 0 <= cy < h:
                        out[n, 0, cy, cx] += (1 - abs(tx - cx)) * (1 - abs(ty - cy))
    return out.float()


def _naive_direction(flows, flows_other, target, source, weights):
    """One direction of the objective written out directly from DESIGN.md."""
    occ_full = (_naive_splat(flows_other[0]) >= 0.2).float()
    total = 0.0
    for flow, weight in zip(flows, weights):
        size = flow.shape[-2:]
        img = F.interpolate(target, size=size, mode="area")
        src = F.interpolate(source, size=size, mode="area")
        occ = F.interpolate(occ_full, size=size, mode="nearest")
        h, w = flow.shape[-2:]
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid = torch.stack(
            ((gx + flow[:, 0]) * 2 / (w - 1) - 1, (gy + flow[:, 1]) * 2 / (h - 1) - 1), dim=-1
        )
        recon = F.grid_sample(src, grid, padding_mode="border", align_corners=True)
        x, y = recon * occ, img * occ
        mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
        sx = F.avg_pool2d(x * x, 3, 1) - mu_x**2
        sy = F.avg_pool2d(y * y, 3, 1) - mu_y**2
        sxy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
        ssim = ((2 * mu_x * mu_y + 1e-4) * (2 * sxy + 9e-4)) / (
            (mu_x**2 + mu_y**2 + 1e-4) * (sx + sy + 9e-4)
        )
        dist = ((1 - ssim) / 2).clamp(0, 1)
        err = (0.15 * (img - recon).abs() * occ).mean() + (0.85 * dist).mean()
        total = total + weight * err / occ.mean()
    return total


def test_matches_direct_unbatched_reference():
    gen = torch.Generator().manual_seed(7)
    img_a, img_b = _textured(batch=2, size=16, seed=8), _textured(batch=2, size=16, seed=9)
    fw = [torch.randn(2, 2, 16 >> i, 16 >> i, generator=gen) * 2 / 2**i for i in range(3)]
    bw = [torch.randn(2, 2, 16 >> i, 16 >> i, generator=gen) * 2 / 2**i for i in range(3)]
    weights = (1.0, 0.5, 0.25)
    total, terms = view_synthesis_loss(fw, bw, img_a, img_b, LossConfig(scale_weights=weights))
    expected = (
        _naive_direction(fw, bw, img_a, img_b, weights)
        + _naive_direction(bw, fw, img_b, img_a, weights)
    ) / 2
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for flow in (fw[0], bw[0]):
        assert torch.allclose(splat_weights(flow), _naive_splat(flow), atol=1e-5)
    assert 0 < terms["occlusion_fw"].item() < 1


def test_all_occluded_frames_are_not_a_free_zero():
    """Huge flows mark every pixel occluded; with the guard the loss stays informative."""
    import torch

    from amd_train.losses import LossConfig, view_synthesis_loss

    torch.manual_seed(0)
    a = torch.rand(1, 3, 32, 32)
    b = torch.rand(1, 3, 32, 32)
    huge = [torch.full((1, 2, 32 // 2**i, 32 // 2**i), 1e4) for i in range(5)]
    guarded, terms = view_synthesis_loss(huge, huge, a, b)
    reference, _ = view_synthesis_loss(huge, huge, a, b, LossConfig(min_visible=0.0))
    assert float(reference) == 0.0  # the reference's degenerate minimum
    assert float(guarded) > 0.1 and float(terms["occlusion_fw"]) == 1.0


def test_dense_flow_weight_adds_the_dense_term_with_gradients(small_model):
    from amd_train.objective import training_objective

    torch.manual_seed(0)
    a, b = _textured(2, 64), _textured(2, 64, seed=1)
    masks = torch.rand(2, small_model.num_segments, 8, 8).softmax(1)
    out = small_model.motion(a, b, masks, masks)
    plain, plain_terms = training_objective(out, a, b)
    assert "dense_photometric" not in plain_terms
    total, terms = training_objective(out, a, b, LossConfig(dense_flow_weight=0.5))
    dense, _ = view_synthesis_loss(out.forward_dense, out.backward_dense, a, b)
    torch.testing.assert_close(total, plain + 0.5 * dense)
    torch.testing.assert_close(terms["dense_photometric"], dense.detach())
    total.backward()
    head = small_model.motion.estimator.predict_flow2[0].weight
    assert head.grad is not None and head.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="must be >= 0"):
        LossConfig(dense_flow_weight=-1.0)


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
