"""Finding and loading evaluation data: DAVIS-style video folders and saliency image sets.

Supported video layouts (frames and masks are matched by file stem):

* DAVIS official: ``ROOT/JPEGImages[/480p]/<seq>/*.jpg`` + ``ROOT/Annotations[/480p]/<seq>/*.png``
* per-sequence:   ``ROOT/<seq>/JPEGImages/*.jpg`` + ``ROOT/<seq>/Annotations/*.png``
* one sequence:   ``ROOT/JPEGImages/*.jpg`` + ``ROOT/Annotations/*.png``

Masks may be binary (0/1, 0/255), palette PNGs of object ids, RGB, or 16-bit; by default any
non-zero (non-black) pixel is foreground.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from amd_plugin.io.images import read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
FRAMES_DIR = "JPEGImages"
MASKS_DIR = "Annotations"


@dataclass(frozen=True)
class EvalSequence:
    """One video to evaluate: frames in temporal order and their ground truth, if any.

    ``gt_paths[i]`` is the mask of ``frame_paths[i]`` (same stem) or ``None``.
    """

    name: str
    frame_paths: tuple[Path, ...]
    gt_paths: tuple[Path | None, ...]

    @property
    def annotated_indices(self) -> list[int]:
        """Indices of the frames that have a ground-truth mask."""
        return [i for i, p in enumerate(self.gt_paths) if p is not None]

    def __len__(self) -> int:
        return len(self.frame_paths)


@dataclass(frozen=True)
class SaliencyPair:
    """One image of a saliency set and its ground-truth mask."""

    name: str
    image_path: Path
    mask_path: Path


def _natural_key(path: Path) -> list:
    """Sort key that orders ``frame2`` before ``frame10`` (zero-padded names are unaffected)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.stem)]


def _images_in(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, naturally sorted; [] if it does not exist."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_natural_key)


def _by_stem(files: list[Path], folder: Path) -> dict[str, Path]:
    """Map stem → path; two files with one stem (``0.jpg`` and ``0.png``) are ambiguous."""
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise ValueError(f"{folder}: both {out[f.stem].name} and {f.name} have stem {f.stem!r}")
        out[f.stem] = f
    return out


def _build_sequence(name: str, frames_dir: Path, masks_dir: Path) -> EvalSequence:
    """Pair the frames of ``frames_dir`` with the masks of ``masks_dir`` by stem.

    A mask whose frame is missing points at a naming mismatch (e.g. ``00000.png`` against
    ``frame_0.jpg``), so it is an error rather than silently unscored.
    """
    frames = _images_in(frames_dir)
    frame_stems = _by_stem(frames, frames_dir)
    masks = _by_stem(_images_in(masks_dir), masks_dir)
    orphans = sorted(set(masks) - set(frame_stems))
    if orphans:
        raise ValueError(
            f"sequence {name!r}: {len(orphans)} mask(s) in {masks_dir} have no frame in "
            f"{frames_dir} with the same stem (e.g. {orphans[:3]})"
        )
    gts = tuple(masks.get(f.stem) for f in frames)
    return EvalSequence(name=name, frame_paths=tuple(frames), gt_paths=gts)


def read_split(root: str | Path, split: str) -> list[str]:
    """Sequence names listed in a DAVIS ``ImageSets`` file named ``<split>.txt``.

    Understands both the DAVIS-2017 style (one name per line, ``ImageSets/2016/val.txt``)
    and the DAVIS-2016 style (frame/mask path pairs, ``ImageSets/480p/val.txt``).
    """
    candidates = sorted(Path(root, "ImageSets").rglob(f"{split}.txt"))
    # Prefer the DAVIS-2016 list when a DAVIS-2017 download holds several years' lists.
    candidates.sort(key=lambda p: p.parent.name != "2016")
    if not candidates:
        raise FileNotFoundError(f"no ImageSets/**/{split}.txt under {root}")
    names: list[str] = []
    for line in candidates[0].read_text().splitlines():
        tokens = line.split()
        if not tokens:
            continue
        token = tokens[0]
        name = Path(token).parent.name if "/" in token else token
        if name not in names:
            names.append(name)
    return names


def discover_sequences(
    root: str | Path,
    sequences: Iterable[str] | None = None,
    split: str | None = None,
    resolution: str = "480p",
) -> list[EvalSequence]:
    """Find every evaluation sequence under ``root`` (any layout in the module docstring).

    Args:
        root: dataset root, or a single sequence folder.
        sequences: keep only these names (error if one is missing).
        split: keep only the sequences of ``ImageSets/**/<split>.txt`` (e.g. ``"val"``).
        resolution: subfolder used when the official layout has one (``480p`` is the
            resolution DAVIS is scored at).

    Returns:
        Sequences sorted by name; frames without a mask have ``gt_path`` None.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"evaluation data folder not found: {root}")
    frames_root, masks_root = root / FRAMES_DIR, root / MASKS_DIR
    found: list[EvalSequence]
    if frames_root.is_dir() and _images_in(frames_root):
        found = [_build_sequence(root.name, frames_root, masks_root)]
    elif frames_root.is_dir():
        if (frames_root / resolution).is_dir():
            frames_root, masks_root = frames_root / resolution, masks_root / resolution
        found = [
            _build_sequence(d.name, d, masks_root / d.name)
            for d in sorted(frames_root.iterdir())
            if d.is_dir() and _images_in(d)
        ]
    else:
        found = [
            _build_sequence(d.name, d / FRAMES_DIR, d / MASKS_DIR)
            for d in sorted(root.iterdir())
            if d.is_dir() and _images_in(d / FRAMES_DIR)
        ]
    if not found:
        raise ValueError(
            f"no sequences under {root}: expected {FRAMES_DIR}/<seq>/*.jpg, "
            f"<seq>/{FRAMES_DIR}/*.jpg or {FRAMES_DIR}/*.jpg (with matching {MASKS_DIR})"
        )
    wanted = list(sequences) if sequences is not None else None
    if split is not None:
        split_names = read_split(root, split)
        wanted = split_names if wanted is None else [n for n in wanted if n in split_names]
    if wanted is None:
        return found
    by_name = {s.name: s for s in found}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ValueError(f"sequences not found under {root}: {missing}")
    return [by_name[n] for n in sorted(wanted)]


def _open_image(path: Path, what: str) -> Image.Image:
    """Open and fully decode an image, turning decoder failures into a ValueError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: truncated files only fail at this point
            return img.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"cannot read {what} {path}: {err}") from err


def load_gt_mask(
    path: str | Path, size: tuple[int, int] | None = None, threshold: float = 0
) -> np.ndarray:
    """Load a ground-truth mask as an H×W bool array (True = foreground).

    By default any non-zero value is foreground, whatever the encoding: 0/1 or 0/255 grayscale,
    16-bit, palette PNGs (object ids > 0, so multi-object DAVIS-2017 masks become one
    foreground), RGB / RGBA (any non-black colour; alpha is ignored).

    Args:
        path: mask file.
        size: expected ``(height, width)``, e.g. ``prediction.shape``. A mismatch raises
            ``ValueError``; resize the prediction with ``resize_mask_nearest`` instead of
            resampling the ground truth.
        threshold: foreground is value > threshold (per channel for colour masks). Keep 0
            for DAVIS; saliency masks with anti-aliased edges use 127 (the usual > 0.5).
    """
    path = Path(path)
    img = _open_image(path, "mask")
    if img.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
        arr = (np.asarray(img.convert("RGB")) > threshold).any(axis=2)
    elif img.mode == "LA":
        arr = np.asarray(img.getchannel("L")) > threshold
    else:
        # "1", "L", "P" (palette indices), "I;16*", "I", "F": the raw values are ids/levels.
        arr = np.asarray(img)
        if arr.ndim != 2:
            raise ValueError(f"unsupported mask layout in {path}: mode {img.mode}")
        arr = arr > threshold
    if size is not None and tuple(arr.shape) != tuple(size):
        raise ValueError(
            f"mask {path} is {arr.shape[0]}×{arr.shape[1]} (H×W) but {size[0]}×{size[1]} was "
            "expected; resize the prediction to the mask with resize_mask_nearest"
        )
    return arr


def load_frame(path: str | Path) -> np.ndarray:
    """Load a frame as an H×W×3 uint8 RGB array (the library's reader; ValueError naming the
    file on failure)."""
    return read_image(path)


def resize_mask_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an H×W array (any dtype) to ``size`` = (height, width).

    Each output pixel takes the input pixel under its centre, so resizing by an integer
    factor and back is lossless and no new values (e.g. between ids) are invented.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D H×W, got shape {arr.shape}")
    h, w = arr.shape
    out_h, out_w = int(size[0]), int(size[1])
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"target size must be positive, got {size}")
    rows = np.minimum(((np.arange(out_h) + 0.5) * h / out_h).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(out_w) + 0.5) * w / out_w).astype(np.int64), w - 1)
    return arr[rows[:, None], cols[None, :]]


def discover_saliency_pairs(
    image_dir: str | Path, mask_dir: str | Path, strict: bool = True
) -> list[SaliencyPair]:
    """Pair the images of ``image_dir`` with the masks of ``mask_dir`` by file stem.

    Args:
        strict: raise if an image has no mask or a mask no image (usually a wrong folder or
            naming scheme); with ``False`` unmatched files are skipped.

    Returns:
        Matched pairs in natural name order.
    """
    image_dir, mask_dir = Path(image_dir), Path(mask_dir)
    for folder in (image_dir, mask_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"folder not found: {folder}")
    images = _by_stem(_images_in(image_dir), image_dir)
    masks = _by_stem(_images_in(mask_dir), mask_dir)
    if strict:
        for label, only in (
            (f"images in {image_dir} without a mask", sorted(set(images) - set(masks))),
            (f"masks in {mask_dir} without an image", sorted(set(masks) - set(images))),
        ):
            if only:
                raise ValueError(f"{len(only)} {label} (e.g. {only[:3]}); pass strict=False")
    pairs = [SaliencyPair(s, images[s], masks[s]) for s in images if s in masks]
    if not pairs:
        raise ValueError(f"no image in {image_dir} has a mask with the same stem in {mask_dir}")
    return sorted(pairs, key=lambda p: _natural_key(p.image_path))
