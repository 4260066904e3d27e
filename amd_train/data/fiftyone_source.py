"""Training videos from a FiftyOne video dataset, or a saved view of one (``data.kind: fiftyone``).

``data.root`` names the collection: ``"<dataset>"`` or ``"<dataset>:<saved view>"``. Each
video sample becomes a :class:`FiftyOneVideoSource`, which reads the sample's media file with
the ordinary :class:`~amd_train.data.video_file.VideoFileSource`, so sampling, transforms,
bad-file handling and DataLoader workers behave exactly as for ``kind: videos``. The view
chooses *which videos* are used; frame-level filtering in a view does not restrict which
frames are drawn (training pairs come from the whole file).

FiftyOne is imported only when such a config is used: it is an optional dependency, and it
reads its database settings (``FIFTYONE_DATABASE_URI``…) from the environment on import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amd_train.data.base import DataError, VideoSource
from amd_train.data.video_file import VideoFileSource

__all__ = ["FiftyOneVideoSource", "fiftyone_sources", "load_collection", "parse_root"]


class FiftyOneVideoSource(VideoSource):
    """The video file of one FiftyOne sample, read with :class:`VideoFileSource`.

    The file is scanned lazily (on first use, normally :meth:`validate` during discovery), so
    a missing or corrupt file surfaces as a :class:`DataError` there and is skipped with a
    warning like any other unusable video, instead of aborting the listing of the dataset.

    Args:
        filepath: the sample's ``filepath``.
        sample_id: the sample's id (for messages).
        dataset: the dataset name (for messages).
    """

    def __init__(self, filepath: str | Path, sample_id: str = "", dataset: str = "") -> None:
        self.path = Path(filepath)
        self.sample_id = sample_id
        self.dataset = dataset
        self.name = str(self.path)
        self._video: VideoFileSource | None = None

    def _file(self) -> VideoFileSource:
        if self._video is None:
            try:
                self._video = VideoFileSource(self.path)
            except DataError as err:
                # say which sample it is: the user knows the dataset, maybe not the file
                raise DataError(f"{err} (sample {self.sample_id} of '{self.dataset}')") from err
        return self._video

    def __len__(self) -> int:
        return len(self._file())

    def read(self, index: int) -> np.ndarray:
        return self._file().read(index)

    def read_pair(self, index_a: int, index_b: int) -> tuple[np.ndarray, np.ndarray]:
        # delegate, so the file source's decode-forward optimisation for pairs applies
        return self._file().read_pair(index_a, index_b)

    def validate(self) -> None:
        self._file().validate()

    def close(self) -> None:
        if self._video is not None:
            self._video.close()  # keeps the scan (frame count, timestamps); drops the decoder


def parse_root(root: str, dataset_exists: Any = None) -> tuple[str, str | None]:
    """``"name"`` → ``("name", None)``; ``"name:view"`` → ``("name", "view")``.

    Dataset names may themselves contain ``:``; when ``dataset_exists`` (a predicate) says
    the whole string is a dataset, it is taken as one. Otherwise the split is at the last
    ``:`` (saved-view names are slugs without one).
    """
    root = root.strip()
    if not root:
        raise DataError('data.kind is fiftyone but data.root is empty: set "<dataset>[:<view>]"')
    if ":" not in root or (dataset_exists is not None and dataset_exists(root)):
        return root, None
    name, _, view = root.rpartition(":")
    if not name or not view:
        raise DataError(f'data.root {root!r}: expected "<dataset>" or "<dataset>:<saved view>"')
    return name, view


def load_collection(root: str) -> Any:
    """The FiftyOne dataset or saved view named by ``data.root`` (DataError if unusable)."""
    try:
        import fiftyone as fo
    except ImportError as err:
        raise DataError(
            "data.kind fiftyone needs FiftyOne (pip install 'amd-objectness[fiftyone]'), "
            f"which could not be imported: {err}"
        ) from err
    name, view_name = parse_root(root, fo.dataset_exists)
    if not fo.dataset_exists(name):
        known = ", ".join(sorted(fo.list_datasets())) or "none"
        raise DataError(f"data.root {root!r}: no FiftyOne dataset '{name}' (datasets: {known})")
    dataset = fo.load_dataset(name)
    collection = dataset
    if view_name is not None:
        if not dataset.has_saved_view(view_name):
            views = ", ".join(dataset.list_saved_views()) or "none"
            raise DataError(
                f"data.root {root!r}: dataset '{name}' has no saved view '{view_name}' "
                f"(saved views: {views})"
            )
        collection = dataset.load_saved_view(view_name)
    if collection.media_type != "video":
        raise DataError(
            f"data.root {root!r}: is a '{collection.media_type}' collection; training learns "
            "from motion and needs video samples"
        )
    return collection


def fiftyone_sources(root: str) -> list[FiftyOneVideoSource]:
    """One (unvalidated) source per video sample of the collection named by ``root``."""
    collection = load_collection(root)
    ids, paths = collection.values(["id", "filepath"])
    if not ids:
        raise DataError(f"data.root {root!r}: the FiftyOne collection has no samples")
    dataset = collection.view().dataset_name  # works for datasets and views alike
    return [FiftyOneVideoSource(path, str(i), dataset) for i, path in zip(ids, paths)]
