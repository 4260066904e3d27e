"""From one :class:`~amd_plugin.Prediction` to files on disk and FiftyOne labels.

Per image (or video frame) we write two PNGs with :mod:`amd_plugin.io.masks` and build:

* ``<prefix>_mask``: ``Segmentation(mask_path=...)``, 0/1 with foreground = 1;
* ``<prefix>_heatmap``: ``Heatmap(map_path=..., range=[0, 65535])`` (16-bit by default);
* ``<prefix>_objectness``: the prediction's objectness, a float in [0, 1];
* ``<prefix>_detections`` (optional): one ``Detection`` per connected foreground component,
  box in FiftyOne's relative ``[x, y, w, h]``, confidence = mean probability inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amd_plugin.io.masks import heatmap_range, write_heatmap_png, write_mask_png

DETECTION_LABEL = "object"


@dataclass(frozen=True)
class Component:
    """A connected foreground region: relative box ``[x, y, w, h]``, mean probability, area."""

    box: tuple[float, float, float, float]
    confidence: float
    area: float  # fraction of the image


def mask_components(prob: np.ndarray, mask: np.ndarray, min_area: float = 0.001) -> list[Component]:
    """Connected components (8-connectivity) of ``mask``, largest first.

    Args:
        prob: ``H×W`` foreground probability.
        mask: ``H×W`` bool foreground mask (usually ``prob > threshold``).
        min_area: components smaller than this fraction of the image are dropped (specks).
    """
    from scipy import ndimage  # a FiftyOne dependency; imported here so the module loads fast

    height, width = mask.shape
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    components = []
    for index, region in enumerate(ndimage.find_objects(labels), start=1):
        if region is None:
            continue
        inside = labels[region] == index
        area = float(inside.sum()) / (height * width)
        if area < min_area:
            continue
        rows, cols = region
        box = (
            cols.start / width,
            rows.start / height,
            (cols.stop - cols.start) / width,
            (rows.stop - rows.start) / height,
        )
        confidence = float(prob[region][inside].mean())
        components.append(Component(box, confidence, area))
    components.sort(key=lambda c: c.area, reverse=True)
    return components


def video_objectness(scores: Sequence[float], top_fraction: float = 0.25) -> float | None:
    """Video-level objectness: the mean of the top ``top_fraction`` of frame scores.

    Why not the mean of all frames: an object that is out of view or occluded for part of
    the clip should not drag the video down. Why not the max: one lucky frame is noise. The
    top quarter (at least one frame) rewards a clear object seen for a good while.
    Returns ``None`` when no frame was scored.
    """
    values = sorted((float(s) for s in scores if s is not None), reverse=True)
    if not values:
        return None
    keep = max(1, math.ceil(len(values) * top_fraction))
    return float(np.mean(values[:keep]))


def output_paths(folder: Path, frame_number: int | None = None) -> tuple[Path, Path]:
    """Deterministic ``(mask, heatmap)`` paths: ``mask.png`` or ``000012_mask.png``."""
    stem = "" if frame_number is None else f"{frame_number:06d}_"
    return folder / f"{stem}mask.png", folder / f"{stem}heatmap.png"


@dataclass(frozen=True)
class LabelSettings:
    """What to write for each prediction (a subset of the apply options)."""

    prefix: str = "amd"
    threshold: float = 0.5
    detections: bool = False
    min_component_area: float = 0.001
    heatmap_bits: int = 16

    def field(self, name: str) -> str:
        """``<prefix>_<name>``, e.g. ``amd_mask``."""
        return f"{self.prefix}_{name}"

    @property
    def label_names(self) -> tuple[str, ...]:
        """The per-image (per-frame) fields this run writes."""
        names = ("mask", "heatmap", "objectness") + (("detections",) if self.detections else ())
        return tuple(self.field(n) for n in names)


def write_prediction(
    prediction: Any, folder: Path, settings: LabelSettings, frame_number: int | None = None
) -> dict[str, Any]:
    """Write the prediction's mask and heatmap PNGs; return ``{field: label or float}``."""
    import fiftyone as fo

    mask_path, heatmap_path = output_paths(folder, frame_number)
    mask = prediction.foreground > settings.threshold
    write_mask_png(mask, mask_path)
    write_heatmap_png(prediction.foreground, heatmap_path, bits=settings.heatmap_bits)
    values: dict[str, Any] = {
        settings.field("mask"): fo.Segmentation(mask_path=str(mask_path)),
        settings.field("heatmap"): fo.Heatmap(
            map_path=str(heatmap_path), range=list(heatmap_range(settings.heatmap_bits))
        ),
        settings.field("objectness"): float(prediction.objectness),
    }
    if settings.detections:
        components = mask_components(prediction.foreground, mask, settings.min_component_area)
        values[settings.field("detections")] = fo.Detections(
            detections=[
                fo.Detection(
                    label=DETECTION_LABEL, bounding_box=list(c.box), confidence=c.confidence
                )
                for c in components
            ]
        )
    return values


def outputs_exist(mask_path: str | None, heatmap_path: str | None) -> bool:
    """Whether a stored result is complete: both labels are set and both PNGs are on disk."""
    return (
        bool(mask_path and heatmap_path)
        and Path(mask_path).is_file()
        and Path(heatmap_path).is_file()
    )
