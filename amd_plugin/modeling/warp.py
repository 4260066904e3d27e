"""Small pure functions for backward warping with optical flow.

Flows are in pixels, ``B×2×h×w``, channel 0 horizontal (x) and channel 1 vertical (y):
pixel (x, y) of the target corresponds to (x + u, y + v) in the source image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def base_grid(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates ``B×2×h×w`` (x, y) on ``like``'s device and dtype."""
    ys = torch.arange(height, device=like.device, dtype=like.dtype)
    xs = torch.arange(width, device=like.device, dtype=like.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y)).unsqueeze(0).expand(batch, -1, -1, -1)


def flow_warp(
    image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border"
) -> torch.Tensor:
    """Sample ``image`` (``B×C×h×w``) at positions displaced by ``flow`` (``B×2×h×w``).

    Bilinear, ``align_corners=True`` so that pixel centres map exactly to grid positions.
    """
    b, _, h, w = flow.shape
    coords = base_grid(b, h, w, flow) + flow
    # normalise to [-1, 1]; a size-1 axis is mapped to 0 to avoid dividing by zero
    scale_x = 2.0 / max(w - 1, 1)
    scale_y = 2.0 / max(h - 1, 1)
    grid = torch.stack((coords[:, 0] * scale_x - 1.0, coords[:, 1] * scale_y - 1.0), dim=-1)
    return F.grid_sample(
        image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )
