"""Training transforms for a frame pair (reference pipeline, DESIGN.md §2).

Both frames always receive the same geometric transform (transpose, scale, crop window),
because the model learns from their relative motion: any independent jitter would be
indistinguishable from motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from amd_train.data.motion_crop import MotionCropConfig, plan_motion_crop, window_around

if TYPE_CHECKING:
    from amd_train.data.config import DataConfig

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _chw_float(frame: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → 3×H×W float32 (copies read-only arrays, e.g. from PIL, for torch)."""
    if not frame.flags.writeable:
        frame = frame.copy()
    return torch.from_numpy(frame).permute(2, 0, 1).float()


def to_tensor_pair(frame_a: np.ndarray, frame_b: np.ndarray) -> torch.Tensor:
    """Two H×W×3 uint8 frames → a 2×3×H×W float32 tensor on the 0–255 scale.

    If frame b's size differs from frame a's (a broken frame folder), b is resized to a's
    size so the pair stays aligned rather than failing mid-training.
    """
    pair_a = _chw_float(frame_a)
    pair_b = _chw_float(frame_b)
    if pair_b.shape != pair_a.shape:
        pair_b = F.interpolate(
            pair_b[None], size=pair_a.shape[1:], mode="bilinear", align_corners=False
        )[0]
    return torch.stack([pair_a, pair_b])


def normalize(images: torch.Tensor) -> torch.Tensor:
    """ImageNet normalisation of …×3×H×W images on the 0–255 scale."""
    mean = images.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(3, 1, 1)
    return (images - mean) / std


def transpose_to_landscape(pair: torch.Tensor) -> torch.Tensor:
    """Transpose N×3×H×W portrait images (H > W) to landscape; landscape passes through."""
    return pair.transpose(-1, -2) if pair.shape[-2] > pair.shape[-1] else pair


def resize_short_side(pair: torch.Tensor, short: float) -> torch.Tensor:
    """Bilinear resize of N×3×H×W so that min(H, W) ≈ ``short`` (one factor for all images).

    No anti-aliasing, like the reference's cv2 INTER_LINEAR resize.
    """
    h, w = pair.shape[-2:]
    factor = short / min(h, w)
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    if size == (h, w):
        return pair
    return F.interpolate(pair, size=size, mode="bilinear", align_corners=False)


def pad_to(pair: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero-pad N×C×H×W images at the bottom/right up to at least size=(h, w).

    Like the reference's Pad step, this runs after normalisation, where zero is the mean colour.
    """
    ph, pw = size[0] - pair.shape[-2], size[1] - pair.shape[-1]
    if ph <= 0 and pw <= 0:
        return pair
    return F.pad(pair, (0, max(pw, 0), 0, max(ph, 0)), value=0.0)


def random_crop(
    pair: torch.Tensor, crop_size: tuple[int, int], rng: np.random.Generator
) -> torch.Tensor:
    """One random crop_size=(h, w) window shared by all N×C×H×W images.

    An image smaller than the crop keeps its full extent along that side (pad it with
    :func:`pad_to` afterwards).
    """
    ch, cw = crop_size
    h, w = pair.shape[-2:]
    top = int(rng.integers(0, max(h - ch, 0) + 1))
    left = int(rng.integers(0, max(w - cw, 0) + 1))
    return crop_at(pair, (top, left), crop_size)


def crop_at(
    pair: torch.Tensor, origin: tuple[int, int], crop_size: tuple[int, int]
) -> torch.Tensor:
    """The ``crop_size=(h, w)`` window of N×C×H×W images whose top-left corner is ``origin``."""
    top, left = origin
    return pair[..., top : top + crop_size[0], left : left + crop_size[1]]


@dataclass(frozen=True)
class PairTransform:
    """Transpose portrait → landscape, random short-side resize, shared random crop, normalise.

    Attributes:
        resize_short: target short side before the random factor (reference: 400).
        scale_range: the factor is U(scale_range) (reference: 0.96–1.0).
        crop_size: (h, w) of the output (reference: 384×384).
        transpose_portrait: transpose frames with H > W (reference: yes).
        motion_crop_prob: share of pairs cropped around what moves (0 = the reference's
            random crops; see :mod:`amd_train.data.motion_crop`); pairs without localised
            motion get a random crop.
        motion_crop_zoom: those pairs are also zoomed in by a factor U(motion_crop_zoom).
    """

    resize_short: int = 400
    scale_range: tuple[float, float] = (0.96, 1.0)
    crop_size: tuple[int, int] = (384, 384)
    transpose_portrait: bool = True
    motion_crop_prob: float = 0.0
    motion_crop_zoom: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def from_config(cls, cfg: DataConfig) -> PairTransform:
        """The transform described by a :class:`DataConfig`."""
        return cls(
            resize_short=cfg.resize_short,
            scale_range=(cfg.scale_min, cfg.scale_max),
            crop_size=tuple(cfg.crop_size),
            transpose_portrait=cfg.transpose_portrait,
            motion_crop_prob=cfg.motion_crop_prob,
            motion_crop_zoom=tuple(cfg.motion_crop_zoom),
        )

    def __call__(
        self, frame_a: np.ndarray, frame_b: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """H×W×3 uint8 frames → two 3×crop_h×crop_w float32 normalised tensors."""
        tensor_a, tensor_b, _ = self.apply(frame_a, frame_b, rng)
        return tensor_a, tensor_b

    def apply(
        self, frame_a: np.ndarray, frame_b: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """As :meth:`__call__`, and whether the crop is centred on what moves (``False``: a
        random crop, because the pair was not drawn for it or has no localised motion)."""
        pair = to_tensor_pair(frame_a, frame_b)
        if self.transpose_portrait:
            pair = transpose_to_landscape(pair)
        short = self.resize_short * rng.uniform(*self.scale_range)
        # no draw at all when off, so the reference pipeline's samples stay as they were
        around_motion = self.motion_crop_prob > 0 and rng.random() < self.motion_crop_prob
        resized = resize_short_side(pair, short)
        plan = (
            plan_motion_crop(
                resized, self.crop_size, self.motion_crop_zoom, rng, MotionCropConfig()
            )
            if around_motion
            else None
        )
        # Crop before normalising (less work); pad after, so the padding is the mean colour.
        if plan is None:
            pair = random_crop(resized, self.crop_size, rng)
        else:
            # zoom from the decoded frames, not from the already shrunk ones
            zoomed = resize_short_side(pair, short * plan.zoom)
            scale = zoomed.shape[-2] / resized.shape[-2]
            centre = (plan.centre_y * scale, plan.centre_x * scale)
            origin = window_around(centre, self.crop_size, tuple(zoomed.shape[-2:]), rng)
            pair = crop_at(zoomed, origin, self.crop_size)
        pair = pad_to(normalize(pair), self.crop_size)
        return pair[0].contiguous(), pair[1].contiguous(), plan is not None


def normalize_only(
    frame_a: np.ndarray, frame_b: np.ndarray, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pass-through transform: H×W×3 uint8 frames → two normalised 3×H×W tensors."""
    del rng  # same signature as PairTransform.__call__
    pair = normalize(to_tensor_pair(frame_a, frame_b))
    return pair[0], pair[1]
