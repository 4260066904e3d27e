"""apply_to_collection against a real (private) mongod: fields, files, resume semantics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fo_media import BRIGHTNESS
from PIL import Image

pytestmark = pytest.mark.fiftyone


def _options(tmp_path, **kwargs):
    from fiftyone_plugin.apply import ApplyOptions

    return ApplyOptions(output_dir=tmp_path / "masks", **kwargs)


def test_images_with_the_real_model(fo, image_dataset, checkpoint, tmp_path):
    from amd_plugin import Segmenter
    from fiftyone_plugin.apply import apply_to_collection

    segmenter = Segmenter(str(checkpoint), device="cpu", short_side=48)
    summary = apply_to_collection(image_dataset, segmenter, _options(tmp_path))
    assert len(summary.processed) == len(image_dataset) and not summary.failed
    assert summary.backend == "torch"  # which backend ran is reported
    for sample in image_dataset:
        mask = np.asarray(Image.open(sample.amd_mask.mask_path))
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        assert mask.shape == (Image.open(sample.filepath).height, Image.open(sample.filepath).width)
        heatmap = Image.open(sample.amd_heatmap.map_path)
        assert heatmap.mode.startswith("I") and list(sample.amd_heatmap.range) == [0, 65535]
        assert 0.0 <= sample.amd_objectness <= 1.0
        # deterministic location: <out>/<sample id>/mask.png
        assert Path(sample.amd_mask.mask_path) == tmp_path / "masks" / sample.id / "mask.png"
    assert image_dataset.mask_targets["amd_mask"] == {1: "object"}
    assert not list((tmp_path / "masks").rglob("*.tmp"))


def test_objectness_detections_and_filtering(fo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone import ViewField as F

    from fiftyone_plugin.apply import apply_to_collection

    apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path, detections=True))
    scores = image_dataset.values("amd_objectness")
    assert scores[0] == 0.0  # no object
    assert scores[1:] == sorted(scores[1:]) and scores[-1] > 0.8  # brighter square, higher score
    best = image_dataset.sort_by("amd_objectness", reverse=True).first()
    assert best.filepath.endswith(f"image{len(BRIGHTNESS) - 1}.png")
    assert len(image_dataset.match(F("amd_objectness") > 0.5)) == sum(s > 0.5 for s in scores)
    sample = image_dataset.last()
    [box] = sample.amd_detections.detections
    _x, _y, w, h = box.bounding_box
    assert np.allclose([w, h], [12 / 64, 12 / 48]) and 0.9 < box.confidence <= 1.0
    assert not image_dataset.first().amd_detections.detections


def test_bad_media_recorded_and_run_continues(fo, image_dataset, media, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import apply_to_collection

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    missing = tmp_path / "missing.jpg"
    image_dataset.add_samples([fo.Sample(filepath=str(corrupt)), fo.Sample(filepath=str(missing))])
    summary = apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path))
    assert len(summary.processed) == len(media["images"]) and len(summary.failed) == 2
    errors = dict(zip(image_dataset.values("filepath"), image_dataset.values("amd_error")))
    assert "corrupt.png" in errors[str(corrupt)] and "missing.jpg" in errors[str(missing)]
    assert errors[str(media["images"][0])] is None
    # the failed ones are retried (and still fail) by the next run; the rest are skipped
    again = apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path))
    assert len(again.skipped) == len(media["images"]) and len(again.failed) == 2


def test_skip_overwrite_and_refuse(fo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import ExistingResultsError, apply_to_collection

    first = apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path))
    n = len(image_dataset)
    assert len(first.processed) == n
    skipped = apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path))
    assert skipped.processed == [] and len(skipped.skipped) == n
    # a deleted file makes that sample incomplete again
    victim = image_dataset.first()
    Path(victim.amd_heatmap.map_path).unlink()
    redo = apply_to_collection(image_dataset, bright_segmenter, _options(tmp_path))
    assert redo.processed == [victim.id]
    overwritten = apply_to_collection(
        image_dataset, bright_segmenter, _options(tmp_path, overwrite=True)
    )
    assert len(overwritten.processed) == n
    with pytest.raises(ExistingResultsError, match="skip_existing"):
        apply_to_collection(
            image_dataset, bright_segmenter, _options(tmp_path, skip_existing=False)
        )


def test_interrupted_image_run_resumes(fo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import apply_to_collection

    class Interrupt(Exception):
        pass

    def stop_after_two(event):
        if event.samples_done >= 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        apply_to_collection(
            image_dataset, bright_segmenter, _options(tmp_path, write_batch=2), stop_after_two
        )
    done = [
        i
        for i, s in zip(image_dataset.values("id"), image_dataset.values("amd_objectness"))
        if s is not None
    ]
    assert len(done) == 4
    missing = set(image_dataset.values("id")) - set(done)
    resumed = apply_to_collection(
        image_dataset, bright_segmenter, _options(tmp_path, write_batch=2)
    )
    assert set(resumed.processed) == missing and set(resumed.skipped) == set(done)
    assert None not in image_dataset.values("amd_objectness")


def test_videos_frames_from_one_with_stride(fo, video_dataset, bright_segmenter, tmp_path):
    from fiftyone import ViewField as F

    from fiftyone_plugin.apply import apply_to_collection
    from fiftyone_plugin.labels import video_objectness

    summary = apply_to_collection(
        video_dataset, bright_segmenter, _options(tmp_path, frame_stride=2, write_batch=3)
    )
    assert summary.frames == 8 and len(summary.processed) == 2
    assert video_dataset.values("frames.frame_number") == [[1, 3, 5, 7], [1, 3, 5, 7]]
    for sample in video_dataset:
        scores = [frame.amd_objectness for frame in sample.frames.values()]
        assert sample.amd_objectness == pytest.approx(video_objectness(scores))
        assert 0.5 < sample.amd_objectness <= 1.0
        frame = sample.frames[3]
        assert Path(frame.amd_mask.mask_path) == tmp_path / "masks" / sample.id / "000003_mask.png"
        mask = np.asarray(Image.open(frame.amd_mask.mask_path))
        assert set(np.unique(mask)) == {0, 1}
    assert video_dataset.mask_targets["frames.amd_mask"] == {1: "object"}
    # the same expression filters videos (aggregate) and frames
    assert len(video_dataset.match(F("amd_objectness") > 0.5)) == 2
    assert video_dataset.match_frames(F("amd_objectness") > 0.5).count("frames") == 8
    assert len(video_dataset.sort_by("amd_objectness")) == 2


def test_undecided_segmenter_chooses_its_channel_from_consecutive_frames(
    fo, video_dataset, tmp_path
):
    """A segmenter with no channel yet ("auto", none stored) calibrates once, on the first
    batch's frames marked consecutive, so their motion counts; then keeps its channel."""
    from fo_media import BrightSegmenter

    from fiftyone_plugin.apply import apply_to_collection

    class Undecided(BrightSegmenter):
        foreground_channel = None

        def __init__(self) -> None:
            super().__init__()
            self.calibrations: list[tuple[int, bool]] = []

        def calibrate(self, frames, consecutive=False):
            self.calibrations.append((len(frames), consecutive))
            self.foreground_channel = 1
            return 1

    segmenter = Undecided()
    apply_to_collection(video_dataset, segmenter, _options(tmp_path, write_batch=3))
    assert segmenter.calibrations == [(3, True)]
    assert segmenter.images_seen == 16  # both videos, every frame


def test_interrupted_video_resumes_missing_frames(fo, video_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import apply_to_collection

    class Interrupt(Exception):
        pass

    def stop_first_batch(event):
        raise Interrupt

    with pytest.raises(Interrupt):
        apply_to_collection(
            video_dataset, bright_segmenter, _options(tmp_path, write_batch=3), stop_first_batch
        )
    first = video_dataset.first()
    assert not video_dataset.has_field("amd_objectness")  # the video is unfinished ...
    assert sorted(first.frames) == [1, 2, 3]  # ... but its first batch is stored
    resumed = apply_to_collection(
        video_dataset, bright_segmenter, _options(tmp_path, write_batch=3)
    )
    assert resumed.frames == 16 - 3
    assert all(s is not None for s in video_dataset.values("amd_objectness"))
    assert video_dataset.values("frames.frame_number") == [list(range(1, 9))] * 2


def test_missing_and_corrupt_videos_are_recorded(fo, video_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import apply_to_collection

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    video_dataset.add_samples(
        [fo.Sample(filepath=str(tmp_path / "gone.mp4")), fo.Sample(filepath=str(corrupt))]
    )
    summary = apply_to_collection(video_dataset, bright_segmenter, _options(tmp_path))
    assert len(summary.processed) == 2 and len(summary.failed) == 2
    errors = video_dataset.values("amd_error")
    assert "gone.mp4" in errors[2] and "corrupt.mp4" in errors[3]
    assert errors[:2] == [None, None]


def test_shards_are_disjoint_and_complete(fo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import apply_to_collection, shard_of

    ids = image_dataset.values("id")
    assert {shard_of(i, 3) for i in ids} <= {0, 1, 2}
    parts = [
        apply_to_collection(
            image_dataset, bright_segmenter, _options(tmp_path, shard_index=k, num_shards=2)
        )
        for k in range(2)
    ]
    first, second = (set(p.processed) for p in parts)
    assert not first & second and first | second == set(ids)
