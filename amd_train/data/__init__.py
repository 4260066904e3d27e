"""Training data: video sources, frame-pair sampling, transforms and datasets.

Names are exported lazily (PEP 562): :mod:`amd_train.synthetic` uses the sampling and
transform modules while :mod:`amd_train.data.config` uses the synthetic config, so importing
everything eagerly here would create an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataConfig": "amd_train.data.config",
    "DataError": "amd_train.data.base",
    "VideoSource": "amd_train.data.base",
    "FrameFolderSource": "amd_train.data.frames",
    "parse_split_file": "amd_train.data.frames",
    "VideoFileSource": "amd_train.data.video_file",
    "write_video": "amd_train.data.video_file",
    "discover_sources": "amd_train.data.sources",
    "PairTransform": "amd_train.data.transforms",
    "sample_pair": "amd_train.data.sampling",
    "make_generator": "amd_train.data.sampling",
    "worker_init_fn": "amd_train.data.sampling",
    "FramePairDataset": "amd_train.data.datasets",
    "build_dataset": "amd_train.data.datasets",
    "frame_pair_collate": "amd_train.data.datasets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'amd_train.data' has no attribute {name!r}")
