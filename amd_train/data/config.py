"""The ``data:`` section of a training config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from amd_train.synth_config import SyntheticConfig

DataKind = Literal["auto", "split", "frames", "videos", "synthetic", "fiftyone"]


@dataclass(frozen=True)
class DataConfig:
    """Where training videos come from and how frame pairs are made (defaults: the paper's).

    Attributes:
        root: data folder. Frame folders and split-file lines are relative to it. May also be
            a single video file or a single folder of frames (handy for test-time adaptation).
        split: split file (``frame_dir f1.jpg f2.jpg …`` per line). A relative path is looked
            up in the working directory first, then under ``root``.
        kind: ``auto`` detects: split given → ``split``; video files in root (or root/videos)
            → ``videos``; frame folders (``JPEGImages/<video>/``, ``<video>/JPEGImages/`` or
            ``<video>/``) → ``frames``. ``synthetic`` renders videos on the fly.
            ``fiftyone`` (never auto-detected) trains on the video samples of a FiftyOne
            dataset: ``root`` is ``"<dataset>"`` or ``"<dataset>:<saved view>"``, read from
            the database FiftyOne is configured for (see amd_train.data.fiftyone_source).
        step_limit: frame gap of a pair is uniform in 1..step_limit (reference: 1).
        resize_short, scale_min, scale_max: short side is resized to
            resize_short × U(scale_min, scale_max) (reference: 400, 0.96, 1.0).
        crop_size: (h, w) random crop, padded if the image is smaller (reference: 384×384).
        transpose_portrait: transpose portrait frames to landscape (reference: yes).
        motion_crop_prob: share of pairs whose crop is centred on a pixel that changed
            between the two frames, zoomed in by U(motion_crop_zoom); pairs with nothing or
            everything changing fall back to a random crop (0 = the reference; see
            amd_train.data.motion_crop).
        num_workers: DataLoader workers.
        samples_per_video: map-style datasets are virtual: one epoch is
            ``num_videos × samples_per_video`` items, item i drawing a random pair from video
            ``i mod num_videos`` (the reference: one pair per video per epoch).
        synthetic: how synthetic videos look (``kind: synthetic``). Set resize_short and
            crop_size to the synthetic frame size to train at that size.
        synthetic_videos_per_epoch, synthetic_pairs_per_video: size of a synthetic epoch per
            rank (videos rendered × pairs drawn from each).
    """

    root: str = ""
    split: str = ""
    kind: DataKind = "auto"
    step_limit: int = 1
    resize_short: int = 400
    scale_min: float = 0.96
    scale_max: float = 1.0
    crop_size: tuple[int, int] = (384, 384)
    transpose_portrait: bool = True
    motion_crop_prob: float = 0.0
    motion_crop_zoom: tuple[float, float] = (1.0, 1.0)
    num_workers: int = 2
    samples_per_video: int = 1
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    synthetic_videos_per_epoch: int = 64
    synthetic_pairs_per_video: int = 8

    def __post_init__(self) -> None:
        if self.step_limit < 1:
            raise ValueError(f"data.step_limit must be >= 1, got {self.step_limit}")
        if self.resize_short < 1:
            raise ValueError(f"data.resize_short must be >= 1, got {self.resize_short}")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(
                f"data.scale_min/scale_max must satisfy 0 < min <= max, got "
                f"{self.scale_min}, {self.scale_max}"
            )
        if len(self.crop_size) != 2 or min(self.crop_size) < 1:
            raise ValueError(f"data.crop_size must be two positive ints, got {self.crop_size}")
        if not 0.0 <= self.motion_crop_prob <= 1.0:
            raise ValueError(
                f"data.motion_crop_prob must be in [0, 1], got {self.motion_crop_prob}"
            )
        zoom = self.motion_crop_zoom
        if len(zoom) != 2 or not 0 < zoom[0] <= zoom[1]:
            raise ValueError(
                f"data.motion_crop_zoom must be (min, max) with 0 < min <= max, got {zoom}"
            )
        if self.num_workers < 0 or self.samples_per_video < 1:
            raise ValueError("data.num_workers must be >= 0 and data.samples_per_video >= 1")
        if self.synthetic_videos_per_epoch < 1 or self.synthetic_pairs_per_video < 1:
            raise ValueError("data.synthetic_videos_per_epoch/pairs_per_video must be >= 1")
