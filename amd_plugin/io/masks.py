"""Atomic PNG writers for masks and probability heatmaps.

Conventions (chosen to match FiftyOne's label types, but nothing here imports FiftyOne):

* **Masks** are single-channel 8-bit PNGs holding 0 (background) and 1 (foreground), the
  ``Segmentation`` convention with ``mask_targets = {1: "object"}``. They look black in an
  ordinary image viewer; multiply by 255 to eyeball one.
* **Heatmaps** are single-channel PNGs of ``round(probability × max)``. The default is
  16-bit (``max = 65535``): precise enough to re-threshold later without visible steps, and
  FiftyOne's App decodes 16-bit PNGs natively (store ``Heatmap(range=[0, 65535])``).
  ``bits=8`` (``max = 255``) gives files about half the size for viewing only.

Every file is encoded in memory and written with
:func:`amd_plugin.io.atomic.atomic_write_bytes`, so an interrupted run never leaves a
truncated PNG under the final name that a label could point at. fsync is off by default:
it costs milliseconds per file, which adds up over thousands of masks.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from amd_plugin.io.atomic import atomic_write_bytes

HEATMAP_MAX = {8: 255, 16: 65535}


def heatmap_range(bits: int = 16) -> tuple[int, int]:
    """The ``(min, max)`` pixel values of a heatmap written with ``bits`` bits."""
    if bits not in HEATMAP_MAX:
        raise ValueError(f"heatmap bits must be 8 or 16, got {bits}")
    return 0, HEATMAP_MAX[bits]


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a 2-D ``uint8`` or ``uint16`` array (grayscale)."""
    array = np.ascontiguousarray(array)
    if array.ndim != 2 or array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a 2-D uint8/uint16 array, got {array.shape} {array.dtype}")
    # Pillow's "I;16" is little-endian: build it from explicit little-endian bytes so the
    # result does not depend on the machine's byte order
    if array.dtype == np.uint16:
        image = Image.frombytes(
            "I;16", (array.shape[1], array.shape[0]), array.astype("<u2").tobytes()
        )
    else:
        image = Image.fromarray(array)
    buffer = io.BytesIO()
    # level 1: a 16-bit heatmap encodes ~2× faster than at the default 6 and only ~3% larger
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_mask_png(mask: np.ndarray, path: str | Path, fsync: bool = False) -> Path:
    """Atomically write an ``H×W`` boolean (or 0/1) mask as an 8-bit 0/1 PNG."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected an H×W mask, got shape {mask.shape}")
    return atomic_write_bytes(encode_png((mask > 0).astype(np.uint8)), path, fsync=fsync)


def write_heatmap_png(
    prob: np.ndarray, path: str | Path, bits: int = 16, fsync: bool = False
) -> Path:
    """Atomically write an ``H×W`` probability map in [0, 1] as a 16- (or 8-) bit PNG.

    Values are clipped to [0, 1] (NaN becomes 0) and scaled by 65535 (or 255); read them
    back with :func:`read_heatmap_png`.
    """
    _, top = heatmap_range(bits)
    prob = np.nan_to_num(np.asarray(prob, dtype=np.float32), nan=0.0)
    if prob.ndim != 2:
        raise ValueError(f"expected an H×W probability map, got shape {prob.shape}")
    scaled = np.rint(np.clip(prob, 0.0, 1.0) * top)
    dtype = np.uint16 if bits == 16 else np.uint8
    return atomic_write_bytes(encode_png(scaled.astype(dtype)), path, fsync=fsync)


def read_mask_png(path: str | Path) -> np.ndarray:
    """Read a mask PNG as an ``H×W`` bool array (any nonzero value is foreground)."""
    with Image.open(path) as image:
        return np.asarray(image) > 0


def read_heatmap_png(path: str | Path) -> np.ndarray:
    """Read a heatmap PNG back to float32 probabilities in [0, 1] (8- or 16-bit)."""
    with Image.open(path) as image:
        array = np.asarray(image)
    top = 65535.0 if array.dtype != np.uint8 else 255.0
    return array.astype(np.float32) / top
