"""Pictures people look at: overlays, heatmaps, segment colourings, flow colours, grids."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from amd_plugin.io.atomic import atomic_write_bytes

# distinct colours for up to 10 segments (RGB)
PALETTE = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
    ],
    dtype=np.uint8,
)  # fmt: skip


def heat_colormap(values: np.ndarray) -> np.ndarray:
    """Map ``H×W`` values in [0, 1] to an ``H×W×3`` uint8 blue→cyan→yellow→red ramp."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    stops = np.array([0.0, 0.33, 0.66, 1.0], dtype=np.float32)
    colours = np.array(
        [[30, 30, 140], [40, 200, 220], [250, 220, 40], [200, 20, 20]], dtype=np.float32
    )
    out = np.stack([np.interp(v, stops, colours[:, c]) for c in range(3)], axis=-1)
    return out.astype(np.uint8)


def mask_contour(mask: np.ndarray) -> np.ndarray:
    """Inner boundary pixels of a boolean mask."""
    m = np.asarray(mask, dtype=bool)
    padded = np.pad(m, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return m & ~interior


def overlay_mask(
    image: np.ndarray, mask: np.ndarray, colour=(255, 40, 40), alpha: float = 0.45
) -> np.ndarray:
    """Tint the foreground of an ``H×W×3`` uint8 image and draw its contour."""
    out = image.astype(np.float32).copy()
    m = np.asarray(mask, dtype=bool)
    out[m] = out[m] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    out[mask_contour(m)] = colour
    return out.astype(np.uint8)


def overlay_contours(
    image: np.ndarray, masks: list[tuple[np.ndarray, tuple[int, int, int]]]
) -> np.ndarray:
    """Draw several masks' contours (e.g. ground truth in green, prediction in red)."""
    out = image.copy()
    for mask, colour in masks:
        edge = mask_contour(mask)
        thick = edge.copy()
        thick[1:] |= edge[:-1]
        thick[:, 1:] |= edge[:, :-1]
        out[thick] = colour
    return out


def colorize_segments(segments: np.ndarray) -> np.ndarray:
    """``K×h×w`` soft masks → ``h×w×3`` image, each pixel coloured by its segment mixture."""
    k = segments.shape[0]
    palette = PALETTE[np.arange(k) % len(PALETTE)].astype(np.float32)
    return (
        np.einsum("khw,kc->hwc", segments.astype(np.float32), palette).clip(0, 255).astype(np.uint8)
    )


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """``2×h×w`` flow → ``h×w×3`` uint8 (hue = direction, saturation = magnitude)."""
    u, v = flow[0].astype(np.float32), flow[1].astype(np.float32)
    mag = np.sqrt(u**2 + v**2)
    scale = max_magnitude or max(float(mag.max()), 1e-6)
    hue = (np.arctan2(-v, -u) / np.pi + 1.0) / 2.0  # [0, 1]
    sat = np.clip(mag / scale, 0, 1)
    hsv = np.stack([hue * 255, sat * 255, np.full_like(hue, 255)], axis=-1).astype(np.uint8)
    return np.asarray(Image.fromarray(hsv, mode="HSV").convert("RGB"))


def resize_to(image: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    method = Image.NEAREST if nearest else Image.BILINEAR
    return np.asarray(Image.fromarray(image).resize((width, height), method))


def make_grid(rows: list[list[np.ndarray]], tile_height: int = 128, pad: int = 2) -> np.ndarray:
    """Tile a list of rows of RGB images (resized to a common height) into one picture."""
    resized_rows = []
    for row in rows:
        tiles = []
        for img in row:
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            h, w = img.shape[:2]
            new_w = max(1, round(w * tile_height / h))
            tiles.append(resize_to(img.astype(np.uint8), tile_height, new_w))
        widths = [t.shape[1] for t in tiles]
        canvas = np.full((tile_height, sum(widths) + pad * (len(tiles) - 1), 3), 255, np.uint8)
        x = 0
        for t in tiles:
            canvas[:, x : x + t.shape[1]] = t
            x += t.shape[1] + pad
        resized_rows.append(canvas)
    width = max(r.shape[1] for r in resized_rows)
    grid = np.full(
        (sum(r.shape[0] for r in resized_rows) + pad * (len(resized_rows) - 1), width, 3),
        255,
        np.uint8,
    )
    y = 0
    for r in resized_rows:
        grid[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0] + pad
    return grid


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB/grey uint8 (or uint16) image as PNG, atomically.

    Encoded in memory, then :func:`atomic_write_bytes` without fsync: a picture is cheap to
    redo after a power cut, and previews are written often during training.
    """
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return atomic_write_bytes(buffer.getvalue(), path, fsync=False)
