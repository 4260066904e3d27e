"""Motion pathway: a PWC-Net-lite that turns an image pair and soft masks into segment flow.

Reads like the paper: features of both frames are correlated coarse → fine; at each level a
shared estimator produces a 96-channel motion feature; the feature is average-pooled inside
every soft mask and a small head turns each pooled vector into one flow vector per segment;
the level's flow is Σ_k mask_k · flow_k. A dense ("whole") flow from the unpooled head is
accumulated alongside as a diagnostic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from amd_plugin.modeling.correlation import cost_volume
from amd_plugin.modeling.warp import flow_warp

PYRAMID_CHANNELS = (3, 16, 32, 64, 96, 128, 192)
NUM_LEVELS = 5  # coarsest (1/64) … 1/4
SEARCH_RADIUS = 4


def conv_lrelu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2), nn.LeakyReLU(0.1, inplace=True)
    )


class FeaturePyramid(nn.Module):
    """Six levels, each conv3×3/2 + LeakyReLU then conv3×3 + LeakyReLU.

    ``B×3×H×W`` → list of features, coarsest first: 192ch@1/64, 128@1/32, …, 16@1/2.
    """

    def __init__(self, channels: tuple[int, ...] = PYRAMID_CHANNELS) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(conv_lrelu(cin, cout, stride=2), conv_lrelu(cout, cout))
            for cin, cout in itertools.pairwise(channels)
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = image
        for conv in self.convs:
            x = conv(x)
            features.append(x)
        return features[::-1]


class FlowEstimator(nn.Module):
    """Shared densely connected estimator; returns the 96-channel motion feature.

    ``conv1..conv5`` widths 128, 128, 96, 64, 32, each fed the previous two outputs; the
    flow head (``predict_flow1`` 1×1 96→64 + LeakyReLU, ``predict_flow2`` 1×1 64→2) is applied
    both densely and to mask-pooled vectors.
    """

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.conv1 = conv_lrelu(cin, 128)
        self.conv2 = conv_lrelu(128, 128)
        self.conv3 = conv_lrelu(128 + 128, 96)
        self.conv4 = conv_lrelu(128 + 96, 64)
        self.conv5 = conv_lrelu(96 + 64, 32)
        self.predict_flow1 = conv_lrelu(64 + 32, 64, kernel=1)
        self.predict_flow2 = nn.Sequential(nn.Conv2d(64, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(x1)
        x3 = self.conv3(torch.cat([x1, x2], 1))
        x4 = self.conv4(torch.cat([x2, x3], 1))
        x5 = self.conv5(torch.cat([x3, x4], 1))
        return torch.cat([x4, x5], 1)

    def flow_head(self, feature: torch.Tensor) -> torch.Tensor:
        """``N×96×h×w`` → ``N×2×h×w``."""
        return self.predict_flow2(self.predict_flow1(feature))


def masked_average(feature: torch.Tensor, masks: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Average ``B×C×h×w`` features inside each of ``B×K×h×w`` soft masks → ``B×K×C``.

    ``eps`` keeps an empty mask from dividing by zero (the reference has no guard).
    """
    weighted = torch.einsum("bkhw,bchw->bkc", masks, feature)
    return weighted / (masks.sum(dim=(2, 3)).unsqueeze(-1) + eps)


def compose_segment_flow(masks: torch.Tensor, segment_flows: torch.Tensor) -> torch.Tensor:
    """Σ_k mask_k · flow_k: ``B×K×h×w`` masks and ``B×K×2`` vectors → ``B×2×h×w``."""
    return torch.einsum("bkhw,bkc->bchw", masks, segment_flows)


def normalize_pair(f1: torch.Tensor, f2: torch.Tensor, eps: float = 1e-6):
    """Centre and scale two ``B×C×h×w`` maps per channel by their joint statistics.

    Each channel's mean and variance are taken over the positions of both maps (so both get
    the same affine map). Per-channel centring matters: random-init features have a
    different positive offset in every channel, and one offset per sample leaves those in,
    so the products stay dominated by them (measured at the 1/4 level on shifted textures:
    the cost volume's spread over displacements was 8% of its mean with one offset per
    sample, ~100% per channel). The cost volume then holds correlation coefficients
    (≈ 1 for a match, ≈ 0 for unrelated positions).
    """
    dims = (2, 3)
    mean = (f1.mean(dims, keepdim=True) + f2.mean(dims, keepdim=True)) / 2
    var = (f1.var(dims, keepdim=True) + f2.var(dims, keepdim=True)) / 2
    std = (var + eps).sqrt()
    return (f1 - mean) / std, (f2 - mean) / std


def displacement_grid(radius: int) -> torch.Tensor:
    """The cost volume's ``(2r+1)²×2`` displacements (x, y), in its channel order."""
    d = torch.arange(-radius, radius + 1, dtype=torch.float32)
    dy, dx = torch.meshgrid(d, d, indexing="ij")
    return torch.stack([dx.reshape(-1), dy.reshape(-1)], dim=1)


def soft_argmax_flow(
    pooled_cost: torch.Tensor, displacements: torch.Tensor, temperature: torch.Tensor
) -> torch.Tensor:
    """Expected displacement under ``softmax(cost / T)``: ``B×K×D`` costs → ``B×K×2``."""
    weights = (pooled_cost / temperature).softmax(dim=-1)
    return weights @ displacements.to(weights.dtype)


def upsample_flow(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear (align_corners) ×factor upsampling; values scale with the grid."""
    return F.interpolate(flow * factor, scale_factor=factor, mode="bilinear", align_corners=True)


@dataclass
class MotionOutput:
    """Flows in pixels of the motion resolution, finest first, each ``B×2×h×w``.

    ``forward`` maps frame A's pixels into frame B (A is rebuilt by warping B with it);
    ``backward`` the reverse. ``*_segments`` hold the finest per-segment vectors ``B×K×2``.
    ``*_whole`` is the reference's dense diagnostic: per-pixel residuals accumulated on
    their own, although each level's residual is estimated after warping with the
    *segment* flow. ``*_dense`` is the consistent dense flow: at every level, the flow
    used for that level's warp plus the per-pixel residual (for ``loss.dense_flow_weight``).
    ``*_pixel`` (only with the soft-argmax readout) is a motion estimate that does not
    depend on the masks: :meth:`MotionPathway.pixel_flow`, ``B×2×h×w`` at 1/4, no gradient.
    """

    forward: list[torch.Tensor]
    backward: list[torch.Tensor]
    forward_whole: list[torch.Tensor]
    backward_whole: list[torch.Tensor]
    forward_segments: torch.Tensor
    backward_segments: torch.Tensor
    forward_dense: list[torch.Tensor] = field(default_factory=list)
    backward_dense: list[torch.Tensor] = field(default_factory=list)
    forward_pixel: torch.Tensor | None = None
    backward_pixel: torch.Tensor | None = None


class MotionPathway(nn.Module):
    """``(frame_a, frame_b, masks_a, masks_b)`` → :class:`MotionOutput`.

    Frames are ``B×3×H×W`` RGB in [0, 1] with H, W multiples of 64; masks are ``B×K×h×w``
    soft masks of any size (resized per level, bilinear, align_corners=True).
    With ``pair_masks_with_other_frame`` (reference behaviour, default) the flow on frame
    A's grid is composed with frame B's masks and vice versa. ``center_input`` maps the
    frames to ``(rgb - 0.45) / 0.25`` before the feature pyramid, and
    ``normalize_features`` correlates :func:`normalize_pair`-ed features, and
    ``soft_argmax`` adds :func:`soft_argmax_flow` of each segment's pooled cost volume to
    its flow (none of the three is in the reference). Levels whose grid is smaller than
    ``min_level_size`` on a side are skipped (their flow stays zero): at 128 px the 1/64 and
    1/32 levels are 2×2 and 4×4 grids, mostly zero padding, whose residuals are amplified
    ×64 and ×32 in the output (0 = every level, as in the reference).

    With ``full_resolution_masks`` (not in the reference) the masks come at the frames' own
    size, each level pools with their area average, and each output scale's segment flow is
    composed from the masks at that scale (``Σ_k mask_k · flow_k``) instead of being
    upsampled ×4 from the 1/4 grid: the flow then changes from one segment's vector to the
    other's as sharply as the masks do.
    """

    def __init__(
        self,
        pair_masks_with_other_frame: bool = True,
        center_input: bool = False,
        normalize_features: bool = False,
        soft_argmax: bool = False,
        min_level_size: int = 0,
        full_resolution_masks: bool = False,
        align_paired_masks: bool = False,
    ) -> None:
        super().__init__()
        if soft_argmax and not normalize_features:
            raise ValueError(
                "soft_argmax needs normalize_features (it reads correlation coefficients)"
            )
        self.pair_masks_with_other_frame = pair_masks_with_other_frame
        self.center_input = center_input
        self.normalize_features = normalize_features
        self.soft_argmax = soft_argmax
        self.min_level_size = min_level_size
        self.full_resolution_masks = full_resolution_masks
        self.align_paired_masks = align_paired_masks
        if soft_argmax:
            # correlation coefficients of matches differ by a few tenths: a sharp start
            self.log_temperature = nn.Parameter(torch.tensor(0.05).log())
            self.register_buffer(
                "displacements", displacement_grid(SEARCH_RADIUS), persistent=False
            )
        self.pyramid = FeaturePyramid()
        reduce_inputs = PYRAMID_CHANNELS[::-1][:NUM_LEVELS]  # 192, 128, 96, 64, 32
        self.reduce = nn.ModuleList(conv_lrelu(c, 32, kernel=1) for c in reduce_inputs)
        cost_channels = (2 * SEARCH_RADIUS + 1) ** 2
        self.estimator = FlowEstimator(cost_channels + 32 + 2)
        self.leaky = nn.LeakyReLU(0.1)
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming-normal convs, zero biases.

        The reference defines exactly this init (``PWCLite.init_weights``) but never calls it,
        so its released model started from PyTorch's default conv init. That default makes
        each layer's output ~2.5× smaller than Kaiming, which left the cost volume ≈ 0 at the
        start here, and its random biases start the flow at ~11 px (measured); Kaiming is
        used instead."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)
        # Start from (nearly) zero flow. With kaiming weights here the initial flows are
        # 5–10 px of noise; large flows make the splatting mark almost every pixel occluded,
        # and the occlusion-normalised loss has a degenerate zero at "all occluded" that
        # training then fell into (measured: flows → 1e5 px within 20 steps).
        self.estimator.predict_flow2[0].weight.data.mul_(0.01)

    def forward(
        self,
        frame_a: torch.Tensor,
        frame_b: torch.Tensor,
        masks_a: torch.Tensor,
        masks_b: torch.Tensor,
        pair_masks_with_other_frame: bool | None = None,
    ) -> MotionOutput:
        """``pair_masks_with_other_frame`` overrides the pairing set at construction
        (a training schedule may switch it, ``loss.own_frame_masks_from_step``)."""
        h, w = frame_a.shape[-2:]
        if h % 64 or w % 64:
            raise ValueError(f"motion pathway needs H, W multiples of 64, got {h}×{w}")
        # Both frames go through the pyramid in one batch, and both directions are decoded
        # in one batch too (A→B stacked on B→A): the weights are shared, and on a CPU half the
        # number of (small) ops is a large part of the step time.
        b = frame_a.shape[0]
        frames = torch.cat([frame_a, frame_b])
        if self.center_input:
            frames = (frames - 0.45) / 0.25
        pyramids = self.pyramid(frames)
        swapped = [torch.cat([f[b:], f[:b]]) for f in pyramids]
        if pair_masks_with_other_frame is None:
            pair_masks_with_other_frame = self.pair_masks_with_other_frame
        fw_masks, bw_masks = (
            (masks_b, masks_a) if pair_masks_with_other_frame else (masks_a, masks_b)
        )
        masks = torch.cat([fw_masks, bw_masks])
        align = self.align_paired_masks and pair_masks_with_other_frame
        flows, wholes, denses, segments = self.decode(pyramids, swapped, masks, align)
        finest = NUM_LEVELS - 1
        pixel = self.pixel_flow(pyramids[finest], swapped[finest]) if self.soft_argmax else None
        return MotionOutput(
            forward=[f[:b] for f in flows],
            backward=[f[b:] for f in flows],
            forward_whole=[f[:b] for f in wholes],
            backward_whole=[f[b:] for f in wholes],
            forward_segments=segments[:b],
            backward_segments=segments[b:],
            forward_dense=[f[:b] for f in denses],
            backward_dense=[f[b:] for f in denses],
            forward_pixel=None if pixel is None else pixel[:b],
            backward_pixel=None if pixel is None else pixel[b:],
        )

    @torch.no_grad()
    def pixel_flow(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Per-pixel soft-argmax of the finest level's cost volume, without any warp.

        ``N×C×h×w`` features of the two frames at 1/4 → ``N×2×h×w`` flow in pixels of the
        motion resolution (range ±4 cells = ±16 px). Unlike the dense flows it owes nothing
        to the masks (every level of :meth:`decode` warps with the *segment* flow), so it
        can teach the masks without their teaching themselves (``loss.flow_fit_weight``).
        """
        c1, c2 = normalize_pair(x1, x2)
        cost = cost_volume(c1, c2, SEARCH_RADIUS)  # N×D×h×w
        n, d, h, w = cost.shape
        per_pixel = cost.permute(0, 2, 3, 1).reshape(n, h * w, d)
        flow = soft_argmax_flow(per_pixel, self.displacements, self.log_temperature.exp())
        return flow.reshape(n, h, w, 2).permute(0, 3, 1, 2) * 4

    def decode(
        self,
        feats_1: list[torch.Tensor],
        feats_2: list[torch.Tensor],
        masks: torch.Tensor,
        align_masks: bool = False,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Coarse-to-fine flow from frame 1 to frame 2 (lists finest first, at 4× each
        level's grid): segment flows, whole (diagnostic) flows, dense flows, finest segment
        vectors. Segment flows are the level's flow upsampled ×4, or with
        ``full_resolution_masks`` composed from the masks at the output size.
        ``align_masks``: ``masks`` belong to frame 2; warp them onto frame 1's grid with
        the flow so far before composing (``align_paired_masks``)."""
        b, _, h0, w0 = feats_1[0].shape
        k = masks.shape[1]
        flow = feats_1[0].new_zeros(b, 2, h0, w0)
        whole = feats_1[0].new_zeros(b, 2, h0, w0)
        segment_flows = feats_1[0].new_zeros(b, k, 2)
        flows, wholes, denses = [], [], []
        level_vectors: list[torch.Tensor | None] = []  # each level's B×K×2 segment vectors
        for level in range(NUM_LEVELS):
            x1, x2 = feats_1[level], feats_2[level]
            if min(x1.shape[-2:]) < self.min_level_size:
                # too coarse to hold motion: pass zero flow on to the next, finer level
                flow = x1.new_zeros(b, 2, *x1.shape[-2:])
                whole = flow
                flows.append(flow)
                wholes.append(whole)
                denses.append(flow)
                level_vectors.append(None)
                continue
            if level > 0:
                flow = upsample_flow(flow, 2)
                whole = upsample_flow(whole, 2)
                segment_flows = segment_flows * 2  # constant per-segment maps: upsampling is ×2
                x2 = flow_warp(x2, flow)
            warp_flow = flow
            c1, c2 = normalize_pair(x1, x2) if self.normalize_features else (x1, x2)
            correlation = cost_volume(c1, c2, SEARCH_RADIUS)
            cost = self.leaky(correlation)
            feature = self.estimator(torch.cat([cost, self.reduce[level](x1), flow], 1))
            level_masks = self.masks_at(masks, x1.shape[-2:])
            if align_masks and level > 0:
                # frame 2's masks onto frame 1's grid, as x2 above; the flow only aligns
                level_masks = flow_warp(level_masks, warp_flow.detach())
            pooled = masked_average(feature, level_masks)  # B×K×96
            residual = self.estimator.flow_head(pooled.reshape(b * k, -1, 1, 1)).reshape(b, k, 2)
            if self.soft_argmax:
                pooled_cost = masked_average(correlation, level_masks)  # B×K×81
                residual = residual + soft_argmax_flow(
                    pooled_cost, self.displacements, self.log_temperature.exp()
                )
            segment_flows = segment_flows + residual
            level_vectors.append(segment_flows)
            flow = compose_segment_flow(level_masks, segment_flows)
            dense_residual = self.estimator.flow_head(feature)
            # `flow` was the warp of this level until the line above: x2 was warped with it
            denses.append(warp_flow + dense_residual)
            whole = whole + dense_residual
            flows.append(flow)
            wholes.append(whole)
        if self.full_resolution_masks:
            flows = self.compose_at_output_scales(
                masks, flows[::-1], level_vectors[::-1], align_masks
            )
        else:
            flows = [upsample_flow(f, 4) for f in flows[::-1]]
        wholes = [upsample_flow(f, 4) for f in wholes[::-1]]
        denses = [upsample_flow(f, 4) for f in denses[::-1]]
        return flows, wholes, denses, segment_flows * 4

    def masks_at(self, masks: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
        """``masks`` resized to ``size``: area average when shrinking full-resolution masks,
        else bilinear with aligned corners (the reference)."""
        if tuple(masks.shape[-2:]) == tuple(size):
            return masks
        if self.full_resolution_masks and masks.shape[-1] > size[-1]:
            return F.adaptive_avg_pool2d(masks, size)
        return F.interpolate(masks, size=size, mode="bilinear", align_corners=True)

    def compose_at_output_scales(
        self,
        masks: torch.Tensor,
        level_flows: list[torch.Tensor],
        level_vectors: list,
        align_masks: bool = False,
    ) -> list[torch.Tensor]:
        """Each level's segment flow (finest first) at 4× the level's grid, composed from the
        masks at that size and the level's ``B×K×2`` segment vectors (×4 with the grid); a
        skipped level (vectors None) keeps its zero flow, upsampled. ``align_masks``: the
        masks are first warped with the level's own flow (see :meth:`decode`)."""
        composed = []
        for flow, vectors in zip(level_flows, level_vectors):
            if vectors is None:
                composed.append(upsample_flow(flow, 4))
                continue
            size = (4 * flow.shape[-2], 4 * flow.shape[-1])
            scale_masks = self.masks_at(masks, size)
            if align_masks:
                scale_masks = flow_warp(scale_masks, upsample_flow(flow.detach(), 4))
            composed.append(compose_segment_flow(scale_masks, vectors * 4))
        return composed
