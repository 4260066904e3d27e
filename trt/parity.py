"""Parity and throughput measurements shared by the export check, ``amd-trt check`` and the
benchmark: synthetic test images, probability comparison, mask IoU, frames per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from amd_plugin.modeling.amd import IMAGENET_MEAN, IMAGENET_STD


def synthetic_images(batch: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic natural-looking test images, ImageNet-normalised.

    Pure noise is a poor parity probe (every pixel is a near-tie between segments), so the
    images are smooth colour fields with a bright rectangle and a dark disc.

    Returns:
        ``B×3×H×W`` float32, ImageNet-normalised.
    """
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 4, 6, generator=gen) * 255.0
    rgb = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    ys = torch.arange(height).view(1, height, 1).float()
    xs = torch.arange(width).view(1, 1, width).float()
    for i in range(batch):
        top, left = int(height * (0.2 + 0.1 * (i % 3))), int(width * (0.15 + 0.1 * (i % 4)))
        rgb[i, :, top : top + height // 3, left : left + width // 4] = torch.tensor(
            [230.0, 200.0 - 30 * (i % 3), 40.0]
        ).view(3, 1, 1)
        cy, cx, r = height * 0.65, width * (0.7 - 0.05 * (i % 3)), min(height, width) * 0.15
        disc = ((ys - cy) ** 2 + (xs - cx) ** 2) < r * r
        rgb[i] = torch.where(disc, torch.full_like(rgb[i], 25.0), rgb[i])
    rgb = rgb.clamp(0, 255)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((rgb - mean) / std).numpy().astype(np.float32)


def softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    """Numerically stable softmax (float32) along ``axis``."""
    z = logits.astype(np.float32) - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def mask_iou(probs_a: np.ndarray, probs_b: np.ndarray) -> float:
    """Agreement of two segmentations of the same images, in [0, 1].

    Args:
        probs_a, probs_b: ``B×K×h×w`` probabilities. With K > 1 each pixel is assigned its
            argmax segment and the IoU is averaged over (image, segment) pairs present in
            either labelling; with K == 1 (a foreground map) the masks are ``p > 0.5``.

    Returns:
        Mean IoU; two empty masks count as identical (1.0).
    """
    if probs_a.shape != probs_b.shape:
        raise ValueError(f"shape mismatch: {probs_a.shape} vs {probs_b.shape}")
    if probs_a.shape[1] == 1:
        masks_a, masks_b = probs_a > 0.5, probs_b > 0.5
    else:
        k = probs_a.shape[1]
        labels_a, labels_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
        masks_a = labels_a[:, None] == np.arange(k).reshape(1, k, 1, 1)
        masks_b = labels_b[:, None] == np.arange(k).reshape(1, k, 1, 1)
    inter = np.logical_and(masks_a, masks_b).sum(axis=(2, 3))
    union = np.logical_or(masks_a, masks_b).sum(axis=(2, 3))
    present = union > 0
    if not present.any():
        return 1.0
    return float((inter[present] / union[present]).mean())


@dataclass
class Parity:
    """How closely one runtime reproduces another.

    Attributes:
        max_abs_diff: largest absolute difference of the probabilities (or foreground map).
        mask_iou: see :func:`mask_iou`.
        shape: shape of the compared arrays.
    """

    max_abs_diff: float
    mask_iou: float
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return (
            f"max |Δp| = {self.max_abs_diff:.2e}, mask IoU = {self.mask_iou:.4f} "
            f"(shape {'×'.join(map(str, self.shape))})"
        )


def compare_probabilities(reference: np.ndarray, other: np.ndarray) -> Parity:
    """Compare two ``B×K×h×w`` probability arrays (K may be 1)."""
    reference, other = reference.astype(np.float32), other.astype(np.float32)
    diff = float(np.abs(reference - other).max()) if reference.size else 0.0
    return Parity(diff, mask_iou(reference, other), tuple(reference.shape))


def measure_fps(
    run: Callable[[np.ndarray], object],
    batch: np.ndarray,
    iterations: int = 3,
    warmup: int = 1,
    synchronize: bool = False,
) -> float:
    """Frames per second of ``run(batch)`` (``batch`` is ``B×3×H×W``).

    ``warmup`` calls come first (lazy initialisation, autotuning, compilation are not
    throughput). ``synchronize`` waits for CUDA work queued without a host copy.
    """
    for _ in range(warmup):
        run(batch)
    if synchronize:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        run(batch)
    if synchronize:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return iterations * batch.shape[0] / max(elapsed, 1e-9)
