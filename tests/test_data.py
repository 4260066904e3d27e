"""Data pipeline: split files, discovery, sampling, transforms, video random access, errors."""

from __future__ import annotations

import logging
import os

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from amd_train.data.base import DataError, VideoSource
from amd_train.data.config import DataConfig
from amd_train.data.datasets import FramePairDataset, build_dataset, frame_pair_collate
from amd_train.data.frames import FrameFolderSource, parse_split_file
from amd_train.data.sampling import make_generator, reflect_index, sample_pair, worker_init_fn
from amd_train.data.sources import discover_sources, resolve_kind
from amd_train.data.transforms import IMAGENET_MEAN, IMAGENET_STD, PairTransform, normalize
from amd_train.data.video_file import VideoFileSource, write_video

torch.set_num_threads(1)


def _frames(count: int, height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((count, height, width, 3)) * 255).astype(np.uint8)


def _write_folder(folder, frames: np.ndarray, ext: str = "png") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:05d}.{ext}" for i in range(len(frames))]
    for name, frame in zip(names, frames):
        Image.fromarray(frame).save(folder / name)
    return names


def _normalised(frame: np.ndarray) -> torch.Tensor:
    return normalize(torch.from_numpy(frame.copy()).permute(2, 0, 1).float())


# --- split files -------------------------------------------------------------------------


def test_split_file_parses_comments_blank_lines_and_folder_only_lines(tmp_path) -> None:
    names = _write_folder(tmp_path / "JPEGImages/a", _frames(3))
    _write_folder(tmp_path / "JPEGImages/b", _frames(2))
    split = tmp_path / "train.txt"
    split.write_text(f"# comment\n\nJPEGImages/a {names[2]} {names[0]}\nJPEGImages/b\n")
    sources = parse_split_file(split, tmp_path)
    assert [len(s) for s in sources] == [2, 2]
    np.testing.assert_array_equal(sources[0].read(0), _frames(3)[2])  # listed order is kept


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "lists no videos"),
        ("# only a comment\n\n", "lists no videos"),
        ("JPEGImages/a 00000.png\n\nJPEGImages/zzz 00000.png\n", r"train\.txt:3: .*zzz"),
        ("JPEGImages/a 00000.png 00009.png\n", r"train\.txt:1: 1 frame\(s\) missing.*00009"),
    ],
)
def test_split_file_errors_name_file_and_line(tmp_path, text: str, match: str) -> None:
    _write_folder(tmp_path / "JPEGImages/a", _frames(1))
    (tmp_path / "train.txt").write_text(text)
    with pytest.raises(DataError, match=match):
        parse_split_file(tmp_path / "train.txt", tmp_path)
    with pytest.raises(DataError, match=match):
        build_dataset(DataConfig(root=str(tmp_path), split="train.txt"), seed=0)


# --- discovery ---------------------------------------------------------------------------


def test_discovery_layouts(tmp_path) -> None:
    # Plain folder of frame folders, and the per-sequence DAVIS layout <seq>/JPEGImages/.
    _write_folder(tmp_path / "plain/v1", _frames(2))
    _write_folder(tmp_path / "plain/v2", _frames(3))
    _write_folder(tmp_path / "davis/cows/JPEGImages", _frames(4))
    _write_folder(tmp_path / "davis/cows/Annotations", _frames(4))
    _write_folder(tmp_path / "single", _frames(5))
    write_video(tmp_path / "vids/clip.mp4", _frames(6))
    expected = {"plain": ("frames", [2, 3]), "davis": ("frames", [4]), "single": ("frames", [5])}
    expected["vids"] = ("videos", [6])
    expected["vids/clip.mp4"] = ("videos", [6])
    for sub, (kind, lengths) in expected.items():
        cfg = DataConfig(root=str(tmp_path / sub))
        assert resolve_kind(cfg) == kind, sub
        assert [len(s) for s in discover_sources(cfg)] == lengths, sub
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing/readme.txt").write_text("no videos here")
    with pytest.raises(DataError, match="nothing: found no video files"):
        resolve_kind(DataConfig(root=str(tmp_path / "nothing")))
    with pytest.raises(DataError, match="does not exist"):
        resolve_kind(DataConfig(root=str(tmp_path / "missing")))
    assert resolve_kind(DataConfig(kind="synthetic")) == "synthetic"


def test_bad_videos_are_skipped_with_a_warning(tmp_path, caplog) -> None:
    write_video(tmp_path / "good.mp4", _frames(4))
    (tmp_path / "corrupt.mp4").write_bytes(os.urandom(3000))
    (tmp_path / "zero.mov").write_bytes(b"")
    os.symlink("loop.mkv", tmp_path / "loop.mkv")
    with caplog.at_level(logging.WARNING):
        sources = discover_sources(DataConfig(root=str(tmp_path)))
    assert [s.name for s in sources] == [str(tmp_path / "good.mp4")]
    for name in ("corrupt.mp4", "zero.mov", "loop.mkv"):
        assert name in caplog.text
    (tmp_path / "good.mp4").unlink()
    with pytest.raises(DataError, match="no usable videos"):
        discover_sources(DataConfig(root=str(tmp_path)))


def test_corrupt_and_zero_frame_videos_name_the_file(tmp_path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    with pytest.raises(DataError, match=r"corrupt\.mp4: cannot read video"):
        VideoFileSource(corrupt)
    empty = tmp_path / "empty.avi"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()
    with pytest.raises(DataError, match=r"empty\.avi: video has no frames"):
        VideoFileSource(empty)
    os.mkfifo(tmp_path / "pipe.mp4")  # would block a naive open()
    with pytest.raises(DataError, match=r"pipe\.mp4: missing or not a regular file"):
        VideoFileSource(tmp_path / "pipe.mp4")


def test_unreadable_frame_names_the_file(tmp_path) -> None:
    _write_folder(tmp_path / "v", _frames(2))
    os.symlink("00009.png", tmp_path / "v/00009.png")  # a symlink loop
    (tmp_path / "v/00010.png").write_bytes(b"not an image")
    source = FrameFolderSource(tmp_path / "v", ["00000.png", "00009.png", "00010.png"])
    with pytest.raises(DataError, match=r"00009\.png: missing or not a regular file"):
        source.read(1)
    with pytest.raises(DataError, match=r"00010\.png: not a readable image"):
        source.read(2)


# --- sampling ----------------------------------------------------------------------------


def test_reflect_index_ping_pong() -> None:
    assert [reflect_index(i, 3) for i in range(9)] == [0, 1, 2, 1, 0, 1, 2, 1, 0]
    assert [reflect_index(i, 1) for i in range(3)] == [0, 0, 0]
    with pytest.raises(ValueError):
        reflect_index(0, 0)


def test_sample_pair_gap_range_and_short_videos() -> None:
    rng = np.random.default_rng(0)
    pairs = [sample_pair(10, 3, rng) for _ in range(300)]
    assert {b - a for a, b in pairs} == {1, 2, 3}
    assert all(0 <= a < b <= 9 for a, b in pairs)
    assert all(b - a == 1 for a, b in (sample_pair(10, 1, rng) for _ in range(20)))
    # Videos shorter than the gap are walked ping-pong: always valid indices.
    short = [sample_pair(2, 4, rng) for _ in range(100)]
    assert all(0 <= a < 2 and 0 <= b < 2 for a, b in short)
    assert sample_pair(1, 1, rng) == (0, 0)
    first = [sample_pair(50, 5, np.random.default_rng(9)) for _ in range(3)]
    assert first == [sample_pair(50, 5, np.random.default_rng(9)) for _ in range(3)]


# --- transforms --------------------------------------------------------------------------


def test_portrait_pairs_are_transposed_the_same_way() -> None:
    frame_a, frame_b = _frames(2, height=40, width=20)
    transform = PairTransform(resize_short=20, scale_range=(1.0, 1.0), crop_size=(20, 40))
    out_a, out_b = transform(frame_a, frame_b, np.random.default_rng(0))
    assert out_a.shape == out_b.shape == (3, 20, 40)
    torch.testing.assert_close(out_a, _normalised(frame_a.transpose(1, 0, 2)))
    torch.testing.assert_close(out_b, _normalised(frame_b.transpose(1, 0, 2)))


def test_resize_crop_and_pad() -> None:
    frame = _frames(1, height=60, width=90)[0]
    shifted = np.clip(frame.astype(int) + 10, 0, 255).astype(np.uint8)
    transform = PairTransform(resize_short=40, scale_range=(0.96, 1.0), crop_size=(32, 24))
    for seed in range(5):
        out_a, out_b = transform(frame, shifted, np.random.default_rng(seed))
        assert out_a.shape == out_b.shape == (3, 32, 24)
        # Same crop window for both frames: the +10 brightness offset survives everywhere
        # except where clipping at 255 ate it.
        diff = (out_b - out_a) * torch.tensor(IMAGENET_STD).view(3, 1, 1)
        assert (diff > 0).float().mean() > 0.9
    # Smaller than the crop: padded at the bottom/right with zeros (the mean colour).
    big = PairTransform(resize_short=30, scale_range=(1.0, 1.0), crop_size=(40, 60))
    out, _ = big(frame, frame, np.random.default_rng(0))
    assert out.shape == (3, 40, 60)
    assert torch.all(out[:, 30:] == 0) and torch.all(out[:, :, 45:] == 0)
    assert out[:, :30, :45].abs().sum() > 0


def test_normalize_constants() -> None:
    image = torch.tensor(IMAGENET_MEAN).view(3, 1, 1).expand(3, 2, 2)
    assert torch.allclose(normalize(image), torch.zeros(3, 2, 2))


# --- video random access -----------------------------------------------------------------


def test_video_random_access_matches_sequential_decoding(tmp_path) -> None:
    frames = _frames(24)
    path = write_video(tmp_path / "gop.mp4", frames, codec="libx264", options={"g": "5", "bf": "2"})
    with av.open(str(path)) as container:
        sequential = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    source = VideoFileSource(path)
    assert len(source) == len(sequential) == 24
    order = [17, 3, 4, 5, 23, 0, 11, 10, 12, 12, 22, 6, 1]
    for index in order:
        np.testing.assert_array_equal(source.read(index), sequential[index])
    a, b = source.read_pair(9, 8)
    np.testing.assert_array_equal(a, sequential[9])
    np.testing.assert_array_equal(b, sequential[8])
    with pytest.raises(IndexError):
        source.read(24)


def test_lossless_mkv_without_frame_count_is_exact(tmp_path) -> None:
    frames = _frames(7)
    path = write_video(tmp_path / "lossless.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # mkv does not store a count
    source = VideoFileSource(path)
    assert len(source) == 7
    for index in (6, 2, 3, 0):
        np.testing.assert_array_equal(source.read(index), frames[index])


# --- datasets ----------------------------------------------------------------------------


class _BrokenSource(VideoSource):
    name = "broken.mp4"

    def __len__(self) -> int:
        return 5

    def read(self, index: int) -> np.ndarray:
        raise DataError(f"{self.name}: cannot decode frame {index}")


def test_dataset_items_are_deterministic_per_epoch_and_index(tmp_path) -> None:
    _write_folder(tmp_path / "JPEGImages/a", _frames(6, seed=1))
    write_video(tmp_path / "clip.mp4", _frames(6, seed=2))
    sources = [FrameFolderSource(tmp_path / "JPEGImages/a"), VideoFileSource(tmp_path / "clip.mp4")]
    transform = PairTransform(resize_short=24, scale_range=(0.8, 1.0), crop_size=(16, 16))
    dataset = FramePairDataset(sources, transform, seed=3, step_limit=2, samples_per_video=2)
    assert len(dataset) == 4
    item = dataset[3]
    assert item["index"] == 3 and item["frame_a"].shape == (3, 16, 16)
    assert torch.equal(dataset[3]["frame_a"], item["frame_a"])
    dataset.set_epoch(1)
    assert not torch.equal(dataset[3]["frame_a"], item["frame_a"])
    dataset.set_epoch(0)
    # Forked workers reopen the video decoder; results match the single-process ones.
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=2,
        collate_fn=frame_pair_collate,
        worker_init_fn=worker_init_fn,
        generator=make_generator(3, rank=0),
        timeout=120,  # a fork deadlock would fail instead of hanging
    )
    batches = list(loader)
    assert batches[1]["frame_b"].shape == (2, 3, 16, 16)
    assert batches[1]["index"].tolist() == [2, 3]
    assert torch.equal(batches[1]["frame_a"][1], item["frame_a"])
    assert make_generator(3, 0).initial_seed() != make_generator(3, 1).initial_seed()


def test_read_failure_mid_training_falls_back_to_another_video(tmp_path, caplog) -> None:
    _write_folder(tmp_path / "ok", _frames(3))
    transform = PairTransform(resize_short=32, crop_size=(16, 16))
    dataset = FramePairDataset(
        [_BrokenSource(), FrameFolderSource(tmp_path / "ok")], transform, max_retries=20
    )
    with caplog.at_level(logging.WARNING):
        item = dataset[0]
    assert item["frame_a"].shape == (3, 16, 16)
    assert "broken.mp4" in caplog.text
    only_broken = FramePairDataset([_BrokenSource()], transform, max_retries=2)
    with pytest.raises(DataError, match=r"broken\.mp4"):
        only_broken[0]
