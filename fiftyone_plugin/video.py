"""The video path of an AMD run: decode in batches, segment missing frames, aggregate."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from amd_plugin.io.images import MediaError
from amd_plugin.io.prefetch import prefetched
from amd_plugin.io.video import batched, iter_video_frames, probe_video
from fiftyone_plugin.labels import outputs_exist, video_objectness, write_prediction
from fiftyone_plugin.options import ApplyProgress
from fiftyone_plugin.store import ensure_mask_targets, refuse_silent_overwrite, write_errors

logger = logging.getLogger(__name__)


def apply_videos(collection, segmenter, options, ids, paths, summary):
    """Generator over the videos ``ids``/``paths``: progress events, returns ``summary``."""
    existing = set() if options.overwrite else _finished_videos(collection, options, ids)
    refuse_silent_overwrite(existing, options, "video(s)")
    summary.skipped = [i for i in ids if i in existing]
    done, total = len(summary.skipped), len(ids)
    for sample_id, path in zip(ids, paths):
        if sample_id in existing:
            continue
        run = _VideoRun(collection, segmenter, options, sample_id, path, summary)
        yield from run.events(done, total)
        if run.scores:
            collection.set_values(
                options.field("objectness"), {sample_id: run.aggregate()}, key_field="id"
            )
        write_errors(collection, options, {sample_id: run.error})
        if run.error:
            summary.failed[sample_id] = run.error
        else:
            summary.processed.append(sample_id)
        done += 1
        yield ApplyProgress(
            done, total, summary.frames, f"AMD: {done}/{total} videos, {summary.frames} frames"
        )
    if summary.frames:
        ensure_mask_targets(collection, "frames." + options.field("mask"))
    return summary


class _VideoRun:
    """One video: decode in batches, segment the frames still missing, write per batch.

    The next batch is decoded by one background thread, and the PNGs of the previous one
    are encoded and written by another, while this batch is segmented (PyAV and Pillow's
    zlib release the GIL). A batch's labels go to the database, from this thread, only
    once its files are on disk, so an interrupted run never stores a label whose file is
    missing.
    """

    def __init__(self, collection, segmenter, options, sample_id, path, summary) -> None:
        self.collection, self.segmenter, self.options = collection, segmenter, options
        self.sample_id, self.path, self.summary = sample_id, path, summary
        self.folder = summary.output_dir / sample_id
        stride = options.frame_stride
        prior = {} if options.overwrite else _finished_frames(collection, options, sample_id)
        # only frames on this run's stride grid count toward the video score
        self.prior = {n: s for n, s in prior.items() if (n - 1) % stride == 0}
        self.scores: dict[int, float] = dict(self.prior)
        self.error: str | None = None
        self._pending: Future | None = None

    def aggregate(self) -> float | None:
        return video_objectness(list(self.scores.values()), self.options.video_top_fraction)

    def events(self, done: int, total: int) -> Iterable[ApplyProgress]:
        expected = _expected_frames(self.path, self.options.frame_stride)
        seen = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="amd-writer") as writer:
            try:
                frames = iter_video_frames(self.path, stride=self.options.frame_stride)
                # the next batch decodes while this one is segmented
                for batch in prefetched(batched(frames, self.options.write_batch), depth=1):
                    seen += len(batch)
                    todo = [(n, image) for n, image in batch if n not in self.prior]
                    if not todo:
                        continue
                    self._calibrate([image for _, image in batch])
                    predictions = self.segmenter.predict([image for _, image in todo])
                    self._store_pending()  # the previous batch, once its files are written
                    numbers = [n for n, _ in todo]
                    self._pending = writer.submit(self._write_files, numbers, predictions)
                    partial = min(1.0, seen / expected) if expected else 0.0
                    label = f"AMD: video {done + 1}/{total}, {self.summary.frames} frames"
                    yield ApplyProgress(done, total, self.summary.frames, label, partial)
            except MediaError as err:
                # keep the frames that decoded; the video is retried by the next run
                logger.error("AMD: video sample %s: %s", self.sample_id, err)
                self.error = str(err)
            finally:
                self._store_pending()

    def _calibrate(self, images: list) -> None:
        """A segmenter still choosing its channel ("auto", nothing stored) chooses it from
        this batch's consecutive frames, so their motion counts, not only appearance."""
        calibrate = getattr(self.segmenter, "calibrate", None)
        undecided = getattr(self.segmenter, "foreground_channel", 0) is None
        if calibrate and undecided and len(images) > 1:
            calibrate(images, consecutive=True)

    def _write_files(self, numbers: list[int], predictions: list[Any]) -> dict[str, dict]:
        """Write one batch's PNGs (background thread); returns its label columns."""
        columns: dict[str, dict[int, Any]] = defaultdict(dict)
        for number, prediction in zip(numbers, predictions):
            values = write_prediction(
                prediction, self.folder, self.options.labels, frame_number=number
            )
            for name, value in values.items():
                columns[name][number] = value
        return columns

    def _store_pending(self) -> None:
        """Wait for the pending batch's files, then store its labels and scores."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        columns = pending.result()  # a failed write raises here, before any label is stored
        for name, values in columns.items():
            self.collection.set_values(f"frames.{name}", {self.sample_id: values}, key_field="id")
        scores = columns.get(self.options.field("objectness"), {})
        self.scores.update(scores)
        self.summary.frames += len(scores)


def _finished_videos(collection, options, ids: Sequence[str]) -> set[str]:
    score, error = options.field("objectness"), options.field("error")
    if not collection.has_field(score):
        return set()
    all_ids, scores = collection.values(["id", score])
    errors = collection.values(error) if collection.has_field(error) else [None] * len(all_ids)
    wanted = set(ids)
    return {
        i for i, s, e in zip(all_ids, scores, errors) if i in wanted and s is not None and not e
    }


def _finished_frames(collection, options, sample_id: str) -> dict[int, float]:
    """``{frame_number: objectness}`` of this video's frames whose results are complete."""
    score, mask, heatmap = (options.field(n) for n in ("objectness", "mask", "heatmap"))
    if not all(collection.has_frame_field(f) for f in (score, mask, heatmap)):
        return {}
    fields = [
        "frames.frame_number",
        f"frames.{score}",
        f"frames.{mask}.mask_path",
        f"frames.{heatmap}.map_path",
    ]
    numbers, scores, masks, heatmaps = (v[0] for v in collection.select(sample_id).values(fields))
    return {
        n: s
        for n, s, m, h in zip(numbers, scores, masks, heatmaps)
        if s is not None and outputs_exist(m, h)
    }


def _expected_frames(path: str, stride: int) -> int:
    """Frames this run will see (for progress only); 0 when the container does not say."""
    try:
        count = probe_video(path).num_frames
    except MediaError:
        return 0  # the decode loop reports the error with its context
    return -(-count // stride) if count else 0
