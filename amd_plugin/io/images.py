"""Image reading with Pillow: any mode in, ``H×W×3`` uint8 RGB out.

Handles EXIF orientation, grayscale, palette, RGBA/LA (composited on black — alpha is not
objectness), CMYK and 16-bit images. Errors name the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
    ".ppm",
    ".pgm",
}
MAX_PIXELS = 200_000_000  # refuse decompression bombs with a clear message instead of OOM


class MediaError(ValueError):
    """Unreadable or unsupported media; the message names the file."""


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to ``H×W×3`` uint8 RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / (hi - lo) * 255.0 if hi > lo else arr * 0).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``H×W×3`` uint8 RGB, EXIF orientation applied."""
    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            raise MediaError(f"{path}: broken symlink or symlink loop")
        raise MediaError(f"{path}: file not found")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not an image")
    if not path.is_file():  # a FIFO or device would block the decoder forever
        raise MediaError(f"{path}: not a regular file")
    try:
        with warnings.catch_warnings():
            # MAX_PIXELS below is the limit; Pillow's warning fires at 89 MP, which would
            # refuse ordinary 100 MP photos. Pillow still raises DecompressionBombError at 179 MP.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise MediaError(f"{path}: image too large ({image.width}×{image.height})")
                image.load()
                image = ImageOps.exif_transpose(image)
                return to_rgb_array(image)
    except MediaError:
        raise
    except PermissionError as err:
        raise MediaError(f"{path}: permission denied") from err
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        raise MediaError(f"{path}: not a readable image ({err})") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise MediaError(f"{path}: corrupt or truncated image ({err})") from err


def list_frame_files(folder: str | Path) -> list[Path]:
    """Sorted image files of a frame folder (natural order: 2.jpg before 10.jpg)."""
    folder = Path(folder)
    try:
        entries = [p for p in folder.iterdir() if is_image_path(p)]
    except OSError as err:
        raise MediaError(f"{folder}: cannot list frame folder ({err.strerror or err})") from err

    def natural_key(p: Path) -> tuple:
        import re

        return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name))

    return sorted(entries, key=natural_key)
