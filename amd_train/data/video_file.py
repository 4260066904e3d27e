"""Video files (mp4/avi/mov/mkv/webm) as random-access frame sources, via PyAV.

Opening a video scans its packets once (demuxing only, no decoding) to learn the exact frame
count and every frame's timestamp, whatever the container claims. Reading frame i seeks to
the keyframe before it and decodes forward; reading the next few frames continues decoding
instead of seeking again, so the frames of a training pair cost one seek. PyAV is imported
where it is used, so training from frame folders or synthetic video runs without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from amd_train.data.base import DataError, VideoSource

# Reading up to this many frames ahead continues decoding instead of seeking.
_FORWARD_WINDOW = 8


def _reason(err: Exception) -> str:
    """FFmpeg/OS error text without the errno noise."""
    return getattr(err, "strerror", None) or str(err)


def _scan(path: Path) -> tuple[np.ndarray | None, np.ndarray, int]:
    """(sorted frame timestamps or None if missing, keyframe segment per frame, frame count)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise DataError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            stamps, keys = [], []
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's final flush packet
                    continue
                stamps.append(packet.pts)
                keys.append(bool(packet.is_keyframe))
    except (av.FFmpegError, OSError) as err:
        raise DataError(f"{path}: cannot read video ({_reason(err)})") from err
    count = len(stamps)
    if count == 0:
        raise DataError(f"{path}: video has no frames")
    if any(s is None for s in stamps) or len(set(stamps)) != count:
        # Some AVI files lack timestamps: fall back to counting decoded frames.
        return None, np.zeros(count, np.int64), count
    pts = np.asarray(stamps, np.int64)
    order = np.argsort(pts, kind="stable")
    pts_sorted = pts[order]
    key_pts = np.sort(pts[np.asarray(keys, bool)])
    segment = np.searchsorted(key_pts, pts_sorted, side="right")
    return pts_sorted, segment, count


class VideoFileSource(VideoSource):
    """Random access to the frames of a video file (first video stream).

    Args:
        path: the file; it must be a regular file (FIFOs and symlink loops are refused).
        threads: decoder threads; 1 suits DataLoader workers that already run in parallel.

    The decoder is opened lazily and reopened after a fork, so one instance can be shared
    with DataLoader workers; pickling drops the open decoder.
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.threads = threads
        if not self.path.is_file():
            raise DataError(f"{self.path}: missing or not a regular file")
        self._pts, self._segment, self._count = _scan(self.path)
        self._inherited: list[tuple[Any, ...]] = []
        self._reset()

    def _reset(self) -> None:
        self._container: Any = None
        self._stream: Any = None
        self._frames: Iterator[Any] | None = None
        self._pid = -1
        self._last_index = -1
        self._last_frame: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_container", "_stream", "_frames", "_last_frame"):
            state[key] = None
        state["_pid"], state["_last_index"], state["_inherited"] = -1, -1, []
        return state

    def __len__(self) -> int:
        return self._count

    def _drop_decoder(self) -> None:
        if self._container is not None:
            if self._pid == os.getpid():
                self._container.close()
            else:
                # Inherited through fork (DataLoader workers): freeing these FFmpeg objects
                # would wait on threads that exist only in the parent and deadlock, so they
                # stay referenced, unused, until the worker exits.
                self._inherited.append((self._container, self._stream, self._frames))
        self._reset()

    def close(self) -> None:
        """Close the decoder; the next read reopens it."""
        self._drop_decoder()

    def _open(self) -> None:
        if self._container is not None and self._pid == os.getpid():
            return
        # After a fork the parent's decoder shares file offsets with it: never reuse it.
        self._drop_decoder()
        import av

        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError) as err:
            raise DataError(f"{self.path}: cannot open video ({_reason(err)})") from err
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_count = self.threads
        self._pid = os.getpid()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as H×W×3 uint8 RGB (DataError naming the file if decoding fails)."""
        if not 0 <= index < self._count:
            raise IndexError(f"{self.path}: frame {index} out of range (0..{self._count - 1})")
        if index == self._last_index and self._last_frame is not None:
            return self._last_frame
        self._open()
        import av

        try:
            frame = self._decode_sequential(index) if self._pts is None else self._decode(index)
        except (av.FFmpegError, OSError) as err:
            self._drop_decoder()
            raise DataError(f"{self.path}: cannot decode frame {index} ({_reason(err)})") from err
        image = frame.to_ndarray(format="rgb24")
        self._last_index, self._last_frame = index, image
        return image

    def _continue_from_last(self, index: int) -> bool:
        last = self._last_index
        if self._frames is None or last < 0 or index <= last:
            return False
        return self._segment[index] == self._segment[last] or index - last <= _FORWARD_WINDOW

    def _decode(self, index: int) -> Any:
        assert self._pts is not None
        target = int(self._pts[index])
        if not self._continue_from_last(index):
            self._seek(target)
        frame = self._next_at_or_after(target)
        if frame is None or frame.pts is None or (frame.pts > target and index > 0):
            # The seek landed after the target (bad index or keyframe flags): start over.
            self._seek(int(self._pts[0]))
            frame = self._next_at_or_after(target)
        if frame is None:
            raise DataError(f"{self.path}: frame {index} (pts {target}) could not be decoded")
        return frame

    def _seek(self, pts: int) -> None:
        self._container.seek(pts, backward=True, any_frame=False, stream=self._stream)
        self._frames = self._container.decode(self._stream)

    def _next_at_or_after(self, target: int) -> Any:
        """Decode forward to the first frame whose pts is >= target (None at end of stream)."""
        assert self._frames is not None
        for frame in self._frames:
            if frame.pts is None or frame.pts >= target:
                return frame
        self._frames = None
        return None

    def _decode_sequential(self, index: int) -> Any:
        """Fallback without timestamps: decode from the start, counting frames."""
        if self._frames is None or index <= self._last_index:
            self._container.seek(0)
            self._frames = self._container.decode(self._stream)
            position = -1
        else:
            position = self._last_index
        for frame in self._frames:
            position += 1
            if position == index:
                return frame
        self._frames = None
        raise DataError(f"{self.path}: frame {index} could not be decoded")


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: int = 25,
    codec: str | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode T×H×W×3 uint8 RGB frames to ``path``; returns the path.

    ``codec`` None tries libx264 and falls back to mpeg4 where the encoder is unavailable.
    yuv420p needs even H and W; a lossless ``codec="ffv1"`` with ``pix_fmt="bgr0"`` in a
    ``.mkv`` keeps pixels exact.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be T×H×W×3 uint8, got {frames.shape} {frames.dtype}")
    height, width = frames.shape[1:3]
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise ValueError(f"{path}: yuv420p video needs even height and width, got {height}x{width}")
    import av

    candidates = [codec] if codec else ["libx264", "mpeg4"]
    available = [c for c in candidates if c in av.codecs_available]
    if not available:
        raise DataError(f"{path}: none of the encoders {candidates} is available in PyAV")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(available[0], rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
