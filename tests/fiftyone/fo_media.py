"""Generated test media and a deterministic stand-in segmenter (no FiftyOne import here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from amd_plugin.io.video import VideoWriter
from amd_plugin.objectness import objectness_score
from amd_plugin.predictor import Prediction

HEIGHT, WIDTH = 48, 64
SQUARE = 12
# brightness of the square per image; None = no object. The stand-in segmenter's
# objectness grows with brightness, so the images get distinct, ordered scores.
BRIGHTNESS = (None, 180, 200, 220, 240, 255)


def textured_background(rng: np.random.Generator) -> np.ndarray:
    """Dark random texture (values < 100, i.e. background for :class:`BrightSegmenter`)."""
    return rng.integers(0, 80, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


def gt_path(image_path: Path) -> Path:
    """Where :func:`write_images` puts an image's ground-truth mask (255 = object)."""
    return image_path.with_name(image_path.stem + "_gt.png")


def write_images(folder: Path, rng: np.random.Generator, count: int = 6) -> list[Path]:
    """PNG images with a bright square at varying places and brightness, plus GT masks."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        image = textured_background(rng)
        gt = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        value = BRIGHTNESS[index % len(BRIGHTNESS)]
        if value is not None:
            top, left = 8 + 3 * index, 10 + 5 * index
            image[top : top + SQUARE, left : left + SQUARE] = value
            gt[top : top + SQUARE, left : left + SQUARE] = 255
        path = folder / f"image{index}.png"
        Image.fromarray(image).save(path)
        Image.fromarray(gt).save(gt_path(path))
        paths.append(path)
    return paths


def write_video(path: Path, rng: np.random.Generator, frames: int = 8, speed: int = 2) -> Path:
    """A tiny mp4 with a bright square moving right over a fixed texture."""
    background = textured_background(rng)
    with VideoWriter(path, fps=8) as writer:
        for index in range(frames):
            frame = background.copy()
            left = 4 + speed * index
            frame[16 : 16 + SQUARE, left : left + SQUARE] = 250
            writer.write(frame)
    return path


class BrightSegmenter:
    """Stand-in for :class:`amd_plugin.Segmenter`: bright pixels are the object.

    A random-weight model gives near-constant scores; this gives known masks and scores,
    so filtering, detections and evaluation can be checked exactly.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.images_seen = 0

    def predict(self, images: list[np.ndarray]) -> list[Prediction]:
        self.calls += 1
        self.images_seen += len(images)
        results = []
        for image in images:
            gray = np.asarray(image, dtype=np.float32).mean(axis=2)
            foreground = 0.05 + 0.9 * np.clip((gray - 100.0) / 155.0, 0.0, 1.0)
            segments = np.stack([1.0 - foreground, foreground])[:, ::8, ::8]
            results.append(Prediction(foreground, segments, objectness_score(foreground), 1))
        return results
