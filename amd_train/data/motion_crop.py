"""Crop windows centred on what moves in a frame pair (a label-free sampling choice).

Most real footage at hand has a static camera and small movers: a random crop is mostly
still background, the movers are a few percent of it, and the view-synthesis loss gains
almost nothing from segmenting them. A motion-centred crop zooms in and centres the window
on a pixel that changed between the two frames, so the mover fills a large part of the
crop, as the objects of the synthetic worlds do. Only the frames themselves are used
(their absolute difference): no labels, no flow network.

Pairs where (almost) nothing changed, or where most of the frame changed (a moving camera:
the difference is texture everywhere), give ``None`` and the caller falls back to a random
crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


@dataclass(frozen=True)
class MotionCropConfig:
    """When a frame pair counts as having localised motion.

    Attributes:
        threshold: a pixel changed when the box-blurred mean |a − b| over RGB (0–255
            scale) exceeds this; above compression noise of typical H.264 footage.
        blur: side of the box filter that smooths the difference (px).
        min_share: fewer changed pixels than this share → nothing moves (``None``).
        max_share: more changed pixels than this share → the camera moves (``None``).
        join: changed pixels this close (px) count as one mover.
    """

    threshold: float = 12.0
    blur: int = 5
    min_share: float = 0.002
    max_share: float = 0.35
    join: int = 3


def changed_pixels(pair: torch.Tensor, cfg: MotionCropConfig) -> torch.Tensor:
    """Where frame a and frame b differ: ``H×W`` float, the blurred difference above threshold.

    Args:
        pair: ``2×3×H×W`` frames on the 0–255 scale.

    Returns:
        ``H×W`` float32: the blurred difference where it exceeds ``cfg.threshold``, 0 elsewhere.
    """
    diff = (pair[0] - pair[1]).abs().mean(dim=0, keepdim=True)[None]
    if cfg.blur > 1:
        diff = F.avg_pool2d(diff, cfg.blur, stride=1, padding=cfg.blur // 2)
    diff = diff[0, 0, : pair.shape[-2], : pair.shape[-1]]
    return torch.where(diff > cfg.threshold, diff, torch.zeros_like(diff))


@dataclass(frozen=True)
class MotionCrop:
    """Where to crop a pair: zoom factor and the window's centre on the unzoomed frame."""

    zoom: float
    centre_y: int
    centre_x: int


def plan_motion_crop(
    pair: torch.Tensor,
    crop_size: tuple[int, int],
    zoom_range: tuple[float, float],
    rng: np.random.Generator,
    cfg: MotionCropConfig,
) -> MotionCrop | None:
    """A zoom and a centre that make a mover fill a large part of the crop, or ``None``.

    The centre is a changed pixel drawn with probability proportional to its difference.
    The mover is the connected region of changed pixels (joined over ``cfg.join`` px) that
    holds the centre; the zoom makes its box U(0.3, 0.6) of the crop's side, clamped to
    ``zoom_range``.

    Args:
        pair: ``2×3×H×W`` frames on the 0–255 scale, at the size the crop refers to.
        crop_size: ``(h, w)`` of the window.

    Returns:
        The plan, or ``None`` when the pair has no localised motion (see the module).
    """
    changed = changed_pixels(pair, cfg)
    is_changed = changed > 0
    share = float(is_changed.float().mean())
    if not cfg.min_share <= share <= cfg.max_share:
        return None
    w = changed.shape[-1]
    weights = changed.flatten().double().numpy()
    centre = int(rng.choice(weights.size, p=weights / weights.sum()))
    cy, cx = centre // w, centre % w
    # a moving object changes mostly along its edges: join them before labelling regions
    moving = ndimage.binary_dilation(is_changed.numpy(), iterations=cfg.join)
    regions, _ = ndimage.label(moving)
    ys, xs = np.nonzero(regions == regions[cy, cx])
    ch, cw = crop_size
    extent = max((int(ys.max() - ys.min()) + 1) / ch, (int(xs.max() - xs.min()) + 1) / cw)
    zoom = float(np.clip(rng.uniform(0.3, 0.6) / extent, *zoom_range))
    return MotionCrop(zoom, cy, cx)


def window_around(
    centre: tuple[float, float],
    crop_size: tuple[int, int],
    image_size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Top-left corner of a ``crop_size`` window centred at ``centre`` ± a quarter crop,
    clamped into an image of ``image_size``."""
    ch, cw = crop_size
    cy = round(centre[0]) + int(rng.integers(-(ch // 4), ch // 4 + 1))
    cx = round(centre[1]) + int(rng.integers(-(cw // 4), cw // 4 + 1))
    top = min(max(cy - ch // 2, 0), max(image_size[0] - ch, 0))
    left = min(max(cx - cw // 2, 0), max(image_size[1] - cw, 0))
    return top, left
