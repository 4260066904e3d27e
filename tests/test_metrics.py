"""Known-answer tests for the DAVIS and saliency metrics and the ground-truth mask loader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amd_train.eval_data import discover_sequences, load_gt_mask
from amd_train.metrics import (
    SaliencyAccumulator,
    boundary_f_measure,
    boundary_map,
    boundary_tolerance,
    evaluate_sequence,
    iou_at_threshold,
    region_similarity,
    saliency_f_beta,
    saliency_mae,
    sequence_statistics,
    summarize,
)

DAVIS_DEV = Path("/work/shared/data/davis2016-dev")


def square(size: int = 40, top: int = 10, left: int = 10, side: int = 10) -> np.ndarray:
    """size×size bool image holding one side×side square."""
    m = np.zeros((size, size), dtype=bool)
    m[top : top + side, left : left + side] = True
    return m


def brute_force_f(pred: np.ndarray, gt: np.ndarray, tol: float) -> float:
    """Independent F: pairwise distances between boundary pixels, no dilation."""
    pb = np.argwhere(boundary_map(pred)).astype(float)
    gb = np.argwhere(boundary_map(gt)).astype(float)
    d = np.sqrt(((pb[:, None, :] - gb[None, :, :]) ** 2).sum(-1))
    precision = np.mean(d.min(axis=1) <= tol)
    recall = np.mean(d.min(axis=0) <= tol)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------- J and F


def test_identical_masks_score_one():
    m = square()
    assert region_similarity(m, m) == 1.0
    assert boundary_f_measure(m, m) == 1.0


def test_disjoint_masks():
    a, b = square(top=0, left=0), square(top=25, left=25)
    assert region_similarity(a, b) == 0.0
    # Far apart with a 1 px tolerance: no boundary pixel is matched.
    assert boundary_f_measure(a, b) == 0.0


def test_one_pixel_shift():
    gt = square()
    pred = np.roll(gt, 1, axis=1)
    # Overlap 10×9 = 90, union 100 + 100 − 90 = 110.
    assert region_similarity(pred, gt) == pytest.approx(90 / 110)
    assert boundary_tolerance(gt.shape) == 1  # ceil(0.008 × 56.6)
    assert boundary_f_measure(pred, gt) == 1.0


def test_boundary_map_counts():
    # 10×10 square: inner right column + bottom row (19) and outer left column + top row (21).
    assert boundary_map(square()).sum() == 40
    # 2×2 square: 3 inner + 5 outer.
    assert boundary_map(square(side=2)).sum() == 8


def test_f_with_spurious_blob():
    gt = square()
    pred = gt | square(top=30, left=30, side=2)
    # Precision 40/48 (the blob's 8 boundary pixels are unmatched), recall 1 → F = 10/11.
    assert boundary_f_measure(pred, gt) == pytest.approx(10 / 11)


def test_f_matches_brute_force_on_random_blobs():
    rng = np.random.default_rng(0)
    for _ in range(3):
        a = rng.random((48, 64)) > 0.7
        b = rng.random((48, 64)) > 0.7
        for th in (0.008, 2, 3.5):
            tol = boundary_tolerance(a.shape, th)
            assert boundary_f_measure(a, b, th) == pytest.approx(brute_force_f(a, b, tol))


def test_empty_conventions():
    empty = np.zeros((20, 20), dtype=bool)
    full = square(size=20, top=5, left=5, side=5)
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(empty, full) == 0.0
    assert boundary_f_measure(empty, full) == 0.0
    assert boundary_f_measure(full, empty) == 0.0


def test_mask_covering_frame_has_no_boundary():
    # The image border is not a contour, so an all-foreground mask matches an empty one in F.
    full = np.ones((10, 10), dtype=bool)
    assert boundary_map(full).sum() == 0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        region_similarity(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_iou_at_threshold():
    prob = np.array([[0.9, 0.4], [0.6, 0.1]])
    gt = np.array([[1, 1], [0, 0]], dtype=bool)
    assert iou_at_threshold(prob, gt) == pytest.approx(1 / 3)
    assert iou_at_threshold(prob, gt, threshold=0.3) == pytest.approx(2 / 3)


# ---------------------------------------------------------------- statistics


def test_sequence_statistics():
    stats = sequence_statistics([1.0, 1.0, 0.9, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert stats["mean"] == pytest.approx(4.9 / 8)
    assert stats["recall"] == pytest.approx(5 / 8)  # 0.5 itself would not count
    assert stats["decay"] == pytest.approx(1.0 - 0.1)
    # 10 values split 3, 3, 2, 2 (numpy.array_split).
    stats = sequence_statistics([1, 1, 1, 0, 0, 0, 0.5, 0.5, 0.2, 0.4])
    assert stats["decay"] == pytest.approx(1.0 - 0.3)
    assert math.isnan(sequence_statistics([1.0, 0.5])["decay"])


def test_evaluate_and_summarize():
    gt = square()
    shifted = np.roll(gt, 1, axis=1)
    empty = np.zeros_like(gt)
    res = evaluate_sequence([gt, shifted, empty, gt], [gt, gt, gt, None])
    assert res["frames"] == [0, 1, 2]
    assert res["J"]["per_frame"] == pytest.approx([1.0, 90 / 110, 0.0])
    assert res["F"]["per_frame"] == pytest.approx([1.0, 1.0, 0.0])
    other = evaluate_sequence([gt] * 4, [gt] * 4)
    summary = summarize({"a": res, "b": other})
    j_a = (1 + 90 / 110) / 3
    assert summary["J-mean"] == pytest.approx((j_a + 1) / 2)
    assert summary["F-mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert summary["J-recall"] == pytest.approx((2 / 3 + 1) / 2)
    assert summary["J&F-mean"] == pytest.approx((summary["J-mean"] + summary["F-mean"]) / 2)
    # Sequence "a" has 3 scored frames, so its decay is NaN and only "b" counts.
    assert summary["J-decay"] == pytest.approx(0.0)
    assert summary["num_sequences"] == 2


@pytest.mark.skipif(not DAVIS_DEV.is_dir(), reason="DAVIS-2016 dev sample not present")
def test_davis_masks_against_themselves():
    per_seq = {}
    for seq in discover_sequences(DAVIS_DEV, sequences=["cows", "parkour"]):
        gts = [load_gt_mask(p) for p in seq.gt_paths[::4]]
        per_seq[seq.name] = evaluate_sequence(gts, gts)
    summary = summarize(per_seq)
    assert summary["J&F-mean"] == 1.0
    assert summary["J-decay"] == 0.0


# ---------------------------------------------------------------- saliency


def test_saliency_perfect():
    gt = square(size=16, top=4, left=4, side=6)
    pred = gt.astype(np.float32) * 0.8 + 0.1  # normalised back to exactly 0/1
    assert saliency_mae(pred, gt) == 0.0
    assert saliency_f_beta(pred, gt) == {"max_f": 1.0, "adaptive_f": 1.0}


def test_saliency_hand_made():
    gt = np.array([[0, 0], [255, 255]], dtype=np.uint8)  # 0/255 ground truth
    pred = np.array([[0.0, 0.5], [1.0, 1.0]])
    assert saliency_mae(pred, gt) == pytest.approx(0.125)
    assert saliency_f_beta(pred, gt)["max_f"] == pytest.approx(1.0)
    # One false positive: P = 2/3, R = 1 → F = 1.3·(2/3) / (0.3·(2/3) + 1) = 13/18.
    pred = np.array([[0.0, 1.0], [1.0, 1.0]])
    f = saliency_f_beta(pred, gt)
    assert f["max_f"] == pytest.approx(13 / 18)
    assert f["adaptive_f"] == pytest.approx(13 / 18)
    assert saliency_mae(pred, gt) == pytest.approx(0.25)


def test_saliency_accumulator_averages_curves():
    gt = np.array([[0, 0], [1, 1]], dtype=bool)
    acc = SaliencyAccumulator()
    acc.add(gt.astype(float), gt)  # perfect
    acc.add(np.array([[0.0, 1.0], [1.0, 1.0]]), gt)  # P 2/3, R 1
    res = acc.result()
    # Mean curves P = 5/6, R = 1 → F = 1.3·(5/6) / (0.3·(5/6) + 1) = 13/15,
    # not the mean of per-image maxima (31/36).
    assert res["max_f"] == pytest.approx(13 / 15)
    assert res["adaptive_f"] == pytest.approx((1 + 13 / 18) / 2)
    assert res["mae"] == pytest.approx(0.125)
    assert res["num_images"] == 2


# ---------------------------------------------------------------- mask loading


def test_palette_png_ids_are_foreground(tmp_path):
    ids = np.array([[0, 1, 0], [2, 0, 3]], dtype=np.uint8)
    img = Image.fromarray(ids, mode="P")
    img.putpalette([0, 0, 0] * 4)  # every id drawn black: the id, not the colour, counts
    path = tmp_path / "ids.png"
    img.save(path)
    assert (load_gt_mask(path) == (ids > 0)).all()


def test_other_encodings(tmp_path):
    expected = np.array([[0, 1], [1, 0]], dtype=bool)
    encodings = {
        "binary01.png": Image.fromarray(expected.astype(np.uint8)),
        "binary255.png": Image.fromarray(expected.astype(np.uint8) * 255),
        "sixteen.png": Image.fromarray(expected.astype(np.uint16) * 40000),
        "rgb.png": Image.fromarray(
            np.stack([np.zeros((2, 2)), expected * 200, expected * 0], -1).astype(np.uint8)
        ),
    }
    for name, img in encodings.items():
        img.save(tmp_path / name)
        assert (load_gt_mask(tmp_path / name) == expected).all(), name


def test_size_mismatch_names_file(tmp_path):
    path = tmp_path / "mask_007.png"
    Image.fromarray(np.zeros((4, 6), dtype=np.uint8)).save(path)
    assert load_gt_mask(path, size=(4, 6)).shape == (4, 6)
    with pytest.raises(ValueError, match=r"mask_007\.png.*4×6.*8×6"):
        load_gt_mask(path, size=(8, 6))


def test_corrupt_file_names_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png"):
        load_gt_mask(path)
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8) + 7).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(ValueError, match=r"truncated\.png"):
        load_gt_mask(truncated)
