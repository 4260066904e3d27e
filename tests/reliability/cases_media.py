"""Bad-input cases for images, videos and frame folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from catalogue import Case, _block_at, rgb_ok, shape_is
from input_builders import (
    audio_only,
    bomb_png,
    corrupted,
    exif_jpeg,
    fifo,
    fifo_reason,
    frame_folder,
    frames_are_grey_ramp,
    permission_reason,
    png16_rgb,
    rgb,
    save,
    symlink_loop,
    truncated,
    unreadable,
    vfr_video,
    write_bytes,
    write_video,
    zero_frame_video,
)
from PIL import Image

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
    Case("variable frame rate mp4 (irregular pts)", "iter_frames", vfr_video, "ok",
         check=lambda fs: frames_are_grey_ramp(fs, 12)),
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
