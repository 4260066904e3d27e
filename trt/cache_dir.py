"""Where the on-disk cache lives (``$AMD_OBJECTNESS_CACHE``, default ``~/.cache/amd-objectness``).

A module of its own because two floors need it: :mod:`trt.engine` keeps its TensorRT timing
caches there, and :mod:`trt.cache`, which sits above the engine build and calls it, keeps
exported graphs and engines there. Neither has to import the other for the location.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$AMD_OBJECTNESS_CACHE``, else ``~/.cache/amd-objectness``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("AMD_OBJECTNESS_CACHE", "~/.cache/amd-objectness")).expanduser()
