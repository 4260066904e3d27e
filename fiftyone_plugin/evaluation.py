"""Compare AMD masks with ground-truth Segmentation masks (used by evaluate_amd).

Two things are stored under the evaluation key ``k``:

* FiftyOne's own ``evaluate_segmentations`` run (``k_accuracy``, ``k_precision``,
  ``k_recall`` per sample and, for videos, per frame; ``load_evaluation_results(k)`` for
  the confusion matrix). It compares pixel *values*, so it is exact when the ground truth
  uses 0/1 like our masks.
* ``k_iou``: binary foreground IoU (Jaccard J) with ground truth foreground = any nonzero
  value, so masks that mark objects with 255 (DAVIS) or instance ids are scored correctly
  too. Video samples get the mean over frames (frame-level ``frames.k_iou`` as well). An
  empty prediction on an empty ground truth counts as 1 (DAVIS convention).

Sort by it with ``dataset.sort_by("amd_eval_iou")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


def binary_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of ``pred > 0`` and ``gt > 0``; ``pred`` is resized (nearest) to ``gt`` if needed."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if gt.ndim == 3:  # RGB ground truth: any colour other than black is foreground
        gt = gt.any(axis=2)
    if pred.shape[:2] != gt.shape[:2]:
        resized = Image.fromarray((pred > 0).astype(np.uint8)).resize(
            (gt.shape[1], gt.shape[0]), Image.NEAREST
        )
        pred = np.asarray(resized)
    p, g = pred > 0, gt > 0
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum() / union)


def _strip_frames(name: str) -> str:
    return name[len("frames.") :] if name.startswith("frames.") else name


def _label_iou(pred_label: Any, gt_label: Any) -> float | None:
    if pred_label is None or gt_label is None:
        return None
    pred, gt = pred_label.get_mask(), gt_label.get_mask()
    if pred is None or gt is None:
        return None
    return binary_iou(pred, gt)


def evaluate_masks(
    collection: Any,
    gt_field: str,
    prefix: str = "amd",
    pred_field: str | None = None,
    eval_key: str = "amd_eval",
    overwrite: bool = True,
) -> dict[str, Any]:
    """Run ``evaluate_segmentations`` and store per-sample (and per-frame) IoU.

    Args:
        collection: dataset or view with AMD masks and ground-truth Segmentations.
        gt_field: the ground-truth field (for videos, the frame field, with or without the
            ``frames.`` prefix).
        prefix: the label prefix used by apply_amd (predictions in ``<prefix>_mask``).
        pred_field: override the prediction field.
        eval_key: where to store the results (``<eval_key>_iou`` etc.).
        overwrite: replace an existing evaluation with this key (else it is an error).

    Returns:
        ``{"eval_key", "pred_field", "gt_field", "mean_iou", "evaluated"}``.
    """
    video = collection.media_type == "video"
    pred = _strip_frames(pred_field or f"{prefix}_mask")
    gt = _strip_frames(gt_field)
    has = collection.has_frame_field if video else collection.has_field
    for name in (pred, gt):
        if not has(name):
            level = "frame field" if video else "field"
            raise ValueError(f"no {level} '{name}' in this collection")
    if eval_key in collection.list_evaluations():
        if not overwrite:
            raise ValueError(f"evaluation '{eval_key}' exists; pass overwrite=True to replace it")
        collection.delete_evaluation(eval_key)
    pred_path, gt_path = (f"frames.{pred}", f"frames.{gt}") if video else (pred, gt)
    collection.evaluate_segmentations(
        pred_path, gt_field=gt_path, eval_key=eval_key, progress=False
    )

    iou_field = f"{eval_key}_iou"
    sample_iou: dict[str, float | None] = {}
    for sample in collection.select_fields([pred_path, gt_path]).iter_samples():
        if video:
            frame_iou = {n: _label_iou(f[pred], f[gt]) for n, f in sample.frames.items()}
            scores = [v for v in frame_iou.values() if v is not None]
            sample_iou[sample.id] = float(np.mean(scores)) if scores else None
            collection.set_values(f"frames.{iou_field}", {sample.id: frame_iou}, key_field="id")
        else:
            sample_iou[sample.id] = _label_iou(sample[pred], sample[gt])
    if sample_iou:
        collection.set_values(iou_field, sample_iou, key_field="id")
    scored = [v for v in sample_iou.values() if v is not None]
    return {
        "eval_key": eval_key,
        "pred_field": pred_path,
        "gt_field": gt_path,
        "mean_iou": float(np.mean(scored)) if scored else None,
        "evaluated": len(scored),
    }
