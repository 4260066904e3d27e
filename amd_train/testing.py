"""Shared settings for tests and benchmarks that train tiny models in seconds on a CPU."""

from __future__ import annotations

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
