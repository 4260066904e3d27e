"""Discovery of evaluation sequences and saliency pairs in the supported folder layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amd_train.eval_data import (
    discover_saliency_pairs,
    discover_sequences,
    load_frame,
    read_split,
    resize_mask_nearest,
)


def write(path: Path, value: int = 0) -> Path:
    """Write a tiny 2×3 grayscale image (enough for discovery tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((2, 3), value, dtype=np.uint8)).save(path)
    return path


def make_sequence(frames: Path, masks: Path, stems, mask_stems) -> None:
    for s in stems:
        write(frames / f"{s}.jpg", 100)
    for s in mask_stems:
        write(masks / f"{s}.png", 255)


def test_official_layout_with_resolution_and_split(tmp_path):
    for seq in ("bear", "camel"):
        make_sequence(
            tmp_path / "JPEGImages/480p" / seq,
            tmp_path / "Annotations/480p" / seq,
            ["00000", "00001", "00002"],
            ["00000", "00002"],
        )
    (tmp_path / "ImageSets/480p").mkdir(parents=True)
    (tmp_path / "ImageSets/480p/val.txt").write_text(
        "/JPEGImages/480p/camel/00000.jpg /Annotations/480p/camel/00000.png\n"
        "/JPEGImages/480p/camel/00001.jpg /Annotations/480p/camel/00001.png\n"
    )
    seqs = discover_sequences(tmp_path)
    assert [s.name for s in seqs] == ["bear", "camel"]
    bear = seqs[0]
    assert [p.name for p in bear.frame_paths] == ["00000.jpg", "00001.jpg", "00002.jpg"]
    assert [p.name if p else None for p in bear.gt_paths] == ["00000.png", None, "00002.png"]
    assert bear.annotated_indices == [0, 2]
    assert read_split(tmp_path, "val") == ["camel"]
    assert [s.name for s in discover_sequences(tmp_path, split="val")] == ["camel"]


def test_per_sequence_layout_and_single_sequence(tmp_path):
    for seq in ("b", "a"):
        make_sequence(
            tmp_path / seq / "JPEGImages", tmp_path / seq / "Annotations", ["1", "2", "10"], ["1"]
        )
    seqs = discover_sequences(tmp_path)
    assert [s.name for s in seqs] == ["a", "b"]
    # Natural order: 1, 2, 10 (not 1, 10, 2).
    assert [p.stem for p in seqs[0].frame_paths] == ["1", "2", "10"]
    single = discover_sequences(tmp_path / "b")
    assert [s.name for s in single] == ["b"]
    assert len(single[0]) == 3
    with pytest.raises(ValueError, match="not found"):
        discover_sequences(tmp_path, sequences=["zzz"])


def test_orphan_mask_and_empty_root(tmp_path):
    make_sequence(tmp_path / "s/JPEGImages", tmp_path / "s/Annotations", ["0"], ["0", "frame_1"])
    with pytest.raises(ValueError, match="frame_1"):
        discover_sequences(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no sequences"):
        discover_sequences(tmp_path / "empty")


def test_saliency_pairs(tmp_path):
    for s in ("img2", "img10", "img1"):
        write(tmp_path / "images" / f"{s}.jpg")
        write(tmp_path / "masks" / f"{s}.png")
    write(tmp_path / "images" / "extra.jpg")
    with pytest.raises(ValueError, match="extra"):
        discover_saliency_pairs(tmp_path / "images", tmp_path / "masks")
    pairs = discover_saliency_pairs(tmp_path / "images", tmp_path / "masks", strict=False)
    assert [p.name for p in pairs] == ["img1", "img2", "img10"]
    assert pairs[0].mask_path == tmp_path / "masks" / "img1.png"


def test_resize_nearest_and_load_frame(tmp_path):
    mask = np.array([[1, 0], [0, 2]], dtype=np.uint8)
    up = resize_mask_nearest(mask, (4, 6))
    assert up.shape == (4, 6)
    assert set(np.unique(up)) == {0, 1, 2}  # no invented values
    assert (resize_mask_nearest(up, (2, 2)) == mask).all()
    frame = load_frame(write(tmp_path / "f.png", 50))
    assert frame.shape == (2, 3, 3) and frame.dtype == np.uint8
