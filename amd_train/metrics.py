"""Evaluation metrics: DAVIS region similarity J, boundary F-measure, saliency MAE / F-beta.

Pure numpy (plus ``scipy.ndimage`` for the boundary dilation). Conventions follow the DAVIS
benchmark definitions (Perazzi et al., CVPR 2016) and the usual salient-object-detection
protocol (min–max normalised predictions, 256 thresholds, beta² = 0.3, adaptive threshold
= 2 × mean prediction).

All masks are ``H×W`` arrays; boolean masks are expected for J/F, anything else is cast
with ``!= 0`` (so 0/1 and 0/255 arrays both work).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

# Per-frame J/F lists are kept in the per-sequence result under these keys.
MEASURES = ("J", "F")


def _as_bool_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """Return ``mask`` (H×W) as a bool array; raise if it is not 2-D."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D H×W mask, got shape {arr.shape}")
    return arr if arr.dtype == bool else arr != 0


def _check_same_shape(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(
            f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}; "
            "resize the prediction to the ground-truth size first"
        )


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """Jaccard index J = |pred ∩ gt| / |pred ∪ gt| of two H×W masks.

    Both masks empty counts as a perfect match (1.0), as in DAVIS.
    """
    p = _as_bool_mask(pred, "pred")
    g = _as_bool_mask(gt, "gt")
    _check_same_shape(p, g)
    union = np.count_nonzero(p | g)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(p & g) / union)


def iou_at_threshold(prob: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """J of ``prob >= threshold`` (H×W float map) against the H×W ground-truth mask."""
    return region_similarity(np.asarray(prob) >= threshold, gt)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """H×W bool map of the pixels of ``mask`` lying on a region boundary.

    A pixel is a boundary pixel when it differs from its right, bottom or bottom-right
    neighbour (the DAVIS ``seg2bmap`` rule). Replicating the last row/column means the image
    border itself never creates boundary pixels, which matches the reference: a mask that
    touches the frame edge has no contour along that edge.
    """
    m = _as_bool_mask(mask, "mask")
    padded = np.pad(m, ((0, 1), (0, 1)), mode="edge")
    right = padded[:-1, 1:]
    below = padded[1:, :-1]
    below_right = padded[1:, 1:]
    return (m != right) | (m != below) | (m != below_right)


def _disk(radius: float) -> np.ndarray:
    """Square bool disk of the offsets with x² + y² <= r² (skimage's ``disk``)."""
    n = int(radius)
    y, x = np.ogrid[-n : n + 1, -n : n + 1]
    return x * x + y * y <= radius * radius


def _dilate(boundary: np.ndarray, radius: float) -> np.ndarray:
    """Dilate an H×W bool boundary map with a disk of ``radius`` px.

    Only the bounding box of the boundary (plus the radius) can change, so the dilation runs
    on that window: on 854×480 DAVIS frames this is about 10× faster than dilating the whole
    frame, with identical output.
    """
    rows = np.flatnonzero(boundary.any(axis=1))
    n = int(radius)
    if rows.size == 0 or n <= 0:
        return boundary.copy()
    out = np.zeros_like(boundary)
    cols = np.flatnonzero(boundary.any(axis=0))
    window = (
        slice(max(rows[0] - n, 0), rows[-1] + n + 1),
        slice(max(cols[0] - n, 0), cols[-1] + n + 1),
    )
    out[window] = ndimage.binary_dilation(boundary[window], structure=_disk(radius))
    return out


def boundary_tolerance(shape: tuple[int, int], bound_th: float = 0.008) -> float:
    """Match tolerance in pixels: ``bound_th`` itself if >= 1, else ceil(bound_th × diagonal).

    ``shape`` is the (H, W) of the masks; on 854×480 DAVIS frames the default gives 8 px.
    """
    if bound_th >= 1:
        return float(bound_th)
    return float(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS contour accuracy F between two H×W masks.

    Boundaries are matched within ``boundary_tolerance`` pixels (a disk dilation of each
    boundary). Precision = matched predicted boundary / predicted boundary, recall likewise
    for the ground truth, F = 2PR / (P + R). Empty boundaries follow DAVIS: both empty → P=R=1
    (F 1); no predicted boundary but some ground truth → P=1, R=0 (F 0); predicted boundary
    but none in the ground truth → P=0, R=1 (F 0).
    """
    p = _as_bool_mask(pred, "pred")
    g = _as_bool_mask(gt, "gt")
    _check_same_shape(p, g)
    radius = boundary_tolerance(p.shape, bound_th)
    pred_b = boundary_map(p)
    gt_b = boundary_map(g)
    n_pred = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    precision = np.count_nonzero(pred_b & _dilate(gt_b, radius)) / n_pred
    recall = np.count_nonzero(gt_b & _dilate(pred_b, radius)) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def sequence_statistics(values: Sequence[float]) -> dict[str, float]:
    """DAVIS statistics of per-frame scores (length N >= 1).

    Returns ``mean``; ``recall`` = fraction of frames scoring > 0.5; ``decay`` = mean of the
    first minus mean of the last of 4 near-equal bins (``numpy.array_split``), i.e. how much
    quality drops over time. With fewer than 4 frames the last bin is empty and decay is NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"need a non-empty 1-D list of per-frame scores, got shape {x.shape}")
    bins = np.array_split(x, 4)
    decay = float(bins[0].mean() - bins[3].mean()) if bins[3].size else math.nan
    return {"mean": float(x.mean()), "recall": float(np.mean(x > 0.5)), "decay": decay}


def evaluate_sequence(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray | None],
    bound_th: float = 0.008,
) -> dict:
    """Per-frame J and F of one video and their statistics.

    Args:
        preds: N predicted H×W bool masks, one per frame.
        gts: N ground-truth H×W masks aligned with ``preds``; ``None`` for frames without
            ground truth, which are skipped.

    Unlike the DAVIS semi-supervised protocol, which drops the first and last frame (the
    first one is given as input there), this unsupervised setting receives no mask at all,
    so *every* frame that has ground truth is scored.

    Returns:
        ``{"J": {"mean", "recall", "decay", "per_frame"}, "F": {...}, "frames": [indices]}``
        where ``per_frame`` lists the scores of the frames in ``frames``.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions but {len(gts)} ground-truth entries")
    frames, j_values, f_values = [], [], []
    for i, (pred, gt) in enumerate(zip(preds, gts)):
        if gt is None:
            continue
        if np.shape(pred) != np.shape(gt):
            raise ValueError(
                f"frame {i}: prediction shape {np.shape(pred)} differs from ground truth "
                f"{np.shape(gt)}"
            )
        frames.append(i)
        j_values.append(region_similarity(pred, gt))
        f_values.append(boundary_f_measure(pred, gt, bound_th))
    if not frames:
        raise ValueError("no frame of this sequence has ground truth")
    result: dict = {"frames": frames}
    for name, values in zip(MEASURES, (j_values, f_values)):
        result[name] = {**sequence_statistics(values), "per_frame": values}
    return result


def _finite_mean(values: list[float]) -> float:
    """Mean of the finite entries (NaN decay of very short sequences is left out)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarize(per_sequence: Mapping[str, Mapping]) -> dict[str, float]:
    """Dataset scores: every statistic averaged over sequences (not frames), as in DAVIS.

    Args:
        per_sequence: sequence name → ``evaluate_sequence`` result.

    Returns:
        ``J-mean``, ``J-recall``, ``J-decay``, ``F-mean``, ``F-recall``, ``F-decay``,
        ``J&F-mean`` (mean of J-mean and F-mean) and ``num_sequences``.
    """
    if not per_sequence:
        raise ValueError("no sequences to summarize")
    out: dict[str, float] = {}
    for name in MEASURES:
        for stat in ("mean", "recall", "decay"):
            out[f"{name}-{stat}"] = _finite_mean([r[name][stat] for r in per_sequence.values()])
    out["J&F-mean"] = (out["J-mean"] + out["F-mean"]) / 2
    out["num_sequences"] = len(per_sequence)
    return out


# --------------------------------------------------------------------------- saliency


def _normalise_saliency(pred_prob: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min–max normalise an H×W prediction to [0, 1] and binarise the H×W ground truth.

    A constant prediction has no range to stretch; it is kept (clipped to [0, 1]) rather
    than mapped to all-zeros, so a constant 1 still means "everything is salient".
    Non-bool ground truth is foreground where it exceeds half its range: > 0.5 for floats
    in [0, 1], > 127 for 0–255 masks.
    """
    p = np.asarray(pred_prob, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"pred_prob must be a 2-D H×W map, got shape {p.shape}")
    lo, hi = float(p.min()), float(p.max())
    p = (p - lo) / (hi - lo) if hi > lo else np.clip(p, 0.0, 1.0)
    g = np.asarray(gt)
    if g.dtype != bool:
        g = g > (127 if g.max() > 1 else 0.5)
    _check_same_shape(p, g)
    return p, g


def _f_beta(precision: np.ndarray, recall: np.ndarray, beta2: float) -> np.ndarray:
    """(1+β²)PR / (β²P + R), 0 where the denominator is 0."""
    num = (1 + beta2) * precision * recall
    den = beta2 * precision + recall
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def _pr_curve(p: np.ndarray, g: np.ndarray, thresholds: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall (each ``thresholds`` long) of ``p >= t`` for t = 0 … 1.

    The map is quantised to ``thresholds`` levels and histogrammed once, so all thresholds
    cost one pass. Precision with nothing predicted and recall with no foreground are 0.
    """
    levels = np.rint(p * (thresholds - 1)).astype(np.int64)
    fg_hist = np.bincount(levels[g], minlength=thresholds)
    bg_hist = np.bincount(levels[~g], minlength=thresholds)
    # Reverse cumulative sums: count of pixels with level >= t, for every t.
    tp = np.cumsum(fg_hist[::-1])[::-1].astype(np.float64)
    predicted = tp + np.cumsum(bg_hist[::-1])[::-1]
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    n_fg = float(g.sum())
    recall = tp / n_fg if n_fg > 0 else np.zeros_like(tp)
    return precision, recall


def _adaptive_f(p: np.ndarray, g: np.ndarray, beta2: float) -> float:
    """F-β at the adaptive threshold min(2 × mean(p), 1)."""
    pos = p >= min(2 * float(p.mean()), 1.0)
    tp = float(np.count_nonzero(pos & g))
    precision = tp / max(int(pos.sum()), 1)
    recall = tp / max(int(g.sum()), 1)
    return float(_f_beta(np.array(precision), np.array(recall), beta2))


def saliency_mae(pred_prob: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error between the normalised H×W prediction and the binary H×W truth."""
    p, g = _normalise_saliency(pred_prob, gt)
    return float(np.abs(p - g).mean())


def saliency_f_beta(
    pred_prob: np.ndarray, gt: np.ndarray, beta2: float = 0.3, thresholds: int = 256
) -> dict[str, float]:
    """F-β of one H×W saliency map: ``max_f`` over ``thresholds`` levels and ``adaptive_f``."""
    p, g = _normalise_saliency(pred_prob, gt)
    precision, recall = _pr_curve(p, g, thresholds)
    return {
        "max_f": float(_f_beta(precision, recall, beta2).max()),
        "adaptive_f": _adaptive_f(p, g, beta2),
    }


class SaliencyAccumulator:
    """Dataset-level saliency scores, accumulated one image at a time.

    Max F-β follows the common protocol: precision and recall curves are averaged over
    images first, F-β is computed from the mean curves, and its maximum over thresholds is
    reported. Adaptive F-β and MAE are per-image values averaged over the dataset.
    """

    def __init__(self, beta2: float = 0.3, thresholds: int = 256) -> None:
        self.beta2 = beta2
        self.thresholds = thresholds
        self._precision_sum = np.zeros(thresholds)
        self._recall_sum = np.zeros(thresholds)
        self._adaptive_sum = 0.0
        self._mae_sum = 0.0
        self.count = 0

    def add(self, pred_prob: np.ndarray, gt: np.ndarray) -> None:
        """Add one H×W prediction (any float range) and its H×W ground truth."""
        p, g = _normalise_saliency(pred_prob, gt)
        precision, recall = _pr_curve(p, g, self.thresholds)
        self._precision_sum += precision
        self._recall_sum += recall
        self._adaptive_sum += _adaptive_f(p, g, self.beta2)
        self._mae_sum += float(np.abs(p - g).mean())
        self.count += 1

    def result(self) -> dict[str, float]:
        """``max_f``, ``adaptive_f``, ``mae`` and ``num_images`` over everything added."""
        if self.count == 0:
            raise ValueError("no images were added")
        precision = self._precision_sum / self.count
        recall = self._recall_sum / self.count
        return {
            "max_f": float(_f_beta(precision, recall, self.beta2).max()),
            "adaptive_f": self._adaptive_sum / self.count,
            "mae": self._mae_sum / self.count,
            "num_images": self.count,
        }
