"""Image and video reading: modes, EXIF, streaming, clear errors."""

import numpy as np
import pytest
from PIL import Image

from amd_plugin.io.images import MediaError, read_image
from amd_plugin.io.video import VideoWriter, iter_frames, probe_video


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "CMYK", "I;16", "RGB"])
def test_any_mode_becomes_rgb_uint8(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    image = (
        base.convert(mode)
        if mode != "I;16"
        else Image.fromarray((np.arange(600).reshape(20, 30) * 100).astype(np.uint16))
    )
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    image.save(path)
    array = read_image(path)
    assert array.shape == (20, 30, 3) and array.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((10, 40, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    image.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").shape == (40, 10, 3)


def test_bad_images_name_the_file(tmp_path):
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(MediaError, match=r"fake\.png"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(MediaError, match=r"missing\.jpg.*not found"):
        read_image(tmp_path / "missing.jpg")
    good = tmp_path / "cut.jpg"
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(good)
    good.write_bytes(good.read_bytes()[:100])
    with pytest.raises(MediaError, match=r"cut\.jpg"):
        read_image(good)


def test_video_streams_frames_numbered_from_one(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoWriter(path, fps=10) as writer:
        for i in range(7):
            writer.write(np.full((32, 48, 3), 30 * i, np.uint8))
    info = probe_video(path)
    assert (info.width, info.height) == (48, 32)
    frames = list(iter_frames(path, stride=2))
    assert [n for n, _ in frames] == [1, 3, 5, 7]
    assert abs(float(frames[1][1].mean()) - 60) < 4


def test_corrupt_and_empty_videos_name_the_file(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match=r"junk\.mp4"):
        list(iter_frames(tmp_path / "junk.mp4"))
    empty = tmp_path / "empty.mp4"
    VideoWriter(empty).close()  # a container with no frames at all
    with pytest.raises(MediaError, match=r"empty\.mp4"):
        list(iter_frames(empty))


def _avi_with_null_frames(path, pts):
    """An MJPEG AVI whose timestamps skip slots; FFmpeg's AVI muxer fills them with empty
    ("repeat the previous picture") chunks, as in opencv-doc's tree.avi."""
    import fractions

    import av

    container = av.open(str(path), "w")
    stream = container.add_stream("mjpeg", rate=10)
    stream.width, stream.height, stream.pix_fmt = 32, 24, "yuvj420p"
    stream.time_base = fractions.Fraction(1, 10)
    for i, t in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i + 20, np.uint8), "rgb24")
        frame.pts, frame.time_base = t, stream.time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def test_avi_null_frames_repeat_the_held_picture(tmp_path):
    path = _avi_with_null_frames(tmp_path / "null.avi", [0, 3, 4, 8])
    assert probe_video(path).num_frames == 9  # the index counts the empty slots
    frames = list(iter_frames(path))
    assert [n for n, _ in frames] == list(range(1, 10))
    levels = [round(float(f.mean()) / 40) for _, f in frames]  # picture i has level 40·i+20
    assert levels == [0, 0, 0, 1, 2, 2, 2, 2, 3]
    assert [n for n, _ in iter_frames(path, stride=4)] == [1, 5, 9]
