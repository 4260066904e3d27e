"""The video-source abstraction shared by frame folders and video files."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

import numpy as np

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


class DataError(ValueError):
    """Unusable training data (missing, unreadable or empty); the message names the file."""


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)
    )


class VideoSource(ABC):
    """A sequence of RGB frames with random access.

    Attributes:
        name: what error messages and logs call this video (usually its path).
    """

    name: str

    @abstractmethod
    def __len__(self) -> int:
        """Number of frames."""

    @abstractmethod
    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as an H×W×3 uint8 RGB array; DataError if it cannot be read."""

    def read_pair(self, index_a: int, index_b: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames a and b (H×W×3 uint8 each); decoded in time order, which is cheaper for video
        files."""
        if index_b < index_a:
            frame_b = self.read(index_b)
            return self.read(index_a), frame_b
        frame_a = self.read(index_a)
        return frame_a, (frame_a if index_b == index_a else self.read(index_b))

    def validate(self) -> None:
        """Cheap check that the source is usable (used at dataset construction)."""
        if len(self) == 0:
            raise DataError(f"{self.name}: has no frames")
        self.read(0)

    def close(self) -> None:  # noqa: B027 - optional hook: most sources hold no handles
        """Release open file handles (they are reopened on demand)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, frames={len(self)})"
