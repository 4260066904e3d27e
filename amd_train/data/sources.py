"""Finding the training videos named by a :class:`DataConfig` and checking them.

Bad videos (corrupt, empty, unreadable) are skipped with a warning naming the file, so one
broken file among thousands does not stop training; if nothing usable remains, the error
names the data folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from amd_train.data.base import VIDEO_EXTENSIONS, DataError, VideoSource
from amd_train.data.config import DataConfig
from amd_train.data.frames import FrameFolderSource, find_frame_folders, parse_split_file
from amd_train.data.video_file import VideoFileSource

logger = logging.getLogger(__name__)

__all__ = [
    "DataError",
    "VideoSource",
    "discover_sources",
    "find_video_files",
    "resolve_kind",
    "resolve_split_path",
]


def resolve_split_path(cfg: DataConfig) -> Path:
    """The split file: as given if it exists (absolute or relative to the cwd), else under root."""
    split = Path(cfg.split).expanduser()
    if split.is_absolute() or split.exists() or not cfg.root:
        return split
    return Path(cfg.root).expanduser() / split


def find_video_files(root: Path) -> list[Path]:
    """Video files directly in ``root``, or else in ``root/videos`` (the synthetic layout)."""
    for folder in (root, root / "videos"):
        if folder.is_dir():
            try:
                files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
            except OSError as err:
                raise DataError(f"{folder}: cannot list folder ({err.strerror or err})") from err
            if files:
                return files
    return []


def resolve_kind(cfg: DataConfig) -> str:
    """The concrete source kind for ``cfg.kind == "auto"`` (see DataConfig.kind)."""
    if cfg.kind != "auto":
        return cfg.kind
    if cfg.split:
        return "split"
    if not cfg.root:
        raise DataError("data.root is empty: set data.root (or data.kind: synthetic)")
    root = Path(cfg.root).expanduser()
    if root.is_file() and root.suffix.lower() in VIDEO_EXTENSIONS:
        return "videos"
    if not root.is_dir():
        raise DataError(f"data.root {root} does not exist or is not a folder/video file")
    if (root / "JPEGImages").is_dir():
        return "frames"
    if find_video_files(root):
        return "videos"
    if find_frame_folders(root):
        return "frames"
    raise DataError(
        f"data.root {root}: found no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) and "
        "no frame folders (JPEGImages/<video>/, <video>/JPEGImages/ or <video>/ with images)"
    )


def _candidates(cfg: DataConfig, kind: str) -> list[VideoSource | Path]:
    """Sources (frame folders, FiftyOne samples) or paths (video files, opened later so
    failures are skipped)."""
    root = Path(cfg.root).expanduser()
    if kind == "split":
        if not cfg.split:
            raise DataError("data.kind is 'split' but data.split is empty")
        split = resolve_split_path(cfg)
        return list(parse_split_file(split, root))
    if kind == "videos":
        if root.is_file():
            return [root]
        files = find_video_files(root)
        if not files:
            raise DataError(f"data.root {root}: no video files found")
        return list(files)
    if kind == "fiftyone":
        from amd_train.data.fiftyone_source import fiftyone_sources  # optional dependency

        return list(fiftyone_sources(cfg.root))
    if kind == "frames":
        folders = find_frame_folders(root)
        if not folders:
            raise DataError(f"data.root {root}: no frame folders found")
        return [FrameFolderSource(folder) for folder in folders]
    raise DataError(f"data.kind {kind!r} has no file sources")


def discover_sources(cfg: DataConfig) -> list[VideoSource]:
    """All usable videos for ``cfg`` (not for ``kind: synthetic``), each validated once.

    Unusable ones are logged and skipped; DataError if none remains.
    """
    kind = resolve_kind(cfg)
    sources: list[VideoSource] = []
    skipped = 0
    candidates = _candidates(cfg, kind)
    # Opening thousands of videos takes a while: show progress for large datasets only.
    for item in tqdm(candidates, desc="checking videos", disable=len(candidates) < 200):
        try:
            source = VideoFileSource(item) if isinstance(item, Path) else item
            source.validate()
            source.close()  # workers reopen it: decoders must not be shared across processes
        except DataError as err:
            logger.warning("skipping unusable video: %s", err)
            skipped += 1
            continue
        sources.append(source)
    if not sources:
        where = cfg.split or cfg.root
        raise DataError(f"no usable videos in {where} ({skipped} skipped, see warnings above)")
    if skipped:
        logger.warning("using %d videos, skipped %d unusable ones", len(sources), skipped)
    return sources
