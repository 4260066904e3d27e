"""Architecture facts of DESIGN.md §2, checked on the real modules."""

import dataclasses

import pytest
import torch

from amd_plugin import AMD, ModelConfig
from amd_plugin.modeling.correlation import (
    cost_volume,
    cost_volume_dense,
    cost_volume_reference,
)
from amd_plugin.modeling.motion import MotionPathway, compose_segment_flow


def test_parameter_counts_match_reference():
    model = AMD(ModelConfig())
    appearance = sum(p.numel() for p in model.appearance.parameters())
    motion = sum(p.numel() for p in model.motion.parameters())
    resnet50_body = 23_508_032  # torchvision resnet50 without fc
    head = 2048 * 256 * 9 + 2 * 256 + 256 * 256 * 9 + 2 * 256 + 256 * 5 + 5
    assert appearance == resnet50_body + head == 28_818_757
    assert motion == 1_721_714


def test_resnet50_stage_pattern():
    backbone = AMD(ModelConfig()).appearance.backbone
    assert backbone.layer2[0].conv2.stride == (2, 2)
    assert backbone.layer3[0].conv2.stride == (1, 1) and backbone.layer3[0].conv2.dilation == (1, 1)
    assert all(block.conv2.dilation == (2, 2) for block in backbone.layer4)  # first block too
    assert backbone.layer4[0].conv2.stride == (1, 1)


@pytest.mark.parametrize("backbone", ["resnet18", "small"])
@pytest.mark.parametrize("size", [(64, 64), (72, 104), (97, 131)])
def test_appearance_output_stride_8(backbone, size):
    model = AMD(ModelConfig(backbone=backbone, num_segments=4)).eval()
    with torch.no_grad():
        logits = model.appearance(torch.randn(2, 3, *size))
    assert logits.shape == (2, 4, -(-size[0] // 8), -(-size[1] // 8))


@pytest.mark.parametrize("size", [(64, 64), (72, 104), (97, 131)])
def test_quarter_scale_logits_have_output_stride_4(size):
    cfg = ModelConfig(
        backbone="small", small_width=8, num_segments=3, small_quarter_scale_logits=True
    )
    model = AMD(cfg).eval()
    assert model.appearance.output_stride == 4
    with torch.no_grad():
        logits = model.appearance(torch.randn(2, 3, *size))
    assert logits.shape == (2, 3, -(-size[0] // 4), -(-size[1] // 4))


def test_untrained_quarter_scale_refinement_returns_the_upsampled_coarse_logits():
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone="small", small_width=8, num_segments=2, small_quarter_scale_logits=True
    )
    appearance = AMD(cfg).eval().appearance
    images = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        coarse = appearance.head(appearance.backbone(images))
        refined = appearance(images)
    up = torch.nn.functional.interpolate(
        coarse, size=(16, 24), mode="bilinear", align_corners=False
    )
    assert coarse.shape[-2:] == (8, 12) and coarse.abs().max() > 0.01
    assert torch.allclose(refined, up, atol=1e-6)


def test_quarter_scale_refinement_learns_from_the_first_step():
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone="small",
        small_width=8,
        num_segments=2,
        motion_size=(64, 64),
        small_quarter_scale_logits=True,
    )
    model = AMD(cfg)
    refinement = model.appearance.refinement
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    frames = torch.randn(2, 3, 64, 64)
    for _ in range(2):
        out = model(frames, frames.roll(2, dims=-1))
        loss = out.logits_a.square().mean() + out.motion.forward[0].abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    # the zero-initialised residual conv moves at once, the layer before it from step two
    assert refinement.conv_residual.weight.abs().max() > 0
    assert refinement.fuse.conv.weight.grad.abs().max() > 0


def test_quarter_scale_logits_need_the_small_backbone():
    with pytest.raises(ValueError, match="small_quarter_scale_logits needs"):
        ModelConfig(backbone="resnet18", small_quarter_scale_logits=True)


def test_resnet50_output_stride_8():
    model = AMD(ModelConfig()).eval()
    with torch.no_grad():
        assert model.appearance(torch.randn(1, 3, 64, 96)).shape == (1, 5, 8, 12)


def test_motion_shapes_finest_first(small_model):
    b, k = 2, small_model.num_segments
    a, bb = torch.rand(b, 3, 64, 128), torch.rand(b, 3, 64, 128)
    masks = torch.rand(b, k, 8, 16).softmax(1)
    out = small_model.motion(a, bb, masks, masks)
    for flows in (out.forward, out.backward, out.forward_whole, out.backward_whole):
        assert [tuple(f.shape) for f in flows] == [
            (b, 2, 64 // 2**i, 128 // 2**i) for i in range(5)
        ]


def test_segment_flow_is_mask_weighted_sum_for_one_hot_masks(small_model):
    torch.manual_seed(1)
    b, k = 1, small_model.num_segments
    labels = torch.randint(0, k, (b, 64, 128))
    one_hot = torch.nn.functional.one_hot(labels, k).permute(0, 3, 1, 2).float()
    out = small_model.motion(torch.rand(b, 3, 64, 128), torch.rand(b, 3, 64, 128), one_hot, one_hot)
    # at the finest level (before the ×4 upsampling) the flow must equal Σ mask_k·flow_k; check
    # via the returned per-segment vectors on the full-resolution one-hot masks, where every
    # pixel carries exactly its segment's vector
    finest = out.forward[0]
    level_masks = torch.nn.functional.interpolate(
        one_hot, size=(16, 32), mode="bilinear", align_corners=True
    )
    expected = compose_segment_flow(level_masks, out.forward_segments / 4)
    upsampled = torch.nn.functional.interpolate(
        expected * 4, scale_factor=4, mode="bilinear", align_corners=True
    )
    assert torch.allclose(finest, upsampled, atol=1e-5)


def test_composition_picks_each_segments_vector():
    masks = torch.zeros(1, 3, 4, 4)
    masks[0, 0, :2] = 1
    masks[0, 1, 2:, :2] = 1
    masks[0, 2, 2:, 2:] = 1
    vectors = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    flow = compose_segment_flow(masks, vectors)
    assert torch.equal(flow[0, :, 0, 0], torch.tensor([1.0, 2.0]))
    assert torch.equal(flow[0, :, 3, 0], torch.tensor([3.0, 4.0]))
    assert torch.equal(flow[0, :, 3, 3], torch.tensor([5.0, 6.0]))


def test_constant_motion_pair_is_deterministic():
    torch.manual_seed(0)
    motion = MotionPathway().eval()
    image = torch.rand(1, 3, 128, 128)
    shifted = torch.roll(image, shifts=(0, 3), dims=(2, 3))
    masks = torch.zeros(1, 5, 16, 16)
    masks[:, 0] = 1
    with torch.no_grad():
        first = motion(image, shifted, masks, masks)
        second = motion(image, shifted, masks, masks)
    for x, y in zip(first.forward + first.backward, second.forward + second.backward):
        assert torch.equal(x, y)
    # one segment covering everything: the segment flow is spatially constant
    assert torch.allclose(
        first.forward[0], first.forward[0][:, :, :1, :1].expand_as(first.forward[0]), atol=1e-5
    )


@pytest.mark.parametrize("shape", [(2, 8, 9, 13), (1, 32, 24, 40), (2, 192, 6, 10), (1, 4, 36, 40)])
def test_fast_cost_volume_equals_reference(shape):
    torch.manual_seed(0)
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    ref = cost_volume_reference(f1, f2)
    weights = torch.randn_like(ref)
    g_ref = torch.autograd.grad((ref * weights).sum(), (f1, f2))
    # cost_volume picks the all-pairs path for small maps, the loop for the others: test both
    for fast in (cost_volume(f1, f2), cost_volume_dense(f1, f2)):
        assert fast.shape == (shape[0], 81, shape[2], shape[3])
        assert (fast - ref).abs().max() < 1e-6
        g_fast = torch.autograd.grad((fast * weights).sum(), (f1, f2))
        for a, b in zip(g_fast, g_ref):
            assert (a - b).abs().max() < 1e-6


def test_cost_volume_float32_matches():
    f1, f2 = torch.randn(2, 16, 12, 20), torch.randn(2, 16, 12, 20)
    assert (cost_volume(f1, f2) - cost_volume_reference(f1, f2)).abs().max() < 1e-6


def test_training_forward_backward_reaches_both_pathways(small_model):
    from amd_train.losses import view_synthesis_loss

    small_model.train()
    a, b = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    out = small_model(a, b)
    loss, _ = view_synthesis_loss(out.motion.forward, out.motion.backward, out.frame_a, out.frame_b)
    loss.backward()
    assert torch.isfinite(loss)
    assert small_model.appearance.head.conv_seg.weight.grad.abs().sum() > 0
    assert small_model.motion.estimator.conv1[0].weight.grad.abs().sum() > 0


def test_centred_motion_input_is_off_by_default_and_only_rescales_the_pyramid_input():
    assert ModelConfig().motion_center_input is False  # the released weights expect [0, 1]
    torch.manual_seed(0)
    plain = MotionPathway()
    centred = MotionPathway(center_input=True)
    centred.load_state_dict(plain.state_dict())
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    masks = torch.rand(1, 3, 8, 8).softmax(1)
    expected = plain(((a - 0.45) / 0.25), ((b - 0.45) / 0.25), masks, masks)
    got = centred(a, b, masks, masks)
    torch.testing.assert_close(got.forward[0], expected.forward[0])
    assert not torch.allclose(got.forward[0], plain(a, b, masks, masks).forward[0])


def test_feature_normalisation_gives_correlation_coefficients():
    from amd_plugin.modeling.correlation import cost_volume
    from amd_plugin.modeling.motion import normalize_pair

    assert ModelConfig().motion_normalize_features is False  # reference behaviour
    torch.manual_seed(0)
    # positive features with a different large offset in every channel, as random-init
    # features have: one offset per sample would leave most of it in the products
    f = torch.rand(2, 16, 12, 12) + torch.linspace(1.0, 6.0, 16)[None, :, None, None]
    n1, n2 = normalize_pair(f, f)
    torch.testing.assert_close(n1.mean((2, 3)), torch.zeros(2, 16), atol=1e-5, rtol=0)
    centre = 4 * 9 + 4  # zero displacement
    cost = cost_volume(n1, n2, 4)
    # matching positions correlate ≈ 1 (per-pixel spread around the joint std), others ≈ 0
    assert cost[:, centre].mean() > 0.9
    assert cost[:, centre + 1].mean().abs() < 0.2
    # an affine change of both maps (same for both) leaves the result unchanged
    m1, _ = normalize_pair(5 * f - 2, 5 * f - 2)
    torch.testing.assert_close(m1, n1, atol=1e-4, rtol=1e-4)


def test_soft_argmax_reads_the_cost_volumes_displacement():
    from amd_plugin.modeling.correlation import cost_volume
    from amd_plugin.modeling.motion import displacement_grid, normalize_pair, soft_argmax_flow

    torch.manual_seed(0)
    f1 = torch.randn(1, 8, 16, 16)
    f2 = torch.roll(f1, shifts=(-1, 2), dims=(2, 3))  # f1(y, x) = f2(y - 1, x + 2)
    cost = cost_volume(*normalize_pair(f1, f2), 4)
    pooled = cost[:, :, 4:-4, 4:-4].mean(dim=(2, 3))[:, None]  # B×1×81, away from the border
    flow = soft_argmax_flow(pooled, displacement_grid(4), torch.tensor(0.02))
    torch.testing.assert_close(flow, torch.tensor([[[2.0, -1.0]]]), atol=0.05, rtol=0)


def test_soft_argmax_segment_flow_follows_a_shift_before_any_training():
    import torch.nn.functional as F

    from amd_train.synthetic import SyntheticConfig, generate_video

    with pytest.raises(ValueError, match="normalize_features"):
        MotionPathway(soft_argmax=True)
    cfg = SyntheticConfig(height=128, width=128, num_frames=1, background_pan=0)
    image = torch.from_numpy(generate_video(cfg, (3, 0)).frames[0]).permute(2, 0, 1)[None] / 255
    a, b = image[..., 8:-8, 8:-8], image[..., 8:-8, 2:-14]  # b's content is 6 px to the right
    a, b = (F.interpolate(x, size=(128, 128), mode="bilinear") for x in (a, b))
    shift = 6 * 128 / 112
    ones = torch.ones(1, 1, 16, 16)
    options = dict(normalize_features=True, center_input=True)
    torch.manual_seed(0)
    with torch.no_grad():
        plain = MotionPathway(**options)(a, b, ones, ones)
        readout = MotionPathway(**options, soft_argmax=True)(a, b, ones, ones)
    assert plain.forward_segments.abs().max() < 0.5  # the untrained estimator reads nothing yet
    fx, fy = readout.forward_segments[0, 0].tolist()
    bx, by = readout.backward_segments[0, 0].tolist()
    assert 0.7 * shift < fx < 1.2 * shift and abs(fy) < 0.5, (fx, fy)
    assert 0.7 * shift < -bx < 1.2 * shift and abs(by) < 0.5, (bx, by)


def test_levels_below_min_level_size_are_skipped():
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    masks = torch.rand(2, 3, 16, 16).softmax(1)
    full = MotionPathway()
    skipping = MotionPathway(min_level_size=8)
    skipping.load_state_dict(full.state_dict())
    with torch.no_grad():
        out = skipping(a, b, masks, masks)
        reference = full(a, b, masks, masks)
    # flows are finest first: 1/4 (32×32), 1/8, 1/16 (8×8), 1/32 (4×4), 1/64 (2×2), ×4 upsampled
    for level in (3, 4):
        assert out.forward[level].abs().max() == 0 and out.backward_dense[level].abs().max() == 0
    assert out.forward[2].abs().max() > 0 and out.forward[0].abs().max() > 0
    assert not torch.allclose(out.forward[0], reference.forward[0])
    with pytest.raises(ValueError, match="motion_min_level_size"):
        ModelConfig(motion_size=(128, 128), motion_min_level_size=64)


@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_appearance_padding_removes_the_border_cue(padding):
    # A uniform image has nothing that tells positions apart except the padding: with zero
    # padding the logits vary across the map, with reflect / replicate they are uniform.
    image = torch.full((2, 3, 64, 64), 0.3)
    spreads = {}
    for mode in ("zeros", padding):
        torch.manual_seed(0)
        model = AMD(ModelConfig(backbone="small", appearance_padding=mode)).eval()
        with torch.no_grad():
            logits = model.appearance(image)
        spreads[mode] = float((logits - logits.mean((2, 3), keepdim=True)).abs().max())
    assert spreads["zeros"] > 1e-2
    assert spreads[padding] < 1e-4


def test_dense_flow_is_the_warp_plus_the_pixel_residual(small_model):
    b, k = 2, small_model.num_segments
    a, bb = torch.rand(b, 3, 64, 128), torch.rand(b, 3, 64, 128)
    masks = torch.rand(b, k, 8, 16).softmax(1)
    out = small_model.motion(a, bb, masks, masks)
    assert [f.shape for f in out.forward_dense] == [f.shape for f in out.forward]
    # the coarsest level warps with zero flow: there the dense flow is the pixel residual
    # alone, exactly the reference's accumulated "whole" flow
    torch.testing.assert_close(out.forward_dense[-1], out.forward_whole[-1])
    # finer levels are anchored at the segment flow used for the warp, not at "whole"
    assert not torch.allclose(out.forward_dense[0], out.forward_whole[0])


def test_full_resolution_masks_compose_each_scale_from_its_own_masks():
    torch.manual_seed(2)
    k = 2
    motion = MotionPathway(full_resolution_masks=True).eval()
    # object in the left 21 columns: not on a 4-px cell boundary of the finest level
    masks = torch.zeros(1, k, 64, 64)
    masks[:, 0, :, :21] = 1
    masks[:, 1, :, 21:] = 1
    with torch.no_grad():
        out = motion(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), masks, masks)
    vectors = out.forward_segments[0]  # K×2 at the motion resolution
    finest = out.forward[0][0]
    # every pixel carries exactly its own segment's vector, right up to the boundary
    assert torch.allclose(finest[:, :, :21], vectors[0].view(2, 1, 1).expand(2, 64, 21), atol=1e-5)
    assert torch.allclose(finest[:, :, 21:], vectors[1].view(2, 1, 1).expand(2, 64, 43), atol=1e-5)
    # coarser scales: area-averaged masks, the level's own vectors (same shapes as before)
    assert [tuple(f.shape[-2:]) for f in out.forward] == [(64 // 2**i,) * 2 for i in range(5)]


def test_full_resolution_masks_are_off_by_default_and_sharpen_the_training_masks():
    cfg = ModelConfig(backbone="small", num_segments=2, motion_size=(64, 64))
    assert not cfg.motion_full_resolution_masks
    torch.manual_seed(3)
    reference = AMD(cfg).eval()
    sharp = AMD(dataclasses.replace(cfg, motion_full_resolution_masks=True)).eval()
    sharp.load_state_dict(reference.state_dict())  # no new parameters
    a, b = torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        ref_out, sharp_out = reference(a, b), sharp(a, b)
    # the appearance outputs are the same; only what the motion pathway sees differs
    assert torch.equal(ref_out.masks_a, sharp_out.masks_a)
    assert not torch.allclose(ref_out.motion.forward[0], sharp_out.motion.forward[0])


def _pathway_twins(seed: int, **variant):
    """A default motion pathway and a ``variant`` one with the same weights, two random
    64×64 frames and two different 8×8 soft masks (so that the pairing shows in the flow)."""
    torch.manual_seed(seed)
    base, other = MotionPathway().eval(), MotionPathway(**variant).eval()
    other.load_state_dict(base.state_dict())
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    masks_a = torch.rand(1, 2, 8, 8).softmax(dim=1)
    return base, other, (a, b, masks_a, masks_a.flip(-1))


def test_pairing_override_equals_a_pathway_built_with_that_pairing():
    other, own, (a, b, masks_a, masks_b) = _pathway_twins(4, pair_masks_with_other_frame=False)
    with torch.no_grad():
        default = other(a, b, masks_a, masks_b)
        switched = other(a, b, masks_a, masks_b, pair_masks_with_other_frame=False)
        built = own(a, b, masks_a, masks_b)
    assert torch.equal(switched.forward[0], built.forward[0])
    assert torch.equal(switched.backward[0], built.backward[0])
    assert not torch.allclose(default.forward[0], switched.forward[0])


def test_aligned_paired_masks_are_warped_onto_the_flows_grid():
    motion = MotionPathway(full_resolution_masks=True, align_paired_masks=True)
    # frame 2's object in columns 25.. ; the flow so far says frame 1's pixels move 4 px right
    masks_2 = torch.zeros(1, 2, 64, 64)
    masks_2[:, 0, :, 25:] = 1
    masks_2[:, 1, :, :25] = 1
    level_flow = torch.zeros(1, 2, 16, 16)
    level_flow[:, 0] = 1.0  # 1 px of the 1/4 grid = 4 px at the output size
    vectors = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # B×K×2 in level pixels
    aligned, plain = (
        motion.compose_at_output_scales(masks_2, [level_flow], [vectors], align)[0]
        for align in (True, False)
    )
    # aligned: the object starts at column 21 on frame 1's grid (25 - 4); unaligned at 25
    assert torch.allclose(aligned[0, 0, :, 21:60], torch.full((64, 39), 4.0), atol=1e-4)
    assert torch.allclose(aligned[0, 0, :, :21], torch.zeros(64, 21), atol=1e-4)
    assert torch.allclose(plain[0, 0, :, 21:25], torch.zeros(64, 4), atol=1e-4)


def test_aligned_paired_masks_change_only_the_motion_and_not_with_own_frame_pairing():
    plain, aligned, (a, b, masks_a, masks_b) = _pathway_twins(5, align_paired_masks=True)
    with torch.no_grad():
        assert not torch.allclose(
            plain(a, b, masks_a, masks_b).forward[0], aligned(a, b, masks_a, masks_b).forward[0]
        )
        own = [m(a, b, masks_a, masks_b, False).forward[0] for m in (plain, aligned)]
    assert torch.equal(*own)  # a frame's own masks already lie on its grid
