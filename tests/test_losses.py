"""Tests of the view-synthesis objective (amd_train/losses.py). Small tensors, CPU, fast."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from amd_train.losses import (
    LossConfig,
    consistency_occlusion_mask,
    occlusion_mask,
    photometric_error,
    smoothness,
    splat_weights,
    ssim_distance,
    view_synthesis_loss,
)
from amd_train.testing import smooth_texture as _textured

SIZE = 32


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


def test_consistency_occlusion_marks_only_what_the_other_flow_does_not_undo():
    # a 6-px square moving +3 px in x over a static scene (flows exactly right)
    fw = torch.zeros(1, 2, 16, 16)
    bw = torch.zeros(1, 2, 16, 16)
    fw[:, 0, 5:11, 2:8] = 3.0  # object in A at columns 2..7
    bw[:, 0, 5:11, 5:11] = -3.0  # object in B at columns 5..10
    visible_a = consistency_occlusion_mask(fw, bw)
    assert visible_a.shape == (1, 1, 16, 16)
    # A's scene pixels that B's object covers (columns 8..10 of its rows) are occluded
    assert torch.all(visible_a[0, 0, 5:11, 8:11] == 0)
    # the object itself, the scene it uncovers and the scene elsewhere are visible
    assert torch.all(visible_a[0, 0, 5:11, 2:8] == 1)
    assert visible_a[0, 0, :5].all() and visible_a[0, 0, 11:].all()
    assert visible_a.sum() == 256 - 18


def test_loss_uses_the_consistency_check_when_asked():
    img = _textured(batch=1, size=16)
    flow = _constant_flow(2, 0, batch=1, size=16)
    cfg = LossConfig(scale_weights=(1.0,), occlusion="consistency", min_visible=0.0)
    # forward +2 and backward +2 do not undo each other: every pixel fails the check
    _, terms = view_synthesis_loss([flow], [flow], img, img, cfg)
    assert terms["occlusion_fw"].item() == 0.0
    _, terms = view_synthesis_loss([flow], [-flow], img, img, cfg)
    assert terms["occlusion_fw"].item() == 1.0
    with pytest.raises(ValueError, match="occlusion"):
        LossConfig(occlusion="range")
