"""Occlusion tests of the view-synthesis loss: which pixels of a frame the other frame shows.

Flows are in pixels, ``B×2×h×w`` (channel 0 = x, channel 1 = y); masks are ``B×1×h×w``,
1 = visible, and carry no gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor

from amd_plugin.modeling.warp import flow_warp


def splat_weights(flow: Tensor) -> Tensor:
    """Forward-splat a unit mass from every pixel along ``flow`` with bilinear weights.

    Args:
        flow: ``B×2×h×w`` displacement in pixels of each source pixel.

    Returns:
        ``B×1×h×w`` total weight received by each pixel of the (same-size) target grid.
        Contributions landing outside the grid, or from non-finite flow, are dropped.
    """
    b, _, h, w = flow.shape
    flow = flow.detach()
    xs = flow[:, 0] + torch.arange(w, device=flow.device, dtype=flow.dtype)
    ys = flow[:, 1] + torch.arange(h, device=flow.device, dtype=flow.dtype).unsqueeze(1)
    x0 = torch.floor(xs)
    y0 = torch.floor(ys)
    fx = xs - x0
    fy = ys - y0
    # per-axis weights of the left/right (top/bottom) neighbour, zeroed when that neighbour
    # is off the grid; float comparisons are False for NaN, so bad flow contributes nothing
    zero = xs.new_zeros(())
    wx0 = torch.where((x0 >= 0) & (x0 <= w - 1), 1.0 - fx, zero)
    wx1 = torch.where((x0 >= -1) & (x0 <= w - 2), fx, zero)
    wy0 = torch.where((y0 >= 0) & (y0 <= h - 1), 1.0 - fy, zero)
    wy1 = torch.where((y0 >= -1) & (y0 <= h - 2), fy, zero)

    # off-grid neighbours add an exact 0 to a clamped in-grid pixel rather than being
    # filtered out: boolean indexing (nonzero) cost more than the whole splat, and clamping
    # (instead of one dump pixel) avoids atomic contention on GPU; int32 halves the traffic
    idx_dtype = torch.int32 if b * h * w < 2**31 else torch.int64
    x0 = torch.nan_to_num(x0, nan=-1.0).clamp(-1, w - 1).to(idx_dtype)
    y0 = torch.nan_to_num(y0, nan=-1.0).clamp(-1, h - 1).to(idx_dtype)
    col0, col1 = x0.clamp(min=0), (x0 + 1).clamp(max=w - 1)
    batch_offset = torch.arange(b, device=flow.device, dtype=idx_dtype).view(b, 1, 1) * (h * w)
    row0 = batch_offset + y0.clamp(min=0) * w
    row1 = batch_offset + (y0 + 1).clamp(max=h - 1) * w
    # the four neighbours stacked (4×B×h×w) so that one index_add_ handles them all
    index = torch.stack((row0 + col0, row0 + col1, row1 + col0, row1 + col1))
    wts = torch.stack((wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1))

    out = torch.zeros(b * h * w, device=flow.device, dtype=flow.dtype)
    out.index_add_(0, index.reshape(-1), wts.reshape(-1))
    return out.view(b, 1, h, w)


def occlusion_mask(flow_other: Tensor, threshold: float = 0.2) -> Tensor:
    """Visibility mask of a frame from the opposite direction's flow.

    For frame A's mask pass ``flow_bw`` (on B's grid, pointing into A): pixels of A that
    no pixel of B lands on (received weight < ``threshold``) are occluded.

    Args:
        flow_other: ``B×2×h×w`` flow of the other frame, in pixels.
        threshold: minimum received weight for a pixel to count as visible.

    Returns:
        ``B×1×h×w`` float mask, 1 = visible, 0 = occluded; carries no gradient.
    """
    with torch.no_grad():
        return (splat_weights(flow_other) >= threshold).to(flow_other.dtype)


def consistency_occlusion_mask(
    flow: Tensor, flow_other: Tensor, alpha1: float = 0.01, alpha2: float = 0.5
) -> Tensor:
    """Visibility mask of a frame from the forward-backward check (Meister et al., UnFlow).

    A pixel ``x`` of A with flow ``f = flow(x)`` into B is visible when B's flow at the
    target undoes it: ``|f + g|² < alpha1·(|f|² + |g|²) + alpha2`` with
    ``g = flow_other(x + f)`` (bilinear, border padding).

    Args:
        flow: ``B×2×h×w`` flow on this frame's grid, in pixels.
        flow_other: ``B×2×h×w`` opposite flow on the other frame's grid.
        alpha1, alpha2: relative and absolute tolerance (UnFlow's 0.01 and 0.5).

    Returns:
        ``B×1×h×w`` float mask, 1 = visible, 0 = occluded; carries no gradient.
    """
    with torch.no_grad():
        back = flow_warp(flow_other, flow, padding_mode="border")
        mismatch = (flow + back).square().sum(dim=1, keepdim=True)
        bound = alpha1 * (flow.square().sum(dim=1, keepdim=True) + back.square().sum(1, True))
        return (mismatch < bound + alpha2).to(flow.dtype)
