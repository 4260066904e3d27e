"""Options, progress events and summaries of an AMD run (see :mod:`fiftyone_plugin.apply`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fiftyone_plugin.labels import LabelSettings

PREFIX_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ExistingResultsError(RuntimeError):
    """Results exist and the caller asked neither to skip nor to overwrite them."""


@dataclass
class ApplyOptions:
    """How :func:`apply_to_collection` runs.

    Attributes:
        prefix: field name prefix (``amd`` → ``amd_mask``, ``amd_objectness`` …).
        output_dir: folder for the PNGs; default
            ``<fo.config.default_dataset_dir>/amd_masks/<dataset name>``.
        skip_existing: skip samples (frames) whose labels and files are complete.
        overwrite: recompute everything and replace files; wins over ``skip_existing``.
            With both false, existing results are an error (nothing is silently replaced).
        threshold: probability above which a pixel is foreground in the mask.
        detections: also store ``<prefix>_detections`` (connected components).
        min_component_area: smallest component kept, as a fraction of the image.
        heatmap_bits: 16 (default) or 8 bit heatmap PNGs.
        frame_stride: segment every n-th video frame (frame numbers stay the video's own).
        write_batch: images or frames per database write (and per progress event).
        video_top_fraction: share of best frames averaged into the video-level score.
        shard_index: which shard of the collection this run processes (0-based) ...
        num_shards: ... out of this many; samples are split by sample id, disjointly.
    """

    prefix: str = "amd"
    output_dir: str | Path | None = None
    skip_existing: bool = True
    overwrite: bool = False
    threshold: float = 0.5
    detections: bool = False
    min_component_area: float = 0.001
    heatmap_bits: int = 16
    frame_stride: int = 1
    write_batch: int = 16
    video_top_fraction: float = 0.25
    shard_index: int = 0
    num_shards: int = 1

    def __post_init__(self) -> None:
        if not PREFIX_PATTERN.match(self.prefix):
            raise ValueError(f"label prefix must be a field name like 'amd', got {self.prefix!r}")
        if self.frame_stride < 1 or self.write_batch < 1:
            raise ValueError("frame_stride and write_batch must be at least 1")
        if not 0 <= self.shard_index < max(1, self.num_shards):
            raise ValueError(
                f"shard_index {self.shard_index} out of range for {self.num_shards} shards"
            )
        if not 0.0 < self.video_top_fraction <= 1.0:
            raise ValueError("video_top_fraction must be in (0, 1]")

    def field(self, name: str) -> str:
        """``<prefix>_<name>``."""
        return f"{self.prefix}_{name}"

    @property
    def labels(self) -> LabelSettings:
        """The per-prediction part of the options."""
        return LabelSettings(
            self.prefix, self.threshold, self.detections, self.min_component_area, self.heatmap_bits
        )


@dataclass(frozen=True)
class ApplyProgress:
    """Emitted after every written batch."""

    samples_done: int
    samples_total: int
    frames_done: int
    label: str
    partial: float = 0.0  # progress inside the current video, 0–1

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1]."""
        if not self.samples_total:
            return 1.0
        return min(1.0, (self.samples_done + self.partial) / self.samples_total)


@dataclass
class ApplySummary:
    """What a run did. Sample ids are strings."""

    output_dir: Path
    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0  # video frames segmented in this run
    backend: str | None = None  # the segmenter's backend, e.g. "openvino" (None: unknown)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (operator results)."""
        data = asdict(self)
        data["output_dir"] = str(self.output_dir)
        return data


def default_output_dir(dataset_name: str) -> Path:
    """``<fo.config.default_dataset_dir>/amd_masks/<dataset name, made path-safe>``."""
    import fiftyone as fo

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset_name).strip("._") or "dataset"
    return Path(fo.config.default_dataset_dir).expanduser() / "amd_masks" / safe


def shard_of(sample_id: str, num_shards: int) -> int:
    """The shard a sample belongs to: its ObjectId modulo ``num_shards``.

    Stable however the view changes while shards run (unlike skip/limit on a view that
    shrinks as results arrive), and balanced because ObjectIds end in a counter.
    """
    return int(sample_id, 16) % num_shards


ProgressCallback = Callable[[ApplyProgress], Any]
