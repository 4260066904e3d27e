"""Synthetic video generator: determinism, ground truth, motion, dataset writing, streaming."""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from amd_plugin.config import ConfigError, from_dict
from amd_train.cli.synth import main as synth_main
from amd_train.data.config import DataConfig
from amd_train.data.datasets import FramePairDataset, build_dataset
from amd_train.data.frames import parse_split_file
from amd_train.data.sampling import make_rng
from amd_train.data.video_file import VideoFileSource
from amd_train.synth_render import TEXTURE_KINDS
from amd_train.synthetic import (
    SyntheticConfig,
    SyntheticPairStream,
    _simulate,
    generate_video,
    write_dataset,
)

torch.set_num_threads(1)

SMALL = SyntheticConfig(height=48, width=64, num_frames=12)


def test_generate_is_deterministic_by_seed() -> None:
    first, again, other = (generate_video(SMALL, s) for s in (3, 3, 4))
    assert first.frames.shape == (12, 48, 64, 3) and first.frames.dtype == np.uint8
    assert first.masks.shape == (12, 48, 64) and first.masks.dtype == bool
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.masks, again.masks)
    assert not np.array_equal(first.frames, other.frames)
    # The default seed is cfg.seed; a tuple seed is another, independent stream.
    np.testing.assert_array_equal(generate_video(replace(SMALL, seed=3)).frames, first.frames)
    assert not np.array_equal(generate_video(SMALL, (3, 1)).frames, first.frames)


@pytest.mark.parametrize("seed", range(6))
def test_masks_nonempty_and_objects_move(seed: int) -> None:
    # Static camera: relative motion is image motion, so every frame's mask must change.
    video = generate_video(replace(SMALL, background_pan=0.0), seed)
    area = video.masks.reshape(len(video.masks), -1).sum(1)
    assert (area > 0).all()
    assert area.max() < video.masks[0].size  # never the whole frame
    changed = (video.masks[1:] != video.masks[:-1]).reshape(len(area) - 1, -1).sum(1)
    assert (changed > 0).all()
    # Foreground and background colours differ on average (the masks align with the pixels).
    assert not np.array_equal(video.frames[0][video.masks[0]].mean(0), video.frames[0].mean((0, 1)))


def test_objects_always_move_relative_to_panning_background() -> None:
    cfg = replace(SMALL, num_frames=120, background_pan=3.0)
    for seed in range(10):
        rng = make_rng(seed)
        bg_motion = rng.uniform(-3.0, 3.0, 2)
        centres, scales, _ = _simulate(cfg, rng, radius=10.0, bg_motion=bg_motion)
        relative = np.hypot(*(np.diff(centres, axis=0) - bg_motion).T)
        assert relative.min() >= 0.5 * cfg.object_speed[0]
        assert (scales > 0.5).all() and (scales < 1.5).all()
        assert (centres >= 0).all() and (centres[:, 0] <= cfg.width - 1).all()


def test_all_shapes_and_textures_render() -> None:
    for shape in SMALL.shapes:
        for texture in TEXTURE_KINDS:
            cfg = replace(
                SMALL,
                num_frames=2,
                shapes=(shape,),
                background_textures=(texture,),
                object_textures=(texture,),
            )
            assert generate_video(cfg, 0).masks.any()


def test_config_validation_and_yaml_loading() -> None:
    with pytest.raises(ValueError, match="object_speed"):
        SyntheticConfig(object_speed=(0.0, 1.0))
    with pytest.raises(ValueError, match="min_objects"):
        SyntheticConfig(min_objects=3, max_objects=2)
    cfg = from_dict(
        DataConfig,
        {
            "kind": "synthetic",
            "crop_size": [48, 64],
            "synthetic": {"height": 48, "shapes": ["star"]},
        },
    )
    assert cfg.crop_size == (48, 64) and cfg.synthetic.height == 48
    assert cfg.synthetic.shapes == ("star",)
    with pytest.raises(ConfigError, match="hexagon"):
        from_dict(DataConfig, {"synthetic": {"shapes": ["hexagon"]}})


def test_write_dataset_roundtrip(tmp_path) -> None:
    ids = write_dataset(tmp_path, 2, SMALL, seed=7, formats=("frames", "mp4"), progress=False)
    assert ids == ["synth00000", "synth00001"]
    lines = (tmp_path / "train.txt").read_text().splitlines()
    assert lines[0].split()[:3] == ["JPEGImages/synth00000", "00000.jpg", "00001.jpg"]
    assert len(lines[1].split()) == 1 + SMALL.num_frames
    video = generate_video(SMALL, (7, 1))
    jpeg = np.asarray(Image.open(tmp_path / "JPEGImages/synth00001/00005.jpg"))
    assert np.abs(jpeg.astype(int) - video.frames[5]).mean() < 6  # lossy but close
    mask = np.asarray(Image.open(tmp_path / "Annotations/synth00001/00005.png"))
    assert set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask == 255, video.masks[5])
    source = VideoFileSource(tmp_path / "videos/synth00001.mp4")
    assert len(source) == SMALL.num_frames
    assert np.abs(source.read(5).astype(int) - video.frames[5]).mean() < 12
    # The split file parses, and the folder is auto-detected as frame folders.
    assert [len(s) for s in parse_split_file(tmp_path / "train.txt", tmp_path)] == [12, 12]
    small = DataConfig(root=str(tmp_path), resize_short=48, crop_size=(32, 32))
    dataset = build_dataset(small, seed=0)
    assert isinstance(dataset, FramePairDataset) and len(dataset) == 2
    assert dataset[1]["frame_a"].shape == (3, 32, 32)


def test_write_dataset_rejects_bad_formats(tmp_path) -> None:
    with pytest.raises(ValueError, match="formats"):
        write_dataset(tmp_path, 1, SMALL, formats=("gif",), progress=False)
    with pytest.raises(ValueError, match="even"):
        write_dataset(tmp_path, 1, replace(SMALL, width=63), formats=("mp4",), progress=False)


def test_cli_writes_dataset(tmp_path, capsys) -> None:
    out = tmp_path / "synth"
    argv = [str(out), "--videos", "2", "--frames", "3", "--size", "32", "48", "--mp4", "--quiet"]
    assert synth_main(argv) == 0
    assert "wrote 2 videos" in capsys.readouterr().out
    assert len((out / "train.txt").read_text().splitlines()) == 2
    assert sorted(p.name for p in (out / "JPEGImages/synth00001").iterdir())[-1] == "00002.jpg"
    with av.open(str(out / "videos/synth00000.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.height, stream.width) == (32, 48)
    with pytest.raises(SystemExit):
        synth_main([str(out), "--videos", "1", "--objects", "3", "1"])


def test_pair_stream_deterministic_and_split_across_workers() -> None:
    cfg = replace(SMALL, num_frames=4)
    stream = SyntheticPairStream(cfg, seed=5, rank=0, videos_per_epoch=4, pairs_per_video=2)
    items = list(stream)
    assert len(items) == len(stream) == 8
    assert sorted(it["index"] for it in items) == list(range(8))
    assert items[0]["frame_a"].shape == (3, 48, 64) and items[0]["frame_a"].dtype == torch.float32
    again = list(SyntheticPairStream(cfg, seed=5, rank=0, videos_per_epoch=4, pairs_per_video=2))
    assert all(torch.equal(a["frame_b"], b["frame_b"]) for a, b in zip(items, again))
    other_rank = next(iter(SyntheticPairStream(cfg, seed=5, rank=1, videos_per_epoch=4)))
    assert not torch.equal(other_rank["frame_a"], items[0]["frame_a"])
    stream.set_epoch(1)
    assert not torch.equal(next(iter(stream))["frame_a"], items[0]["frame_a"])
    # Two workers share the epoch's videos between them: same items, none twice.
    stream.set_epoch(0)
    loader = DataLoader(stream, batch_size=None, num_workers=2, timeout=120)
    by_index = {int(it["index"]): it for it in loader}
    assert sorted(by_index) == list(range(8))
    assert all(torch.equal(by_index[it["index"]]["frame_a"], it["frame_a"]) for it in items)


def test_build_dataset_synthetic_uses_transform() -> None:
    cfg = DataConfig(
        kind="synthetic",
        resize_short=48,
        crop_size=(40, 40),
        synthetic=replace(SMALL, num_frames=3),
        synthetic_videos_per_epoch=2,
        synthetic_pairs_per_video=3,
    )
    stream = build_dataset(cfg, seed=0, rank=0)
    assert isinstance(stream, SyntheticPairStream) and len(stream) == 6
    item = next(iter(stream))
    assert item["frame_a"].shape == item["frame_b"].shape == (3, 40, 40)


def test_rendering_a_subset_of_frames_matches_the_full_video() -> None:
    full = generate_video(SMALL, (5, 2))
    part = generate_video(SMALL, (5, 2), frame_indices=[7, 3, 7])
    np.testing.assert_array_equal(part.frames, full.frames[[7, 3, 7]])
    np.testing.assert_array_equal(part.masks, full.masks[[7, 3, 7]])
    with pytest.raises(ValueError, match="frame_indices"):
        generate_video(SMALL, (5, 2), frame_indices=[SMALL.num_frames])
