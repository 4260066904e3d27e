"""A catalogue of bad inputs for the public entry points, each with the outcome we promise.

Every :class:`Case` builds its input under a temporary folder, names the entry point that
reads it and says what must happen: ``"ok"`` (the input is usable; ``check`` verifies the
result), ``"skipped"`` (a batch entry point keeps the good items and logs a warning naming
the bad one) or an error class name (raised with a message that names the input and
matches ``match``). Nothing else is acceptable: no other exception, no hang.

Used by ``test_bad_inputs.py``; run as a script it executes every case and prints what
happened as the markdown table of ``benchmarks/reliability.md``:

    python tests/reliability/bad_inputs.py [--fast]
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image

# --------------------------------------------------------------------------- builders


def rgb(h: int = 20, w: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def save(image: Image.Image, path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(width: int, height: int, color_type: int, bit_depth: int, rows: bytes) -> bytes:
    """A PNG written by hand (Pillow cannot write 16-bit RGB, nor a lying header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def png16_rgb(path: Path, h: int = 6, w: int = 8) -> Path:
    """48-bit RGB PNG: left half white (65535), right half black."""
    row = np.zeros((w, 3), ">u2")
    row[: w // 2] = 65535
    rows = b"".join(b"\x00" + row.tobytes() for _ in range(h))
    return write_bytes(path, png_bytes(w, h, 2, 16, rows))


def bomb_png(path: Path, side: int = 30_000) -> Path:
    """A 100-byte PNG whose header claims ``side × side`` pixels."""
    return write_bytes(path, png_bytes(side, side, 2, 8, b"\x00" * 64))


def exif_jpeg(path: Path, orientation: int) -> Path:
    """10×40 landscape JPEG, top-left 8×8 block white, with an EXIF orientation tag."""
    array = np.zeros((10, 40, 3), np.uint8)
    array[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(Image.fromarray(array), path, exif=exif.tobytes(), quality=95)


def write_video(
    path: Path,
    n: int = 6,
    size: tuple[int, int] = (32, 48),
    pts_ms: list[int] | None = None,
    rotation: int = 0,
    options: dict[str, str] | None = None,
) -> Path:
    """An mp4/mkv (MPEG-4 Part 2); frame i is a flat grey of 20·i; top-left 8×8 block white.

    ``pts_ms`` gives irregular timestamps (variable frame rate); ``rotation`` writes a
    display matrix (counter-clockwise degrees, as PyAV and FFmpeg read it back).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        if pts_ms is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(n):
            array = np.full((*size, 3), (20 * i) % 256, np.uint8)
            array[:8, :8] = 255
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def zero_frame_video(path: Path) -> Path:
    """A container with a video stream header and no frame at all."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def truncated(path: Path, source: Path, fraction: float) -> Path:
    data = source.read_bytes()
    return write_bytes(path, data[: int(len(data) * fraction)])


def corrupted(path: Path, source: Path) -> Path:
    """``source`` with its frame data (the mp4 ``mdat`` box) inverted from 1/3 to 2/3."""
    data = bytearray(source.read_bytes())
    box = data.find(b"mdat") - 4
    size = int.from_bytes(data[box : box + 4], "big")
    start, stop = box + size // 3, box + 2 * size // 3
    data[start:stop] = bytes(b ^ 0xFF for b in data[start:stop])
    return write_bytes(path, bytes(data))


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def symlink_loop(path: Path) -> Path:
    """``path`` → ``path.loop`` → ``path``: every stat() fails with ELOOP."""
    path.parent.mkdir(parents=True, exist_ok=True)
    other = path.with_name(path.name + ".loop")
    path.symlink_to(other.name)
    other.symlink_to(path.name)
    return path


def unreadable(path: Path) -> Path:
    save(Image.fromarray(rgb()), path)
    path.chmod(0)
    return path


def frame_folder(folder: Path, n: int = 3, size: tuple[int, int] = (24, 32)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        save(Image.fromarray(rgb(*size, seed=i)), folder / f"{i:05d}.jpg")
    return folder


def permission_reason() -> str:
    """Why permission bits cannot be tested here ('' when they can)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "running as root: permission bits do not block reads"
    return ""


def fifo_reason() -> str:
    return "" if hasattr(os, "mkfifo") else "no FIFOs on this platform"


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # read_image | iter_frames | discover_sources | parse_split_file | ...
    build: Callable[[Path], Any]  # tmp folder -> the argument of the target
    expect: str  # "ok", "skipped" or the error class name
    match: str = ""  # regex the message must match (case-insensitive)
    named: str = ""  # what the message must name; default: the input's file name
    check: Callable[[Any], bool] | None = None  # for "ok": verifies the result
    skip: Callable[[], str] | None = None  # -> reason to skip here, or ""
    slow: bool = False
    note: str = ""  # for the report: a bug this case found, or what it shows


@dataclass
class Outcome:
    kind: str  # "ok" or the exception class name
    message: str = ""
    value: Any = None
    frames: int = 0  # iter_frames: frames yielded before an error
    log: str = ""  # warnings logged during the call


def shape_is(*shape: int) -> Callable[[Any], bool]:
    return lambda a: a.shape == shape and a.dtype == np.uint8


def rgb_ok(a: np.ndarray) -> bool:
    return a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8


def _block_at(array: np.ndarray, corner: str) -> bool:
    """The bright 8×8 block sits in ``corner`` (tl/tr/bl/br) of an image or frame."""
    h, w = array.shape[:2]
    rows = slice(0, 6) if corner[0] == "t" else slice(h - 6, h)
    cols = slice(0, 6) if corner[1] == "l" else slice(w - 6, w)
    return float(array[rows, cols].mean()) > 200


# -- images ------------------------------------------------------------------------------


def _rgba(tmp: Path) -> Path:
    array = np.dstack([rgb(), np.full((20, 30), 255, np.uint8)])
    array[0, 0] = (200, 200, 200, 0)  # fully transparent: composited on black
    return save(Image.fromarray(array, "RGBA"), tmp / "rgba.png")


def _palette_transparent(tmp: Path) -> Path:
    image = Image.fromarray(rgb()).convert("P")
    return save(image, tmp / "palette.png", transparency=0)


def _animated_gif(tmp: Path) -> Path:
    frames = [Image.fromarray(rgb(seed=i)).convert("P") for i in range(3)]
    path = tmp / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40)
    return path


IMAGE_CASES = [
    Case("RGBA PNG (alpha on black)", "read_image", _rgba, "ok",
         check=lambda a: shape_is(20, 30, 3)(a) and a[0, 0].max() == 0),
    Case("LA PNG", "read_image",
         lambda t: save(Image.fromarray(rgb()).convert("LA"), t / "la.png"), "ok",
         check=shape_is(20, 30, 3)),
    Case("16-bit grey PNG (I;16)", "read_image",
         lambda t: save(Image.fromarray((np.arange(600).reshape(20, 30) * 100).astype(np.uint16)),
                        t / "grey16.png"), "ok", check=shape_is(20, 30, 3)),
    Case("16-bit RGB PNG (48 bpp)", "read_image", lambda t: png16_rgb(t / "rgb48.png"), "ok",
         check=lambda a: shape_is(6, 8, 3)(a) and a[0, 0].min() == 255 and a[0, -1].max() == 0),
    Case("CMYK JPEG", "read_image",
         lambda t: save(Image.fromarray(rgb()).convert("CMYK"), t / "cmyk.jpg"), "ok",
         check=shape_is(20, 30, 3)),
    Case("palette PNG with transparency", "read_image", _palette_transparent, "ok",
         check=shape_is(20, 30, 3)),
    Case("1-bit PNG", "read_image",
         lambda t: save(Image.fromarray(rgb()).convert("1"), t / "bilevel.png"), "ok",
         check=shape_is(20, 30, 3)),
    Case("32-bit float TIFF", "read_image",
         lambda t: save(Image.fromarray(np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)),
                        t / "float.tif"), "ok", check=shape_is(20, 30, 3)),
    Case("animated GIF (first frame)", "read_image", _animated_gif, "ok",
         check=shape_is(20, 30, 3)),
    Case("EXIF orientation 6 (90° CW) JPEG", "read_image", lambda t: exif_jpeg(t / "o6.jpg", 6),
         "ok", check=lambda a: a.shape == (40, 10, 3) and _block_at(a, "tr")),
    Case("EXIF orientation 8 (90° CCW) JPEG", "read_image", lambda t: exif_jpeg(t / "o8.jpg", 8),
         "ok", check=lambda a: a.shape == (40, 10, 3) and _block_at(a, "bl")),
    Case("EXIF orientation 3 (180°) JPEG", "read_image", lambda t: exif_jpeg(t / "o3.jpg", 3),
         "ok", check=lambda a: a.shape == (10, 40, 3) and _block_at(a, "br")),
    Case("1×1 image", "read_image",
         lambda t: save(Image.fromarray(rgb(1, 1)), t / "one.png"), "ok", check=shape_is(1, 1, 3)),
    Case("text file named .png", "read_image",
         lambda t: write_bytes(t / "notes.png", b"just some text\n"), "MediaError",
         "not a readable image"),
    Case("empty .jpg", "read_image", lambda t: write_bytes(t / "empty.jpg", b""), "MediaError",
         "not a readable image"),
    Case("truncated JPEG", "read_image",
         lambda t: truncated(t / "cut.jpg", save(Image.fromarray(rgb(64, 64)), t / "src.jpg"),
                             0.4), "MediaError", "truncated"),
    Case("truncated PNG", "read_image",
         lambda t: truncated(t / "cut.png", save(Image.fromarray(rgb(64, 64)), t / "src.png"),
                             0.5), "MediaError", "truncated|not a readable"),
    Case("mp4 named .jpg", "read_image",
         lambda t: write_bytes(t / "clip.jpg", write_video(t / "v.mp4").read_bytes()),
         "MediaError", "not a readable image"),
    Case("missing file", "read_image", lambda t: t / "nothere.png", "MediaError", "not found"),
    Case("folder named .png", "read_image", lambda t: (t / "dir.png").mkdir() or t / "dir.png",
         "MediaError", "folder"),
    Case("symlink loop .jpg", "read_image", lambda t: symlink_loop(t / "loop.jpg"), "MediaError",
         "symlink"),
    Case("FIFO named .png", "read_image", lambda t: fifo(t / "pipe.png"), "MediaError",
         "not a regular file", skip=fifo_reason,
         note="was a hang: Pillow blocked forever reading the FIFO; fixed"),
    Case("unreadable (chmod 000)", "read_image", lambda t: unreadable(t / "locked.png"),
         "MediaError", "permission denied", skip=permission_reason),
    Case("PNG header claiming 30000×30000 (bomb)", "read_image", lambda t: bomb_png(t / "bomb.png"),
         "MediaError", "too large|decompression bomb"),
    Case("10000×10000 constant PNG (100 MP)", "read_image",
         lambda t: save(Image.new("RGB", (10_000, 10_000), (10, 200, 30)), t / "huge.png"), "ok",
         check=shape_is(10_000, 10_000, 3), slow=True,
         note="was refused (Pillow's 89 MP bomb warning raised as an error); fixed"),
]  # fmt: skip

# -- videos and frame folders --------------------------------------------------------------


def _mixed_folder(tmp: Path) -> Path:
    folder = tmp / "mixed"
    save(Image.fromarray(rgb(24, 32)), folder / "1.jpg")
    save(Image.fromarray(rgb(24, 32)).convert("L"), folder / "2.png")
    save(Image.fromarray(np.dstack([rgb(24, 32), np.full((24, 32), 128, np.uint8)])),
         folder / "10.png")  # fmt: skip
    return folder


def _corrupt_mid_folder(tmp: Path) -> Path:
    folder = frame_folder(tmp / "frames", n=4)
    write_bytes(folder / "00002.jpg", b"\xff\xd8garbage")
    return folder


def _folder_with_file_loop(tmp: Path) -> Path:
    folder = frame_folder(tmp / "frames", n=2)
    symlink_loop(folder / "00001_loop.jpg")
    return folder


def _folder_with_dir_loop(tmp: Path) -> Path:
    folder = frame_folder(tmp / "frames", n=2)
    (folder / "again").symlink_to(folder, target_is_directory=True)
    return folder


def _vfr(tmp: Path) -> Path:
    return write_video(tmp / "vfr.mp4", n=12, pts_ms=[0, 10, 50, 55, 200, 210, 400, 1000, 1001,
                                                      1500, 1600, 2500])  # fmt: skip


def _frames_are_grey_ramp(frames: list[np.ndarray], n: int) -> bool:
    means = [float(f[10:, 10:].mean()) for f in frames]
    return len(frames) == n and all(abs(m - 20 * i) < 6 for i, m in enumerate(means))


VIDEO_CASES = [
    Case("truncated mp4 (moov at end, cut at 50%)", "iter_frames",
         lambda t: truncated(t / "cut.mp4", write_video(t / "src.mp4", n=10), 0.5), "MediaError",
         "not a readable video|no video stream"),
    Case("truncated mp4 (faststart, cut at 60%)", "iter_frames",
         lambda t: truncated(t / "cut_fast.mp4",
                             write_video(t / "src.mp4", n=30, options={"movflags": "faststart"}),
                             0.6), "MediaError", "truncated",
         note="was silent: the frames before the cut, no error (lost output); fixed"),
    Case("corrupt mp4 (frame data inverted)", "iter_frames",
         lambda t: corrupted(t / "corrupt.mp4", write_video(t / "src.mp4", n=10)), "MediaError",
         "decoding failed"),
    Case("zero-frame mp4", "iter_frames", lambda t: zero_frame_video(t / "zero.mp4"), "MediaError",
         "no video stream|no decodable"),
    Case("zero-frame mkv", "iter_frames", lambda t: zero_frame_video(t / "zero.mkv"), "MediaError",
         "not a readable video|no decodable"),
    Case("audio-only mp4", "iter_frames", lambda t: audio_only(t / "audio.mp4"), "MediaError",
         "no video stream"),
    Case("text named .mp4", "iter_frames", lambda t: write_bytes(t / "text.mp4", b"hello" * 40),
         "MediaError", "not a readable video"),
    Case("empty .mp4", "iter_frames", lambda t: write_bytes(t / "empty.mp4", b""), "MediaError",
         "not a readable video"),
    Case("missing .mp4", "iter_frames", lambda t: t / "nothere.mp4", "MediaError", "not found"),
    Case("FIFO named .mp4", "iter_frames", lambda t: fifo(t / "pipe.mp4"), "MediaError",
         "not a regular file", skip=fifo_reason,
         note="was a hang: FFmpeg blocked forever opening the FIFO; fixed"),
    Case("variable frame rate mp4 (irregular pts)", "iter_frames", _vfr, "ok",
         check=lambda fs: _frames_are_grey_ramp(fs, 12)),
    Case("rotated mp4 (display matrix 90°)", "iter_frames",
         lambda t: write_video(t / "rot90.mp4", rotation=90), "ok",
         check=lambda fs: len(fs) == 6 and fs[0].shape == (48, 32, 3) and _block_at(fs[0], "bl"),
         note="was ignored (PyAV 18 exposes the display matrix only on frames); fixed"),
    Case("rotated mp4 (display matrix 270°)", "iter_frames",
         lambda t: write_video(t / "rot270.mp4", rotation=270), "ok",
         check=lambda fs: fs[0].shape == (48, 32, 3) and _block_at(fs[0], "tr")),
    Case("frame folder: mixed modes, sizes and extensions", "iter_frames", _mixed_folder, "ok",
         check=lambda fs: len(fs) == 3 and all(rgb_ok(f) for f in fs)),
    Case("frame folder: corrupt 3rd frame", "iter_frames", _corrupt_mid_folder, "MediaError",
         "not a readable image|truncated", named="00002.jpg"),
    Case("frame folder: symlink loop among frames", "iter_frames", _folder_with_file_loop,
         "MediaError", "symlink", named="00001_loop.jpg"),
    Case("frame folder: symlink loop to itself (sub-folder)", "iter_frames",
         _folder_with_dir_loop, "ok", check=lambda fs: len(fs) == 2),
    Case("empty frame folder", "iter_frames", lambda t: (t / "none").mkdir() or t / "none",
         "MediaError", "no image files"),
]  # fmt: skip

# -- training data -----------------------------------------------------------------------


def _videos_root(tmp: Path, bad: Callable[[Path], Path]) -> Any:
    from amd_train.data.config import DataConfig

    root = tmp / "videos"
    write_video(root / "good.mp4", n=6)
    bad(root)
    return DataConfig(root=str(root), kind="videos")


def _frames_root(tmp: Path, bad: Callable[[Path], Path]) -> Any:
    from amd_train.data.config import DataConfig

    root = tmp / "data"
    frame_folder(root / "JPEGImages" / "good", n=3)
    bad(root / "JPEGImages")
    return DataConfig(root=str(root), kind="frames")


def _sources_are(*names: str) -> Callable[[Any], bool]:
    return lambda sources: sorted(Path(s.name).name for s in sources) == sorted(names)


def _vfr_readable(sources: list[Any]) -> bool:
    """One source of 12 frames, read in order and then backwards (random access)."""
    (source,) = sources
    forward = [source.read(i) for i in range(len(source))]
    backward = [source.read(i) for i in (11, 7, 3)]
    means = [round(float(f[10:, 10:].mean()) / 20) for f in backward]
    return _frames_are_grey_ramp(forward, 12) and means == [11, 7, 3]


def _data_config(**kwargs: Any) -> Any:
    from amd_train.data.config import DataConfig

    return DataConfig(**kwargs)


def _loop_root(tmp: Path) -> Any:
    return _data_config(root=str(symlink_loop(tmp / "root")))


DATA_CASES = [
    Case("videos: truncated mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: truncated(r / "cut.mp4", write_video(t / "s.mp4"), 0.5)),
         "skipped", named="cut.mp4", check=_sources_are("good.mp4")),
    Case("videos: zero-frame mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: zero_frame_video(r / "zero.mp4")),
         "skipped", named="zero.mp4", check=_sources_are("good.mp4")),
    Case("videos: text .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: write_bytes(r / "text.mp4", b"hi" * 99)),
         "skipped", named="text.mp4", check=_sources_are("good.mp4")),
    Case("videos: FIFO .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: fifo(r / "pipe.mp4")),
         "skipped", named="pipe.mp4", check=_sources_are("good.mp4"), skip=fifo_reason),
    Case("videos: symlink loop .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: symlink_loop(r / "loop.mp4")),
         "skipped", named="loop.mp4", check=_sources_are("good.mp4")),
    Case("videos: truncated mp4 (faststart) alone", "discover_sources",
         lambda t: _data_config(root=str(truncated(
             t / "cut_fast.mp4",
             write_video(t / "src" / "s.mp4", n=30, options={"movflags": "faststart"}), 0.6)),
             kind="videos"),
         "ok", check=lambda s: len(s) == 1 and 0 < len(s[0]) < 30 and all(
             rgb_ok(s[0].read(i)) for i in range(len(s[0]))),
         note="training uses the frames before the cut (every one decodes)"),
    Case("videos: variable frame rate mp4", "discover_sources",
         lambda t: _data_config(root=str(_vfr(t)), kind="videos"), "ok", check=_vfr_readable),
    Case("frames: folder whose first frame is corrupt, among good", "discover_sources",
         lambda t: _frames_root(t, lambda r: write_bytes(r / "bad" / "00000.jpg", b"\xff\xd8")),
         "skipped", named="bad", check=_sources_are("good")),
    Case("frames: empty video folder among good", "discover_sources",
         lambda t: _frames_root(t, lambda r: (r / "hollow").mkdir() or r),
         "skipped", named="hollow", check=_sources_are("good")),
    Case("frames: symlink loop among frames", "discover_sources",
         lambda t: _frames_root(t, lambda r: symlink_loop(r / "good" / "00001_loop.jpg")),
         "ok", check=lambda s: _sources_are("good")(s) and len(s[0]) == 3),
    Case("data root is a symlink loop", "discover_sources", _loop_root, "DataError",
         "does not exist", named="root"),
    Case("videos: every file bad", "discover_sources",
         lambda t: _data_config(root=str(write_bytes(t / "v" / "x.mp4", b"x").parent),
                                kind="videos"), "DataError", "no usable videos", named="v"),
]  # fmt: skip

# -- split files ---------------------------------------------------------------------------


def _split(tmp: Path, text: str | bytes, name: str = "train.txt") -> tuple[Path, Path]:
    root = tmp / "data"
    frame_folder(root / "JPEGImages" / "cat", n=3)
    (root / "JPEGImages" / "empty").mkdir(parents=True, exist_ok=True)
    path = root / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path, root


SPLIT_CASES = [
    Case("empty split file", "parse_split_file", lambda t: _split(t, ""), "DataError",
         "lists no videos"),
    Case("split file with only comments/blank lines", "parse_split_file",
         lambda t: _split(t, "# nothing\n\n   \n"), "DataError", "lists no videos"),
    Case("split naming missing frames", "parse_split_file",
         lambda t: _split(t, "JPEGImages/cat 00000.jpg 00007.jpg 00009.jpg\n"), "DataError",
         r"train\.txt:1: 2 frame\(s\) missing", named="00007.jpg"),
    Case("split naming a missing folder", "parse_split_file",
         lambda t: _split(t, "JPEGImages/cat\nJPEGImages/dog 00000.jpg\n"), "DataError",
         r"train\.txt:2: frame folder .* does not exist", named="dog"),
    Case("split line whose folder holds no images", "parse_split_file",
         lambda t: _split(t, "JPEGImages/empty\n"), "DataError", "holds no images",
         named="train.txt:1"),
    Case("split file missing", "parse_split_file", lambda t: (t / "nope.txt", t), "DataError",
         "cannot read split file"),
    Case("split file is a folder", "parse_split_file",
         lambda t: ((t / "split.txt").mkdir() or t / "split.txt", t), "DataError",
         "cannot read split file"),
    Case("split file not UTF-8", "parse_split_file",
         lambda t: _split(t, b"JPEGImages/cat \xff\xfe\n"), "DataError", "cannot read split file"),
]  # fmt: skip

# -- training config -----------------------------------------------------------------------


def _yaml(tmp: Path, text: str, overrides: tuple[str, ...] = ()) -> tuple[Path, tuple[str, ...]]:
    path = tmp / "exp.yaml"
    path.write_text(text)
    return path, overrides


CONFIG_CASES = [
    Case("misspelled key (optim.lrate)", "load_train_config",
         lambda t: _yaml(t, "optim:\n  lrate: 0.1\n"), "ConfigError", "did you mean 'lr'",
         named="optim.lrate"),
    Case("misspelled section (optimizer:)", "load_train_config",
         lambda t: _yaml(t, "optimizer:\n  lr: 0.1\n"), "ConfigError", "did you mean 'optim'",
         named="exp.yaml"),
    Case("misspelled override (run.max_step=5)", "load_train_config",
         lambda t: _yaml(t, "", ("run.max_step=5",)), "ConfigError", "did you mean 'max_steps'",
         named="run.max_step"),
    Case("wrong type: run.max_steps: many", "load_train_config",
         lambda t: _yaml(t, "run:\n  max_steps: many\n"), "ConfigError", "expected an integer",
         named="run.max_steps"),
    Case("wrong type: bool for int (max_steps: yes)", "load_train_config",
         lambda t: _yaml(t, "run:\n  max_steps: yes\n"), "ConfigError", "expected an integer",
         named="run.max_steps"),
    Case("wrong type: run.tensorboard=maybe", "load_train_config",
         lambda t: _yaml(t, "", ("run.tensorboard=maybe",)), "ConfigError", "true/false",
         named="run.tensorboard"),
    Case("wrong type: section given a scalar (run: 5)", "load_train_config",
         lambda t: _yaml(t, "run: 5\n"), "ConfigError", "expected a mapping", named="run"),
    Case("wrong length: data.crop_size=[1,2,3]", "load_train_config",
         lambda t: _yaml(t, "", ("data.crop_size=[1, 2, 3]",)), "ConfigError", "expected 2 items",
         named="data.crop_size"),
    Case("not a choice: run.amp=fp8", "load_train_config",
         lambda t: _yaml(t, "", ("run.amp=fp8",)), "ConfigError", "is not one of",
         named="run.amp"),
    Case("out of range: data.step_limit: 0", "load_train_config",
         lambda t: _yaml(t, "data:\n  step_limit: 0\n"), "ConfigError", ">= 1",
         named="data.step_limit"),
    Case("invalid YAML", "load_train_config", lambda t: _yaml(t, "run: [unclosed\n"),
         "ConfigError", "not valid YAML", named="exp.yaml"),
    Case("top level is a list", "load_train_config", lambda t: _yaml(t, "- a\n- b\n"),
         "ConfigError", "mapping at top level", named="exp.yaml"),
    Case("config file missing", "load_train_config", lambda t: (t / "nope.yaml", ()),
         "ConfigError", "config not found", named="nope.yaml"),
    Case("override without '='", "load_train_config", lambda t: _yaml(t, "", ("run.max_steps",)),
         "ConfigError", "must look like", named="run.max_steps"),
    Case("empty YAML file (all defaults)", "load_train_config", lambda t: _yaml(t, ""), "ok",
         check=lambda cfg: cfg.run.max_steps == 300_000),
]  # fmt: skip

# -- checkpoints ---------------------------------------------------------------------------


def _small_model(width: int = 8) -> Any:
    from amd_plugin import AMD, ModelConfig

    torch.manual_seed(0)
    return AMD(ModelConfig(backbone="small", small_width=width, motion_size=(64, 64)))


def _ours(tmp: Path, name: str = "ours.pt") -> Path:
    from amd_plugin import save_checkpoint

    return save_checkpoint(_small_model(), tmp / name, foreground_channel=1)


def _other_width(tmp: Path) -> Path:
    """Config says small_width=8, weights come from small_width=16 (another architecture)."""
    path = _ours(tmp, "src.pt")
    ckpt = torch.load(path, weights_only=False)
    ckpt["state_dict"] = {k: v for k, v in _small_model(16).state_dict().items()}
    torch.save(ckpt, tmp / "other_width.pt")
    return tmp / "other_width.pt"


def _foreign_state_dict(tmp: Path) -> Path:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8, 2))
    torch.save(net.state_dict(), tmp / "resnet_like.pth")
    return tmp / "resnet_like.pth"


def _edited(tmp: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    ckpt = torch.load(_ours(tmp, "src.pt"), weights_only=False)
    edit(ckpt)
    torch.save(ckpt, tmp / name)
    return tmp / name


def _missing_module(tmp: Path) -> Path:
    """A pickle that names a class from a package that is not installed here."""
    import types

    module = types.ModuleType("mmcv_not_installed")

    class ConfigDict(dict):
        pass

    ConfigDict.__module__, ConfigDict.__qualname__ = module.__name__, "ConfigDict"
    module.ConfigDict = ConfigDict  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        torch.save({"state_dict": {}, "meta": {"config": ConfigDict(a=1)}}, tmp / "mmcv.pth")
    finally:
        del sys.modules[module.__name__]
    return tmp / "mmcv.pth"


CHECKPOINT_CASES = [
    Case("truncated checkpoint (50%)", "load_model",
         lambda t: truncated(t / "half.pt", _ours(t), 0.5), "CheckpointError", "not a readable"),
    Case("empty checkpoint file", "load_model", lambda t: write_bytes(t / "empty.pt", b""),
         "CheckpointError", "not a readable"),
    Case("text file as checkpoint", "load_model",
         lambda t: write_bytes(t / "notes.pt", b"weights go here\n"), "CheckpointError",
         "not a readable"),
    Case("pickled list instead of dict", "load_model",
         lambda t: torch.save([1, 2], t / "list.pt") or t / "list.pt", "CheckpointError",
         "expected a dict"),
    Case("another architecture: same format, other widths", "load_model", _other_width,
         "CheckpointError", "wrong shape"),
    Case("another architecture: foreign state_dict", "load_model", _foreign_state_dict,
         "CheckpointError", "neither an amd-objectness nor an official"),
    Case("unknown model_config key", "load_model",
         lambda t: _edited(t, "badcfg.pt", lambda c: c["model_config"].update(depthh=3)),
         "CheckpointError", "invalid model config.*did you mean"),
    Case("checkpoint lacking weights", "load_model",
         lambda t: _edited(t, "partial.pt", lambda c: c["state_dict"].pop(
             next(iter(c["state_dict"])))), "CheckpointError", "lacks 1 weight"),
    Case("pickled class from a package not installed", "load_model", _missing_module,
         "CheckpointError", "mmcv_not_installed",
         note="was a ModuleNotFoundError traceback; fixed"),
    Case("missing checkpoint path", "load_model", lambda t: t / "nothere.pt", "CheckpointError",
         "checkpoint not found"),
    Case("checkpoint path is a folder", "load_model",
         lambda t: (t / "ckpt.pt").mkdir() or t / "ckpt.pt", "CheckpointError", "not a readable"),
]  # fmt: skip

# -- TensorRT engine metadata ----------------------------------------------------------------

HERE = {
    "tensorrt_version": "10.3.0",
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "compute_capability": "9.0",
    "cuda_version": "12.4",
}


def _engine(tmp: Path, meta: Any, raw: bytes | None = None) -> tuple[Path, dict[str, str]]:
    engine = write_bytes(tmp / "amd.engine", b"\x00engine")
    if raw is not None:
        write_bytes(tmp / "amd.engine.json", raw)
    elif meta is not None:
        (tmp / "amd.engine.json").write_text(json.dumps({**HERE, **meta}))
    return engine, HERE


ENGINE_CASES = [
    Case("engine built on another GPU", "check_engine_metadata",
         lambda t: _engine(t, {"gpu_name": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0"}),
         "EngineMismatch", "gpu_name: engine 'NVIDIA A100.*vs here 'NVIDIA H100",
         named="amd.engine"),
    Case("engine for another compute capability", "check_engine_metadata",
         lambda t: _engine(t, {"hardware_compatibility": "same_compute_capability",
                               "compute_capability": "8.6"}),
         "EngineMismatch", "compute_capability: engine '8.6' vs here '9.0'", named="amd.engine"),
    Case("engine from another TensorRT version", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.0.1"}), "EngineMismatch",
         "tensorrt_version: engine '10.0.1' vs here '10.3.0'", named="amd.engine"),
    Case("version-compatible engine, older runtime", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.5.0", "version_compatible": True}),
         "EngineMismatch", "same or newer runtime", named="amd.engine"),
    Case("version-compatible engine, newer runtime", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.1.0", "version_compatible": True}), "ok",
         check=lambda meta: meta["tensorrt_version"] == "10.1.0"),
    Case("Ampere+ engine on a Turing GPU (7.5)", "check_engine_metadata",
         lambda t: (_engine(t, {"hardware_compatibility": "ampere_plus"})[0],
                    {**HERE, "compute_capability": "7.5"}), "EngineMismatch", "Ampere or newer",
         named="amd.engine"),
    Case("engine without its metadata file", "check_engine_metadata", lambda t: _engine(t, None),
         "EngineMismatch", "no metadata file", named="amd.engine.json"),
    Case("corrupt metadata JSON", "check_engine_metadata",
         lambda t: _engine(t, None, raw=b'{"gpu_name": '), "EngineMismatch",
         "unreadable engine metadata", named="amd.engine.json"),
    Case("metadata JSON is an array", "check_engine_metadata",
         lambda t: _engine(t, None, raw=b"[1, 2]"), "EngineMismatch", "expected a JSON object",
         named="amd.engine.json", note="was an AttributeError traceback; fixed"),
]  # fmt: skip

CASES = IMAGE_CASES + VIDEO_CASES + DATA_CASES + SPLIT_CASES + CONFIG_CASES + CHECKPOINT_CASES
CASES += ENGINE_CASES

# --------------------------------------------------------------------------- running


class _Collect(logging.Handler):
    """Keeps the warnings logged during one call."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def _call(target: str, arg: Any, outcome: Outcome) -> Any:
    if target == "read_image":
        from amd_plugin.io.images import read_image

        return read_image(arg)
    if target == "iter_frames":
        from amd_plugin.io.video import iter_frames

        frames = []
        for _, frame in iter_frames(arg):
            frames.append(frame)
            outcome.frames = len(frames)
        return frames
    if target == "discover_sources":
        from amd_train.data.sources import discover_sources

        return discover_sources(arg)
    if target == "parse_split_file":
        from amd_train.data.frames import parse_split_file

        return parse_split_file(*arg)
    if target == "load_train_config":
        from amd_train.config import load_train_config

        return load_train_config(arg[0], list(arg[1]))
    if target == "load_model":
        from amd_plugin import load_model

        return load_model(arg)
    if target == "check_engine_metadata":
        from trt.engine import check_engine_metadata

        return check_engine_metadata(*arg)
    raise ValueError(f"unknown target {target}")


def run(case: Case, tmp: Path) -> tuple[Outcome, Any]:
    """Build the case's input under ``tmp`` and call its entry point; never raises."""
    arg = case.build(tmp)
    outcome = Outcome("ok")
    handler = _Collect()
    logger = logging.getLogger("amd_train")
    logger.addHandler(handler)
    try:
        outcome.value = _call(case.target, arg, outcome)
    except Exception as err:  # the catalogue records whatever happens, tracebacks included
        outcome.kind, outcome.message = type(err).__name__, str(err)
    finally:
        logger.removeHandler(handler)
    outcome.log = "\n".join(handler.records)
    return outcome, arg


def input_name(arg: Any) -> str:
    """The name an error message must contain when the case does not say."""
    if isinstance(arg, tuple):
        arg = arg[0]
    if isinstance(arg, Path):
        return arg.name
    return Path(getattr(arg, "root", "")).name


def verdict(case: Case, outcome: Outcome, arg: Any) -> str:
    """'' when the outcome is the promised one, else what went wrong."""
    named = case.named or input_name(arg)
    if case.expect in ("ok", "skipped"):
        if outcome.kind != "ok":
            return f"expected {case.expect}, got {outcome.kind}: {outcome.message}"
        if case.check is not None and not case.check(outcome.value):
            return "result failed its check"
        if case.expect == "skipped" and named not in outcome.log:
            return f"no warning naming {named!r} (log: {outcome.log!r})"
        return ""
    if outcome.kind != case.expect:
        return f"expected {case.expect}, got {outcome.kind}: {outcome.message}"
    if named not in outcome.message:
        return f"message does not name {named!r}: {outcome.message}"
    if case.match and not re.search(case.match, outcome.message, re.IGNORECASE | re.DOTALL):
        return f"message does not match {case.match!r}: {outcome.message}"
    return ""


def _cell(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp) + "/", "").replace(str(tmp), ".").replace("\n", "; ")
    text = text.replace("|", "\\|")
    return text if len(text) <= 150 else text[:147] + "…"


def main(argv: list[str] | None = None) -> int:
    """Run every case; print a markdown table of what happened; exit 1 if any broke."""
    import argparse
    import tempfile
    import time

    p = argparse.ArgumentParser(description="run the bad-input catalogue, print a table")
    p.add_argument("--fast", action="store_true", help="leave out the slow cases")
    args = p.parse_args(argv)
    broken = 0
    print("| # | input | entry point | promised | observed | |")
    print("|---|---|---|---|---|---|")
    for number, case in enumerate(CASES, start=1):
        if case.slow and args.fast:
            continue
        reason = case.skip() if case.skip else ""
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            if reason:
                observed, mark = f"not run: {reason}", "skip"
            else:
                start = time.monotonic()
                outcome, arg = run(case, tmp)
                seconds = time.monotonic() - start
                problem = verdict(case, outcome, arg)
                broken += bool(problem)
                mark = "**FAIL**: " + _cell(problem, tmp) if problem else "✓"
                if outcome.kind == "ok":
                    observed = "ok" + (
                        f" (warning: {_cell(outcome.log, tmp)})" if outcome.log else ""
                    )
                else:
                    observed = f"{outcome.kind}: {_cell(outcome.message, tmp)}"
                if seconds > 2:
                    observed += f" [{seconds:.1f} s]"
            if case.note:
                observed += f" — *{case.note}*"
            promised = case.expect + (f" /{case.match}/" if case.match else "")
            print(f"| {number} | {case.name} | `{case.target}` | {_cell(promised, tmp)} | "
                  f"{observed} | {mark} |")  # fmt: skip
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
