"""Videos stored as folders of image files, and the reference's split-file format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from amd_plugin.io.images import MediaError
from amd_plugin.io.images import read_image as read_media_image
from amd_train.data.base import IMAGE_EXTENSIONS, DataError, VideoSource, natural_key


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to H×W×3 uint8 RGB; DataError naming the file on any failure."""
    # is_file() is False for FIFOs (which would block open()) and for symlink loops.
    if not path.is_file():
        raise DataError(f"{path}: missing or not a regular file")
    try:
        # the library's reader: EXIF orientation, alpha, palette, 16-bit, CMYK handled once
        return read_media_image(path)
    except MediaError as err:
        raise DataError(str(err)) from err


def list_images(folder: Path) -> list[str]:
    """Names of the image files directly inside ``folder``, in natural order."""
    try:
        entries = list(folder.iterdir())
    except OSError as err:
        raise DataError(f"{folder}: cannot list folder ({err.strerror or err})") from err
    names = [p.name for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(names, key=natural_key)


class FrameFolderSource(VideoSource):
    """A video stored as image files in one folder.

    Args:
        folder: the folder.
        names: frame file names in time order; default: all images in the folder, sorted.
        name: label for errors and logs; default: the folder path.
    """

    def __init__(
        self, folder: str | Path, names: Sequence[str] | None = None, name: str | None = None
    ) -> None:
        self.folder = Path(folder)
        self.names = list(names) if names is not None else list_images(self.folder)
        self.name = name or str(self.folder)

    def __len__(self) -> int:
        return len(self.names)

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as H×W×3 uint8 RGB."""
        return read_image(self.folder / self.names[index])

    def validate(self) -> None:
        """At least one frame, and the first one's header decodes (cheap: no pixel decoding)."""
        if not self.names:
            raise DataError(f"{self.name}: folder holds no image files")
        first = self.folder / self.names[0]
        if not first.is_file():
            raise DataError(f"{first}: missing or not a regular file")
        try:
            with Image.open(first):
                pass
        except (OSError, ValueError) as err:
            raise DataError(f"{first}: cannot read image ({err})") from err


def parse_split_file(split: str | Path, root: str | Path) -> list[FrameFolderSource]:
    """Read a split file: one video per line, ``frame_dir f1.jpg f2.jpg …`` relative to root.

    Blank lines and lines starting with ``#`` are ignored. A line with only a folder takes all
    images in it. Every error (missing folder or frames, empty file) names the split file and
    the line number.
    """
    split, root = Path(split), Path(root)
    try:
        text = split.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{split}: cannot read split file ({err})") from err
    sources = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        where = f"{split}:{lineno}"
        folder = root / tokens[0]
        if not folder.is_dir():
            raise DataError(f"{where}: frame folder {folder} does not exist")
        names = tokens[1:]
        if names:
            # One directory listing per video instead of one stat per frame.
            try:
                present = {p.name for p in folder.iterdir()}
            except OSError as err:
                raise DataError(f"{where}: cannot list {folder} ({err.strerror or err})") from err
            missing = [n for n in names if n not in present]
            if missing:
                shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
                raise DataError(f"{where}: {len(missing)} frame(s) missing in {folder}: {shown}")
        else:
            names = list_images(folder)
            if not names:
                raise DataError(f"{where}: frame folder {folder} holds no images")
        sources.append(FrameFolderSource(folder, names, name=str(folder)))
    if not sources:
        raise DataError(f"{split}: split file lists no videos")
    return sources


def find_frame_folders(root: Path) -> list[Path]:
    """Frame folders under ``root``, in the layouts we accept.

    ``root/JPEGImages/<video>/`` (seed repo, YouTube-VOS, DAVIS; also ``JPEGImages/480p``),
    ``root/<video>/JPEGImages/`` (per-sequence DAVIS copies), ``root/<video>/`` (plain), or
    ``root`` itself when it directly holds images. Only one or two levels are inspected, never
    a recursive walk, so symlink loops cannot cause endless scanning.
    """
    base = root / "JPEGImages"
    if base.is_dir():
        if (base / "480p").is_dir() and not _image_subfolders(base):
            base = base / "480p"
        # Every sub-folder counts here, empty ones too: validation reports them by name.
        return _subdirs(base)
    folders = []
    for sub in _subdirs(root):
        if list_images(sub):
            folders.append(sub)
        elif (sub / "JPEGImages").is_dir() and list_images(sub / "JPEGImages"):
            folders.append(sub / "JPEGImages")
    if not folders and list_images(root):
        folders = [root]
    return folders


def _subdirs(folder: Path) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError as err:
        raise DataError(f"{folder}: cannot list folder ({err.strerror or err})") from err
    return sorted((p for p in entries if p.is_dir()), key=lambda p: natural_key(p.name))


def _image_subfolders(folder: Path) -> list[Path]:
    return [sub for sub in _subdirs(folder) if list_images(sub)]
