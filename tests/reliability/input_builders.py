"""File builders of the bad-input catalogue: each writes one awkward input under a folder."""

from __future__ import annotations

import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
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


def vfr_video(tmp: Path) -> Path:
    return write_video(tmp / "vfr.mp4", n=12, pts_ms=[0, 10, 50, 55, 200, 210, 400, 1000, 1001,
                                                      1500, 1600, 2500])  # fmt: skip


def frames_are_grey_ramp(frames: list[np.ndarray], n: int) -> bool:
    means = [float(f[10:, 10:].mean()) for f in frames]
    return len(frames) == n and all(abs(m - 20 * i) < 6 for i, m in enumerate(means))


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
