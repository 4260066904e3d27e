"""View-synthesis training objective of AMD (DESIGN.md §2, "Training objective").

Each frame is reconstructed from the other by backward warping with the predicted
(segment) flow, at several scales; the photometric error (L1 + SSIM distance) is counted
only on pixels that are visible in the other frame, as judged by forward splatting of the
opposite direction's flow. No labels and no external flow network are involved.

Conventions: flows are in pixels, ``B×2×h×w``, channel 0 = x (horizontal), channel 1 = y
(vertical). ``flows_fw`` lives on frame A's grid and points into frame B, so A is
reconstructed by sampling B at ``x + flow_fw(x)``; ``flows_bw`` is the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from amd_plugin.modeling.warp import flow_warp
from amd_train.occlusion import consistency_occlusion_mask, occlusion_mask, splat_weights

__all__ = [
    "LossConfig",
    "consistency_occlusion_mask",
    "occlusion_mask",
    "photometric_error",
    "smoothness",
    "splat_weights",
    "ssim_distance",
    "view_synthesis_loss",
]

# SSIM stabilisers for images in [0, 1] (the usual (0.01·L)², (0.03·L)² with L = 1).
_SSIM_C1 = 0.01**2
_SSIM_C2 = 0.03**2
# Guards the division by the visible fraction when a mask is (almost) all occluded; the
# numerator is then ~0 too, so the loss goes to 0 instead of NaN.
_MIN_VISIBLE = 1e-6


@dataclass(frozen=True)
class LossConfig:
    """Weights of the view-synthesis objective. Defaults are the paper's setting.

    Attributes:
        scale_weights: one weight per flow scale, finest first; a weight of 0 skips the
            scale entirely (no warping, no SSIM).
        w_l1: weight of the per-pixel absolute error.
        w_ssim: weight of the SSIM distance.
        occlusion_threshold: a pixel receiving less splatted weight than this is occluded.
        use_occlusion: mask occluded pixels out of the photometric error.
        occlusion: how occlusion is judged. ``splat`` (the reference): a pixel no pixel of
            the other frame lands on is occluded (:func:`occlusion_mask`). ``consistency``:
            a pixel whose flow the other direction's flow does not undo is occluded
            (:func:`consistency_occlusion_mask`, the forward-backward check of UnFlow;
            not in the paper). Splatting smooth segment flow leaves few holes (on the
            synthetic world ≥ 99.8 % of pixels count as visible), but measured with
            ``benchmarks/objective_probe.py`` the check made the loss favour grown object
            masks more, not less (``docs/experiments.md``).
        w_smooth: weight of first-order edge-aware flow smoothness (0 in the paper);
            evaluated at the finest scale only, with the flow divided by min(h, w).
        smooth_alpha: edge sensitivity of the smoothness weights ``exp(-alpha·|∇I|)``.
        warp_padding: ``grid_sample`` padding mode for the reconstruction.
        min_visible: a frame whose visible fraction falls below this is scored on all its
            pixels (guard against the degenerate "everything occluded" zero; 0 = off, as
            in the reference).
        dense_flow_weight: weight of the same loss applied to the motion pathway's
            per-pixel flow (``MotionOutput.forward_dense``: each level's warp plus the
            per-pixel residual of the flow head that the segment flows share). 0 = the
            paper (the reference computes a dense loss as a diagnostic but does not train
            on it). A per-pixel signal trains the shared estimator and head directly instead
            of through K pooled vectors (not in the paper).
        usage_weight: weight of :func:`~amd_train.segment_terms.segment_usage_penalty`
            (KL divergence of the batch's mean segment usage from uniform). 0 = the paper.
            With a motion readout that works from the first step, one segment took over
            every pixel and the softmax's gradient to the emptied channels vanished; this
            keeps them alive.
        usage_floor: 0 = penalise any departure from even usage (KL); > 0 = penalise only
            segments whose share of the batch falls below this (see the penalty).
        flow_fit_weight: weight of :func:`~amd_train.segment_terms.segment_flow_fit`: a
            k-means term that moves the masks' pixels into the segment whose mean flow is
            closest to theirs, fitted to the motion pathway's mask-free per-pixel flow
            (``MotionOutput.forward_pixel``; needs ``model.motion_soft_argmax``). 0 = the
            paper.
        flow_fit_noise: flow spread in px below which an image counts as static there.
        flow_fit_target: ``pixel`` (the mask-free flow above) or ``dense`` (the finest
            ``forward_dense``, which is built on the segment flow: recorded as an echo of
            the masks in ``docs/experiments.md``).
        mask_entropy_weight: weight of :func:`~amd_train.segment_terms.mask_entropy` (the
            masks' mean per-pixel entropy). 0 = the paper.
        mask_entropy_start_step: the entropy term counts from this optimizer step on
            (:meth:`at_step`). From step 0 it commits every pixel to one segment before any
            motion has been learnt (measured: within 50 steps at weight 0.3).
        own_frame_masks_from_step: from this optimizer step on, each frame's segment flow
            is composed with that frame's own masks instead of the other frame's (the
            reference pairing, ``model.pair_masks_with_other_frame``); 0 = never switch.
            Measured from step 3000 on the default world: the object segment turned into
            a ring along the outlines and the IoU fell from 0.81 to 0.32.
        rotation_consistency_weight: weight of
            :func:`~amd_train.segment_terms.rotation_consistency`: frame A also goes through
            the appearance pathway turned by 180°, and its masks must turn with it. A
            label-free constraint on where an outline lies, which the view-synthesis loss
            pins only weakly (not in the paper). Needs ``model.small_centred_downsampling``.
            0 = off (``synthetic.yaml``: 0.05 from step 1000, with a floor of 0.1 on each
            segment's share, without which it emptied the object segment on
            ``benchmarks/foreign_world.py``; measured in ``benchmarks/README.md``).
        rotation_consistency_start_step: the turn term counts from this optimizer step on
            (:meth:`at_step`). From step 0 the untrained net settled on one fixed mask
            symmetric under the turn, whatever the image (IoU at the guess for 1300 steps).
        rotation_consistency_form: ``pixels`` (every pixel's masks) or ``centroids`` (only
            where each segment lies, which an empty segment cannot game); see
            :func:`~amd_train.segment_terms.rotation_consistency`.
    """

    scale_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.0)
    w_l1: float = 0.15
    w_ssim: float = 0.85
    occlusion_threshold: float = 0.2
    use_occlusion: bool = True
    occlusion: str = "splat"
    w_smooth: float = 0.0
    smooth_alpha: float = 10.0
    warp_padding: str = "border"
    min_visible: float = 0.5
    dense_flow_weight: float = 0.0
    usage_weight: float = 0.0
    usage_floor: float = 0.0
    flow_fit_weight: float = 0.0
    flow_fit_noise: float = 0.5
    flow_fit_target: str = "pixel"
    mask_entropy_weight: float = 0.0
    mask_entropy_start_step: int = 0
    own_frame_masks_from_step: int = 0
    rotation_consistency_weight: float = 0.0
    rotation_consistency_start_step: int = 0
    rotation_consistency_form: str = "pixels"

    def __post_init__(self) -> None:
        if not self.scale_weights or any(w < 0 for w in self.scale_weights):
            raise ValueError(f"scale_weights must be non-empty and >= 0, got {self.scale_weights}")
        weights = (
            self.w_l1,
            self.w_ssim,
            self.w_smooth,
            self.dense_flow_weight,
            self.usage_weight,
            self.flow_fit_weight,
            self.mask_entropy_weight,
            self.rotation_consistency_weight,
        )
        if (
            min(weights) < 0
            or min(
                self.mask_entropy_start_step,
                self.own_frame_masks_from_step,
                self.rotation_consistency_start_step,
            )
            < 0
            or not 0 <= self.usage_floor < 1
        ):
            raise ValueError("loss weights and start steps must be >= 0, usage_floor in [0, 1)")
        if self.flow_fit_target not in ("pixel", "dense"):
            raise ValueError(
                f"flow_fit_target must be pixel or dense, got {self.flow_fit_target!r}"
            )
        if self.rotation_consistency_form not in ("pixels", "centroids"):
            raise ValueError(
                "rotation_consistency_form must be pixels or centroids, "
                f"got {self.rotation_consistency_form!r}"
            )
        if self.occlusion not in ("splat", "consistency"):
            raise ValueError(f"occlusion must be splat or consistency, got {self.occlusion!r}")
        if self.warp_padding not in ("zeros", "border", "reflection"):
            raise ValueError(f"unknown warp_padding {self.warp_padding!r}")

    def at_step(self, step: int) -> LossConfig:
        """The weights in force at optimizer step ``step`` (terms that start later are 0)."""
        cfg = self
        if cfg.mask_entropy_weight > 0 and step < cfg.mask_entropy_start_step:
            cfg = replace(cfg, mask_entropy_weight=0.0)
        if cfg.rotation_consistency_weight > 0 and step < cfg.rotation_consistency_start_step:
            cfg = replace(cfg, rotation_consistency_weight=0.0)
        return cfg

    def own_frame_masks_at(self, step: int) -> bool:
        """Whether the motion pathway pairs each frame's flow with its own masks at ``step``."""
        return 0 < self.own_frame_masks_from_step <= step

    @property
    def needs_masks(self) -> bool:
        """Whether a term reads the segment masks (the segment terms of ``objective.py``)."""
        return self.usage_weight > 0 or self.flow_fit_weight > 0 or self.mask_entropy_weight > 0

    def without_mask_terms(self) -> LossConfig:
        """The view-synthesis objective alone: every term on the masks themselves at 0."""
        return replace(
            self,
            usage_weight=0.0,
            flow_fit_weight=0.0,
            mask_entropy_weight=0.0,
            rotation_consistency_weight=0.0,
        )


def ssim_distance(x: Tensor, y: Tensor) -> Tensor:
    """Per-pixel SSIM distance ``clamp((1 - SSIM) / 2, 0, 1)`` on 3×3 windows.

    No padding (as in the reference), so the output is 2 pixels smaller per axis.

    Args:
        x, y: ``B×C×h×w`` images in [0, 1].

    Returns:
        ``B×C×(h-2)×(w-2)``.
    """
    c = x.shape[1]
    stacked = torch.cat((x, y, x * x, y * y, x * y), dim=1)
    # 3×3 mean filter (= avg_pool2d(3, stride 1), no padding) for all five local statistics
    # in one depthwise conv: on CPU this is ~8× faster than avg_pool2d, forward and backward
    box = stacked.new_full((5 * c, 1, 3, 3), 1.0 / 9.0)
    stats = F.conv2d(stacked, box, groups=5 * c)
    mu_x, mu_y, xx, yy, xy = stats.split(c, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_x = xx - mu_xx
    sigma_y = yy - mu_yy
    sigma_xy = xy - mu_xy
    num = (2 * mu_xy + _SSIM_C1) * (2 * sigma_xy + _SSIM_C2)
    den = (mu_xx + mu_yy + _SSIM_C1) * (sigma_x + sigma_y + _SSIM_C2)
    return ((1 - num / den) / 2).clamp(0, 1)


def _photometric_per_group(
    img: Tensor, recon: Tensor, occ: Tensor | None, cfg: LossConfig, groups: int
) -> Tensor:
    """Photometric error of ``groups`` equal batch chunks (e.g. forward + backward stacked).

    Each chunk's means are taken over its own elements, exactly as if it were evaluated
    alone; stacking merely lets both directions share every kernel launch.

    Returns:
        ``groups`` losses, shape ``(groups,)``.
    """

    def chunk_mean(t: Tensor) -> Tensor:
        return t.reshape(groups, -1).mean(dim=1)

    loss = img.new_zeros(groups)
    visible = img.new_ones(()) if occ is None else chunk_mean(occ).clamp_min(_MIN_VISIBLE)
    if occ is not None:
        # |I−Î|·occ == |I·occ − Î·occ| for occ >= 0, so the masked images serve both terms
        img, recon = img * occ, recon * occ
    if cfg.w_l1 > 0:
        loss = loss + cfg.w_l1 * chunk_mean((img - recon).abs())
    if cfg.w_ssim > 0:
        loss = loss + cfg.w_ssim * chunk_mean(ssim_distance(recon, img))
    return loss / visible


def photometric_error(img: Tensor, recon: Tensor, occ: Tensor | None, cfg: LossConfig) -> Tensor:
    """``(w_l1·|I−Î|·occ).mean() + (w_ssim·SSIM_dist(Î·occ, I·occ)).mean()``, ÷ ``occ.mean()``.

    Args:
        img: ``B×3×h×w`` target image I.
        recon: ``B×3×h×w`` reconstruction Î.
        occ: ``B×1×h×w`` visibility mask, or None for "all visible".
        cfg: weights.

    Returns:
        Scalar tensor.
    """
    return _photometric_per_group(img, recon, occ, cfg, groups=1)[0]


def _xy_gradients(t: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences ``(d/dx: B×C×h×(w-1), d/dy: B×C×(h-1)×w)``."""
    return t[..., :, 1:] - t[..., :, :-1], t[..., 1:, :] - t[..., :-1, :]


def smoothness(flow: Tensor, img: Tensor, alpha: float = 10.0) -> Tensor:
    """First-order edge-aware smoothness: ``|∇flow|`` damped by ``exp(-alpha·mean_c|∇I|)``.

    Args:
        flow: ``B×2×h×w`` (the caller normalises it; the reference divides by min(h, w)).
        img: ``B×3×h×w`` image on the same grid.
        alpha: edge sensitivity.

    Returns:
        Scalar: ``mean(wx·|∂x flow|)/4 + mean(wy·|∂y flow|)/4`` (the reference's scaling).
    """
    img_dx, img_dy = _xy_gradients(img)
    weight_x = torch.exp(-alpha * img_dx.abs().mean(dim=1, keepdim=True))
    weight_y = torch.exp(-alpha * img_dy.abs().mean(dim=1, keepdim=True))
    flow_dx, flow_dy = _xy_gradients(flow)
    return (weight_x * flow_dx.abs()).mean() / 4 + (weight_y * flow_dy.abs()).mean() / 4


def _resize_area(img: Tensor, size: tuple[int, int]) -> Tensor:
    """Area-downsample ``img`` to ``size`` (a no-op, without a copy, when sizes match)."""
    if tuple(img.shape[-2:]) == size:
        return img
    return F.interpolate(img, size=size, mode="area")


def _swap_halves(t: Tensor) -> Tensor:
    """``(X, Y)`` stacked along the batch → ``(Y, X)``; ``2B×…`` in and out."""
    first, second = t.chunk(2)
    return torch.cat((second, first))


def view_synthesis_loss(
    flows_fw: Sequence[Tensor],
    flows_bw: Sequence[Tensor],
    frame_a: Tensor,
    frame_b: Tensor,
    cfg: LossConfig | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Multi-scale, occlusion-aware view-synthesis loss, averaged over both directions.

    Args:
        flows_fw: flows A→B, finest first, ``B×2×h_i×w_i`` in pixels of scale i (the
            finest at the frames' size, each coarser one half the size).
        flows_bw: flows B→A, same shapes.
        frame_a, frame_b: ``B×3×H×W`` RGB in [0, 1].
        cfg: weights; defaults to :class:`LossConfig`.

    Returns:
        ``(total, terms)``: the scalar loss to minimise and detached scalar diagnostics:
        ``photometric`` (weighted sum over scales), ``photometric_s{i}`` for every scale
        with non-zero weight, ``smooth``, ``occlusion_fw`` / ``occlusion_bw`` (visible
        fraction of frame A / B) and ``flow_mag`` (mean finest-scale flow length).
    """
    cfg = cfg or LossConfig()
    if len(flows_fw) != len(flows_bw):
        raise ValueError(f"{len(flows_fw)} forward flows but {len(flows_bw)} backward flows")
    if len(flows_fw) != len(cfg.scale_weights):
        raise ValueError(f"{len(flows_fw)} flow scales but {len(cfg.scale_weights)} scale_weights")
    if frame_a.shape != frame_b.shape:
        raise ValueError(f"frame shapes differ: {tuple(frame_a.shape)} vs {tuple(frame_b.shape)}")

    # both directions are stacked along the batch: targets (A, B), flows (fw, bw), and the
    # sources (B, A) are the targets with halves swapped, so each pyramid level is
    # area-downsampled once and shared by both directions
    targets = torch.cat((frame_a, frame_b))
    finest = torch.cat((flows_fw[0], flows_bw[0])).to(targets.dtype)

    occ_full = None
    if cfg.use_occlusion:
        if cfg.occlusion == "consistency":
            occ_full = consistency_occlusion_mask(finest, _swap_halves(finest))
        else:
            # A's visibility comes from splatting B's flow (flows_bw), and vice versa
            occ_full = _swap_halves(occlusion_mask(finest, cfg.occlusion_threshold))
        if cfg.min_visible > 0:
            # Degenerate-solution guard (not in the reference, where this case is 0/0):
            # flows large enough to mark (nearly) every pixel occluded make the masked,
            # occlusion-normalised error exactly 0, and training was measured falling into
            # that flat minimum. A frame that is less than `min_visible` visible is scored
            # on all its pixels instead.
            visible = occ_full.mean(dim=(1, 2, 3), keepdim=True)
            occ_full = torch.where(visible < cfg.min_visible, torch.ones_like(occ_full), occ_full)

    terms: dict[str, Tensor] = {}
    photometric = targets.new_zeros(())
    for i, weight in enumerate(cfg.scale_weights):
        if weight == 0:
            continue
        flow = finest if i == 0 else torch.cat((flows_fw[i], flows_bw[i])).to(targets.dtype)
        size = (flow.shape[-2], flow.shape[-1])
        # downsampled from the full frames at every scale, as in the reference
        target_s = _resize_area(targets, size)
        recon = flow_warp(_swap_halves(target_s), flow, padding_mode=cfg.warp_padding)
        occ = None
        if occ_full is not None:
            occ = occ_full
            if tuple(occ_full.shape[-2:]) != size:
                occ = F.interpolate(occ_full, size=size, mode="nearest")
        per_direction = _photometric_per_group(target_s, recon, occ, cfg, groups=2)
        scale_loss = per_direction.mean()
        terms[f"photometric_s{i}"] = scale_loss.detach()
        photometric = photometric + weight * scale_loss

    total = photometric
    smooth = targets.new_zeros(())
    if cfg.w_smooth > 0:
        # finest scale only, flow normalised by its shorter side as in the reference
        size = (finest.shape[-2], finest.shape[-1])
        smooth = smoothness(finest / min(size), _resize_area(targets, size), cfg.smooth_alpha)
        # the stacked mean already averages forward and backward (equal batch halves)
        total = total + cfg.w_smooth * smooth

    with torch.no_grad():
        terms["photometric"] = photometric.detach()
        terms["smooth"] = smooth.detach()
        if occ_full is not None:
            occ_a, occ_b = occ_full.chunk(2)
            terms["occlusion_fw"] = occ_a.mean()
            terms["occlusion_bw"] = occ_b.mean()
        else:
            terms["occlusion_fw"] = targets.new_ones(())
            terms["occlusion_bw"] = targets.new_ones(())
        # explicit sqrt(u² + v²): norm(dim=1) over the channel axis is slow on CPU
        terms["flow_mag"] = (finest[:, 0].square() + finest[:, 1].square()).sqrt().mean()
    return total, terms
