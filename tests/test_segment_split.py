"""benchmarks/segment_split.py: an object split across channels shows in the union score."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def segment_split(benchmark_module):
    with benchmark_module("segment_split") as module:
        yield module


def split_object(k: int = 4, frames: int = 2, size: int = 16):
    """GT: a square object; masks: its left half in channel 1, its right half in channel 2,
    the rest of the frame in channel 0 (channel 3 empty)."""
    gt = np.zeros((size, size), bool)
    gt[4:12, 4:12] = True
    masks = np.zeros((frames, k, size, size), np.float32)
    masks[:, 0] = 1.0
    masks[:, 0, 4:12, 4:12] = 0.0
    masks[:, 1, 4:12, 4:8] = 1.0
    masks[:, 2, 4:12, 8:12] = 1.0
    return masks, [gt] * frames


def test_a_split_object_scores_half_per_channel_and_whole_as_a_union(segment_split):
    masks, gts = split_object()
    scores = segment_split.split_scores(masks, gts, channel=1)
    assert scores["label_free"] == pytest.approx(0.5, abs=0.05)
    assert scores["oracle"] == pytest.approx(0.5, abs=0.05)
    assert scores["best_union"] == pytest.approx(1.0, abs=0.02)
    assert sorted(scores["best_union_channels"])[:2] == [1, 2]
    assert 0 not in scores["best_union_channels"]


def test_an_object_in_one_channel_gains_nothing_from_unions(segment_split):
    masks, gts = split_object()
    masks[:, 1] += masks[:, 2]  # the whole object in channel 1
    masks[:, 2] = 0.0
    scores = segment_split.split_scores(masks, gts, channel=0)
    assert scores["label_free"] < 0.1  # the background channel was picked
    assert scores["oracle"] == pytest.approx(1.0, abs=0.02)
    assert scores["best_union"] == pytest.approx(scores["oracle"])


def test_a_mask_that_spills_around_the_object_shows_in_precision_and_area(segment_split):
    masks, gts = split_object()  # GT: the 8×8 square at 4:12 of a 16×16 frame
    spill = np.zeros_like(masks[:, 0])
    spill[:, 2:14, 2:14] = 1.0  # the 8×8 object and a 2-pixel ring around it
    scores = segment_split.extent(np.stack([1 - spill, spill], axis=1), gts, channel=1)
    assert scores["recall"] == pytest.approx(1.0)
    assert scores["precision"] == pytest.approx(64 / 144, abs=0.03)
    assert scores["area"] == pytest.approx(144 / 256, abs=0.03)
    assert scores["gt_area"] == pytest.approx(64 / 256)
