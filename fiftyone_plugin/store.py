"""Database-side helpers shared by the image and video paths of an AMD run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fiftyone_plugin.labels import DETECTION_LABEL
from fiftyone_plugin.options import ApplyOptions, ExistingResultsError


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def refuse_silent_overwrite(existing: set[str], options: ApplyOptions, kind: str) -> None:
    """Raise when results exist and neither ``skip_existing`` nor ``overwrite`` is set."""
    if existing and not options.skip_existing and not options.overwrite:
        raise ExistingResultsError(
            f"{len(existing)} {kind} already have '{options.field('mask')}' results; pass "
            "skip_existing=True to complete only what is missing, or overwrite=True to recompute"
        )


def write_errors(collection, options, errors: dict[str, str | None]) -> None:
    """Record media errors per sample; clear stale ones (only if the field exists)."""
    name = options.field("error")
    if any(errors.values()) or collection.has_field(name):
        collection.set_values(name, errors, key_field="id")


def root_dataset(collection: Any) -> Any:
    """The dataset behind a dataset or view."""
    import fiftyone as fo

    if isinstance(collection, fo.Dataset):
        return collection
    return fo.load_dataset(collection.dataset_name)


def ensure_mask_targets(collection, field_path: str) -> None:
    """Name the foreground value in the App's legend (once per dataset and field)."""
    dataset = root_dataset(collection)
    if field_path not in dataset.mask_targets:
        dataset.mask_targets = {**dataset.mask_targets, field_path: {1: DETECTION_LABEL}}
        dataset.save()
