"""What a bad-input case is (:class:`Case`) and what a call did (:class:`Outcome`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # read_image | iter_frames | discover_sources | parse_split_file | ...
    build: Callable[[Path], Any]  # tmp folder -> the argument of the target
    expect: str  # "ok", "skipped" or the error class name
    match: str = ""  # regex the message must match (case-insensitive)
    named: str = ""  # what the message must name; default: the input's file name
    check: Callable[[Any], bool] | None = None  # for "ok": verifies the result
    skip: Callable[[], str] | None = None  # -> reason to skip here, or ""
    slow: bool = False
    note: str = ""  # for the report: a bug this case found, or what it shows


@dataclass
class Outcome:
    kind: str  # "ok" or the exception class name
    message: str = ""
    value: Any = None
    frames: int = 0  # iter_frames: frames yielded before an error
    log: str = ""  # warnings logged during the call


def shape_is(*shape: int) -> Callable[[Any], bool]:
    return lambda a: a.shape == shape and a.dtype == np.uint8


def rgb_ok(a: np.ndarray) -> bool:
    return a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8


def _block_at(array: np.ndarray, corner: str) -> bool:
    """The bright 8×8 block sits in ``corner`` (tl/tr/bl/br) of an image or frame."""
    h, w = array.shape[:2]
    rows = slice(0, 6) if corner[0] == "t" else slice(h - 6, h)
    cols = slice(0, 6) if corner[1] == "l" else slice(w - 6, w)
    return float(array[rows, cols].mean()) > 200
