"""Views over the objectness scores that ``apply_amd`` stores (used by filter_by_objectness)."""

from __future__ import annotations

from typing import Any

SORT_ORDERS = ("descending", "ascending", "none")
LEVELS = ("sample", "frame")


def objectness_view(
    collection: Any,
    prefix: str = "amd",
    level: str = "sample",
    min_objectness: float | None = None,
    max_objectness: float | None = None,
    top_k: int | None = None,
    sort: str = "descending",
) -> Any:
    """Samples (or video frames) whose objectness lies in a range, sorted, top-k.

    Args:
        collection: a FiftyOne dataset or view on which ``apply_amd`` ran.
        prefix: the label prefix used by ``apply_amd`` (field ``<prefix>_objectness``).
        level: ``sample`` filters on the sample field (for videos, the video-level
            aggregate); ``frame`` keeps only the frames in range and drops videos with none.
        min_objectness, max_objectness: inclusive bounds; ``None`` leaves a side open.
        top_k: keep the first ``k`` samples after sorting (``None``/0 keeps all).
        sort: ``descending`` (best first), ``ascending`` or ``none``. Sorting is always by the
            sample-level score (for videos, the aggregate).

    Returns:
        a ``DatasetView``.
    """
    from fiftyone import ViewField as F

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if sort not in SORT_ORDERS:
        raise ValueError(f"sort must be one of {SORT_ORDERS}, got {sort!r}")
    field = f"{prefix}_objectness"
    if level == "frame":
        if collection.media_type != "video":
            raise ValueError("frame-level filtering needs a video collection")
        if not collection.has_frame_field(field):
            raise ValueError(
                f"no frame field '{field}': run apply_amd with prefix '{prefix}' first"
            )
    if not collection.has_field(field):
        raise ValueError(f"no field '{field}': run apply_amd with prefix '{prefix}' first")

    view = collection.view()
    condition = _range(F(field), min_objectness, max_objectness)
    if condition is not None:
        view = view.match_frames(condition) if level == "frame" else view.match(condition)
    if sort != "none":
        view = view.sort_by(field, reverse=sort == "descending")
    if top_k:
        view = view.limit(int(top_k))
    return view


def _range(expression: Any, low: float | None, high: float | None) -> Any:
    """``low <= expression <= high`` with open sides left out; ``None`` when unbounded."""
    parts = []
    if low is not None:
        parts.append(expression >= float(low))
    if high is not None:
        parts.append(expression <= float(high))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0] & parts[1]
