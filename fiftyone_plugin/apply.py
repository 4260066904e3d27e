"""The work behind ``apply_amd``: segment every image or video frame of a collection.

Entry points:

* :func:`apply_to_collection` — plain function for scripts and tests; calls ``progress``
  after every written batch (raise from it to stop; what was written stays).
* :func:`iter_apply` — the same run as a generator of :class:`ApplyProgress` events that
  returns the :class:`ApplySummary`, which is what the operator drives.

What gets stored (``<p>`` = ``options.prefix``, default ``amd``):

* image samples: ``<p>_mask`` (Segmentation, 0/1 PNG on disk), ``<p>_heatmap`` (Heatmap,
  16-bit PNG), ``<p>_objectness`` (float), optionally ``<p>_detections``;
* video samples: the same on frames (``frames.<p>_mask`` …, frame numbers from 1, every
  ``frame_stride``-th frame), plus a video-level ``<p>_objectness`` aggregate (mean of the
  top 25% frame scores, see :func:`fiftyone_plugin.labels.video_objectness`), so
  ``match(F("amd_objectness") > t)`` and ``sort_by("amd_objectness")`` work for both;
* ``<p>_error``: a message naming the file when its media could not be read (the run goes
  on with the rest); cleared when a later run succeeds.

Files live at ``<output_dir>/<sample_id>/mask.png`` / ``heatmap.png`` (images) or
``<output_dir>/<sample_id>/<frame:06d>_mask.png`` (frames), written atomically. Labels are
written with one ``set_values`` per field per batch, so an interrupted run keeps every
finished batch, and ``skip_existing`` then completes only what is missing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from amd_plugin.io.images import MediaError, read_image
from fiftyone_plugin.labels import outputs_exist, write_prediction
from fiftyone_plugin.options import (
    ApplyOptions,
    ApplyProgress,
    ApplySummary,
    ExistingResultsError,
    ProgressCallback,
    default_output_dir,
    shard_of,
)
from fiftyone_plugin.store import (
    chunks,
    ensure_mask_targets,
    refuse_silent_overwrite,
    root_dataset,
    write_errors,
)
from fiftyone_plugin.video import apply_videos

__all__ = [
    "ApplyOptions",
    "ApplyProgress",
    "ApplySummary",
    "ExistingResultsError",
    "apply_to_collection",
    "iter_apply",
    "shard_of",
]

logger = logging.getLogger(__name__)


def apply_to_collection(
    collection: Any,
    segmenter: Any,
    options: ApplyOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ApplySummary:
    """Segment a FiftyOne image or video collection and store masks, heatmaps and scores.

    Args:
        collection: a ``fiftyone`` Dataset or DatasetView of images or videos.
        segmenter: anything with ``predict(list of H×W×3 uint8) -> list[Prediction]``
            (:class:`amd_plugin.Segmenter`, any backend).
        options: :class:`ApplyOptions` (defaults when ``None``).
        progress: called with an :class:`ApplyProgress` after every written batch; an
            exception it raises stops the run (finished batches stay written).

    Returns:
        an :class:`ApplySummary`.
    """
    events = iter_apply(collection, segmenter, options)
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(event)


def iter_apply(
    collection: Any, segmenter: Any, options: ApplyOptions | None = None
) -> Generator[ApplyProgress, None, ApplySummary]:
    """:func:`apply_to_collection` as a generator of progress events returning the summary."""
    options = options or ApplyOptions()
    media = collection.media_type
    if media not in ("image", "video"):
        raise ValueError(
            f"AMD segments image or video collections, not '{media}' "
            "(for a grouped dataset, select one slice first)"
        )
    out = (
        Path(options.output_dir)
        if options.output_dir
        else default_output_dir(root_dataset(collection).name)
    )
    ids, paths = collection.values(["id", "filepath"])
    if options.num_shards > 1:
        pairs = [
            (i, p)
            for i, p in zip(ids, paths)
            if shard_of(i, options.num_shards) == options.shard_index
        ]
        ids, paths = [i for i, _ in pairs], [p for _, p in pairs]
    backend = getattr(getattr(segmenter, "backend", None), "name", None)
    summary = ApplySummary(out.resolve(), backend=backend)
    logger.info("segmenting %d %ss with backend %s", len(ids), media, backend or "(custom)")
    if media == "image":
        return (yield from _apply_images(collection, segmenter, options, ids, paths, summary))
    return (yield from apply_videos(collection, segmenter, options, ids, paths, summary))


def _apply_images(collection, segmenter, options, ids, paths, summary):
    existing = set() if options.overwrite else _finished_images(collection, options, ids)
    refuse_silent_overwrite(existing, options, "image(s)")
    summary.skipped = [i for i in ids if i in existing]
    todo = [(i, p) for i, p in zip(ids, paths) if i not in existing]
    done, total = len(summary.skipped), len(ids)
    for chunk in chunks(todo, options.write_batch):
        images, ok, errors = [], [], {}
        for sample_id, path in chunk:
            try:
                images.append(read_image(path))
                ok.append(sample_id)
            except MediaError as err:
                # the message names the file; the run goes on with the rest
                logger.error("AMD: skipping sample %s: %s", sample_id, err)
                errors[sample_id] = str(err)
        columns: dict[str, dict[str, Any]] = defaultdict(dict)
        for sample_id, prediction in zip(ok, segmenter.predict(images) if images else []):
            for name, value in write_prediction(
                prediction, summary.output_dir / sample_id, options.labels
            ).items():
                columns[name][sample_id] = value
        for name, values in columns.items():
            collection.set_values(name, values, key_field="id")
        write_errors(collection, options, {**dict.fromkeys(ok), **errors})
        summary.processed.extend(ok)
        summary.failed.update(errors)
        done += len(chunk)
        yield ApplyProgress(done, total, 0, f"AMD: {done}/{total} images")
    if summary.processed:
        ensure_mask_targets(collection, options.field("mask"))
    return summary


def _finished_images(collection, options, ids: Sequence[str]) -> set[str]:
    mask, heatmap = options.field("mask"), options.field("heatmap")
    if not (collection.has_field(mask) and collection.has_field(heatmap)):
        return set()
    all_ids, masks, heatmaps = collection.values(["id", f"{mask}.mask_path", f"{heatmap}.map_path"])
    wanted = set(ids)
    return {i for i, m, h in zip(all_ids, masks, heatmaps) if i in wanted and outputs_exist(m, h)}
