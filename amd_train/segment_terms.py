"""Terms on the segment masks themselves, added to the view-synthesis loss (not in the paper).

All are off by default (``loss.usage_weight``, ``loss.flow_fit_weight``,
``loss.mask_entropy_weight``, ``loss.rotation_consistency_weight``); they exist to test why
segments do not separate, stop separating, or sit off the objects, within a CPU budget
(``docs/experiments.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def segment_usage_penalty(masks: Tensor, floor: float = 0.0, eps: float = 1e-6) -> Tensor:
    """How unevenly ``N×K×h×w`` soft masks use their segments over a batch.

    ū = the masks' mean over images and pixels (K shares summing to 1). With ``floor`` = 0:
    KL(ū ‖ uniform) = Σ_k ū_k log(K ū_k), 0 when every segment holds the same share, log K
    when one holds everything. With ``floor`` > 0 only shares below the floor cost:
    Σ_k max(0, floor − ū_k) / floor, which keeps segments alive but lets them be small (an
    object is small). Only the batch's totals are constrained either way, so a segment may
    still be empty in one image and large in another."""
    usage = masks.float().mean(dim=(0, 2, 3))
    if floor > 0:
        return (floor - usage).clamp_min(0).sum() / floor
    return (usage * (usage * masks.shape[1]).clamp_min(eps).log()).sum()


def segment_flow_fit(masks: Tensor, flow: Tensor, noise_px: float = 0.5) -> Tensor:
    """Share of a per-pixel flow's variance that the segments' mean flows leave unexplained.

    A k-means objective in flow space with the masks as soft assignments: for every image,
    μ_k = the mask-weighted mean of ``flow`` over segment k, and

        Σ_k Σ_x m_k(x)·‖d(x) − μ_k‖²  /  (Σ_x ‖d(x) − d̄‖² + noise_px²·n_pixels)

    is ≈ 1 when the segments do not split the flow at all (every μ_k = d̄; exactly 1 with
    ``noise_px`` = 0) and 0 when every segment moves as one. Its gradient moves each pixel
    towards the segment whose mean flow is closest to its own, at any distance between
    them, where the view-synthesis gradient through ``Σ_k m_k f_k`` only sees the image
    gradient at that pixel. The flow is detached: this term teaches the masks, never the
    flow. ``noise_px`` keeps images whose flow hardly varies (a static scene) from
    dividing by ~0.

    Args:
        masks: ``N×K×h×w`` soft masks (summing to 1 over K); resized to the flow's grid.
        flow: ``N×2×H×W`` per-pixel flow in pixels of the same N images.

    Returns:
        The mean over the N images (a scalar in [0, 1]).
    """
    d = flow.detach().float()
    m = F.interpolate(masks.float(), size=d.shape[-2:], mode="bilinear", align_corners=False)
    mass = m.sum(dim=(2, 3)).clamp_min(1e-6)  # N×K
    means = torch.einsum("nkhw,nchw->nkc", m, d) / mass.unsqueeze(-1)  # N×K×2
    # Σ_k m_k ‖d − μ_k‖² expanded, so no N×K×2×H×W tensor is built
    d_sq = d.square().sum(1)  # N×H×W
    cross = torch.einsum("nkhw,nchw,nkc->nhw", m, d, means)
    mean_sq = torch.einsum("nkhw,nk->nhw", m, means.square().sum(-1))
    # clamped: the expansion can round below 0 where the flow is (nearly) constant
    within = (d_sq - 2 * cross + mean_sq).sum(dim=(1, 2)).clamp_min(0)
    spread = (d - d.mean(dim=(2, 3), keepdim=True)).square().sum(dim=(1, 2, 3))
    n_pixels = d.shape[-2] * d.shape[-1]
    return (within / (spread + noise_px**2 * n_pixels)).mean()


def mask_entropy(masks: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean per-pixel entropy (nats) of ``N×K×h×w`` soft masks: 0 where every pixel is in one
    segment, log K where every pixel is split evenly.

    The motion pathway composes a pixel's flow as Σ_k m_k f_k, so soft masks make that flow a
    per-pixel blend of the K segment flows: with graded masks and far-apart segment flows
    the "segment" flow can vary inside a segment, which is not what a segment is meant to
    model. Penalising the entropy keeps the masks committed.
    """
    m = masks.float().clamp_min(eps)
    return -(m * m.log()).sum(dim=1).mean()


def rotation_consistency(logits: Tensor, logits_of_rotated: Tensor, form: str = "pixels") -> Tensor:
    """How far the masks of images turned by 180° are from the masks of the images, turned.

    ``logits`` are a ``B×K×h×w`` map for images I, ``logits_of_rotated`` the map for the
    same images turned by 180°. The term is the mean over pixels of the total-variation
    distance ``½ Σ_k |p_k − R(p̃)_k|`` between the softmax p of the first and the second's
    softmax p̃ turned back (R), in [0, 1]; 0 for a net whose masks turn with the image.
    A net that places every mask a pixel off its object in one direction, which the
    view-synthesis loss barely notices, turns that offset around with the image, so the
    two maps disagree along every outline. The output grid must itself be symmetric under
    the turn (``model.small_centred_downsampling`` and a crop divisible by its stride).

    ``form="centroids"`` compares where the masks lie instead of every pixel
    (:func:`centroid_distance`): a segment that turns with the image costs nothing however
    long its outline, where the per-pixel form costs in proportion to the outline and so
    pays a segment to shrink."""
    p = logits.float().softmax(dim=1)
    q = logits_of_rotated.float().softmax(dim=1).flip(-2, -1)
    if form == "centroids":
        return centroid_distance(p, q)
    if form != "pixels":
        raise ValueError(f"rotation consistency form must be pixels or centroids, got {form!r}")
    return 0.5 * (p - q).abs().sum(dim=1).mean()


def centroid_distance(p: Tensor, q: Tensor, eps: float = 1e-3) -> Tensor:
    """Mass-weighted mean distance between the centroids of two ``B×K×h×w`` soft masks.

    Each segment's centroid is its mask-weighted mean position, in fractions of the image's
    side (so the term reads the same at any output size). The distance is smoothed near 0
    (``√(d² + eps²) − eps``) so the gradient fades as the centroids meet. A segment's weight
    is s²/(s² + (1 %)²), s the smaller of its two shares of the image, detached: every
    segment that holds a few percent of the image counts about the same (a small object as
    much as the scene around it), one nearly empty in either map hardly counts (its
    centroid is noise), and no segment can lower the term by shrinking."""
    h, w = p.shape[-2:]
    ys = (torch.arange(h, device=p.device, dtype=p.dtype) + 0.5) / h
    xs = (torch.arange(w, device=p.device, dtype=p.dtype) + 0.5) / w

    def centroid(m: Tensor) -> tuple[Tensor, Tensor]:
        mass = m.sum(dim=(2, 3))  # B×K
        y = torch.einsum("bkhw,h->bk", m, ys) / mass.clamp_min(1e-6)
        x = torch.einsum("bkhw,w->bk", m, xs) / mass.clamp_min(1e-6)
        return torch.stack([y, x], dim=-1), mass

    c_p, mass_p = centroid(p)
    c_q, mass_q = centroid(q)
    dist = ((c_p - c_q).square().sum(-1) + eps**2).sqrt() - eps  # B×K
    share = torch.minimum(mass_p, mass_q).detach() / (h * w)
    weight = share.square() / (share.square() + 0.01**2)
    return (weight * dist).sum() / weight.sum().clamp_min(1e-6)
