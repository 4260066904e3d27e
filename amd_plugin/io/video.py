"""Streaming video decoding with PyAV: frames in batches, never the whole video in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amd_plugin.io.images import MediaError, list_frame_files, read_image

VIDEO_EXTENSIONS = {
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
}


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What the container says; ``num_frames`` may be 0 when the container does not know."""

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    rotation: int


def _stream_rotation(stream) -> int:
    """Display rotation in degrees (0/90/180/270) from side data or metadata."""
    for source in (getattr(stream, "side_data", None), getattr(stream, "metadata", None)):
        if not source:
            continue
        try:
            value = source.get("DISPLAYMATRIX", source.get("rotate"))
        except AttributeError:
            value = None
        if value is not None:
            try:
                return round(float(value)) % 360
            except (TypeError, ValueError):
                continue
    return 0


def _frame_rotation(frame) -> int:
    """Display rotation of a decoded frame (PyAV >= 14 exposes the display matrix only here)."""
    return round(float(getattr(frame, "rotation", 0) or 0)) % 360


def open_container(path: str | Path):
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if not path.is_file():  # a FIFO or device would block the demuxer forever
        raise MediaError(f"{path}: not a regular file")
    try:
        container = av.open(str(path))
    except PermissionError as err:
        raise MediaError(f"{path}: permission denied") from err
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"{path}: not a readable video ({err})") from err
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path}: contains no video stream")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    import av

    container = open_container(path)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        rotation = _stream_rotation(stream)
        if not rotation:
            try:
                rotation = _frame_rotation(next(container.decode(stream)))
            except (StopIteration, av.error.FFmpegError):
                rotation = 0
        return VideoInfo(
            Path(path),
            stream.width,
            stream.height,
            fps,
            int(stream.frames or 0),
            rotation,
        )
    finally:
        container.close()


def _rotate(frame: np.ndarray, rotation: int) -> np.ndarray:
    # the display matrix angle is counter-clockwise; np.rot90 with k>0 rotates counter-clockwise
    k = {90: 1, 180: 2, 270: 3}.get(rotation, 0)
    return np.ascontiguousarray(np.rot90(frame, k)) if k else frame


def iter_video_frames(
    path: str | Path, stride: int = 1, apply_rotation: bool = True
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_number, H×W×3 uint8 RGB)``, frame numbers from 1 (FiftyOne's convention).

    Decoding errors mid-stream end the iteration with a :class:`MediaError` naming the file;
    a video with no decodable frame raises too, and so does a truncated file (fewer packets
    than the container's index declares; FFmpeg ends such a file quietly, and its frame
    threads swallow the error of the cut last packet).

    AVI files may hold empty "null" chunks that mean "show the previous frame again" (e.g.
    opencv-doc's ``tree.avi``: 444 frame slots, 68 coded pictures). Their timestamps count
    frame slots, so frames are numbered by slot and the held picture is repeated for the
    empty ones: frame numbers then match the player's timeline and FiftyOne's frame count.
    """
    import av

    container = open_container(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rotation = _stream_rotation(stream) if apply_rotation else 0
    declared = int(stream.frames or 0)
    slots_from_pts = container.format.name == "avi"
    count = packets = 0
    first_pts = None
    held = None  # the last decoded frame, shown again over empty slots

    def picture(frame) -> np.ndarray:
        angle = rotation or (_frame_rotation(frame) if apply_rotation else 0)
        return _rotate(frame.to_ndarray(format="rgb24"), angle)

    try:
        for packet in container.demux(stream):
            if packet.size or packet.pts is not None:  # not the final flush packet
                packets += 1
            for frame in packet.decode():
                slot = count + 1
                if slots_from_pts and frame.pts is not None:
                    first_pts = frame.pts if first_pts is None else first_pts
                    slot = max(slot, frame.pts - first_pts + 1)
                while held is not None and count + 1 < slot:
                    count += 1
                    if (count - 1) % stride == 0:
                        yield count, picture(held)  # converted per yield: no shared arrays
                held = frame
                count += 1
                if (count - 1) % stride == 0:
                    yield count, picture(frame)
    except av.error.FFmpegError as err:
        raise MediaError(f"{path}: decoding failed after {count} frame(s) ({err})") from err
    finally:
        container.close()
    if count == 0:
        raise MediaError(f"{path}: video has no decodable frames")
    if packets < declared and count < declared:
        raise MediaError(
            f"{path}: truncated video: {packets} of the {declared} frames its index declares "
            f"are present ({count} decoded)"
        )


def iter_folder_frames(folder: str | Path, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Frames of an image folder, numbered from 1 in natural file order."""
    files = list_frame_files(folder)
    if not files:
        raise MediaError(f"{folder}: no image files in frame folder")
    for number, path in enumerate(files, start=1):
        if (number - 1) % stride == 0:
            yield number, read_image(path)


def iter_frames(source: str | Path, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Frames of a video file or a frame folder."""
    source = Path(source)
    if source.is_dir():
        return iter_folder_frames(source, stride)
    return iter_video_frames(source, stride)


def batched(
    frames: Iterator[tuple[int, np.ndarray]], batch_size: int
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Group an iterator of frames into lists of at most ``batch_size``."""
    batch: list[tuple[int, np.ndarray]] = []
    for item in frames:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class VideoWriter:
    """Write RGB frames to an mp4 (H.264 when available, else MPEG-4 Part 2)."""

    def __init__(self, path: str | Path, fps: float = 12.0, codec: str | None = None) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self.container = av.open(str(self.path), mode="w")
        self.codec = codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
        self.stream = None

    def write(self, frame: np.ndarray) -> None:
        import av

        if self.stream is None:
            from fractions import Fraction

            self.stream = self.container.add_stream(
                self.codec, rate=Fraction(self.fps).limit_denominator(1000)
            )
            # yuv420p needs even sizes
            self.stream.height = frame.shape[0] - frame.shape[0] % 2
            self.stream.width = frame.shape[1] - frame.shape[1] % 2
            self.stream.pix_fmt = "yuv420p"
        frame = np.ascontiguousarray(frame[: self.stream.height, : self.stream.width])
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
