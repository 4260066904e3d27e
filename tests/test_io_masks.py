"""Atomic mask / heatmap PNG writers (amd_plugin.io.masks)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from amd_plugin.io import atomic, masks
from amd_plugin.io.masks import (
    read_heatmap_png,
    read_mask_png,
    write_heatmap_png,
    write_mask_png,
)


def test_mask_is_zero_one_uint8(tmp_path):
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:3, 2:5] = True
    path = write_mask_png(mask, tmp_path / "a" / "mask.png")
    with Image.open(path) as image:
        assert image.mode == "L"
        stored = np.asarray(image)
    assert stored.dtype == np.uint8 and set(np.unique(stored)) == {0, 1}
    assert (read_mask_png(path) == mask).all()


@pytest.mark.parametrize(("bits", "tolerance"), [(16, 1e-4), (8, 3e-3)])
def test_heatmap_round_trip(tmp_path, bits, tolerance):
    prob = np.random.default_rng(0).random((6, 9)).astype(np.float32)
    prob[0, 0], prob[0, 1], prob[0, 2] = -1.0, 2.0, np.nan  # clipped / zeroed
    path = write_heatmap_png(prob, tmp_path / "heatmap.png", bits=bits)
    back = read_heatmap_png(path)
    expected = np.clip(np.nan_to_num(prob, nan=0.0), 0, 1)
    assert np.abs(back - expected).max() < tolerance
    assert masks.heatmap_range(bits)[1] == (65535 if bits == 16 else 255)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_mask_png(np.ones((4, 4), bool), tmp_path / "mask.png")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temp file


def test_overwrite_replaces_whole_file(tmp_path):
    path = tmp_path / "mask.png"
    write_mask_png(np.ones((4, 4), bool), path)
    write_mask_png(np.zeros((8, 2), bool), path)
    assert read_mask_png(path).shape == (8, 2)


def test_rejects_wrong_shapes(tmp_path):
    with pytest.raises(ValueError):
        write_mask_png(np.ones((2, 2, 3)), tmp_path / "m.png")
    with pytest.raises(ValueError):
        write_heatmap_png(np.ones((2, 2)), tmp_path / "h.png", bits=12)
