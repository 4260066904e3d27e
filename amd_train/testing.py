"""Shared settings and inputs for tests and benchmarks that run tiny models in seconds on a CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# `--set` overrides that shrink any training config to a tiny model on 64×64 crops:
# a narrow small backbone, the motion pathway at its smallest size, no workers, no
# previews or TensorBoard, and logging every step so that short runs leave a record.
TINY_TRAINING: tuple[str, ...] = (
    "model.backbone=small",
    "model.small_width=8",
    "model.dropout=0.0",
    "model.motion_size=[64, 64]",
    "data.resize_short=64",
    "data.scale_min=1.0",
    "data.crop_size=[64, 64]",
    "data.num_workers=0",
    "data.samples_per_video=8",
    "run.threads=1",
    "run.log_every=1",
    "run.preview_every=0",
    "run.tensorboard=false",
)


def smooth_texture(batch: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random texture ``B×3×size×size`` in [0, 1] (noise blurred, so warping works)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch, 3, size // 4, size // 4, generator=gen)
    return F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)
