"""The operators through FiftyOne's own machinery: registry, execute_operator, delegation."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from fo_media import gt_path

pytestmark = pytest.mark.fiftyone

URI = "@amd/objectness"
OPERATORS = ("apply_amd", "filter_by_objectness", "evaluate_amd", "adapt_amd")


@pytest.fixture
def foo(fo):
    import fiftyone.operators as foo

    return foo


@pytest.fixture
def service(fo):
    from fiftyone.operators.delegated import DelegatedOperationService

    return DelegatedOperationService()


def _model_params(checkpoint, tmp_path):
    return {
        "checkpoint": str(checkpoint),
        "device": "cpu",
        "short_side": 48,
        "output_dir": str(tmp_path / "out"),
    }


def _run_queue(service, operator):
    """Run every queued operation of ``operator`` in this process; return their final docs."""
    results = service.execute_queued_operations(operator=f"{URI}/{operator}")
    return results


def test_plugin_and_operators_are_registered(fo, foo):
    import fiftyone.plugins as fop

    assert URI in [p.name for p in fop.list_plugins()]
    uris = {op.uri for op in foo.list_operators()}
    assert {f"{URI}/{name}" for name in OPERATORS} <= uris


def test_apply_immediate_via_call(fo, foo, image_dataset, checkpoint, tmp_path):
    operator = foo.get_operator(f"{URI}/apply_amd")
    result = operator(image_dataset, **_model_params(checkpoint, tmp_path), detections=True)
    assert result.error is None and not result.delegated
    assert None not in image_dataset.values("amd_objectness")
    assert all(Path(p).is_file() for p in image_dataset.values("amd_mask.mask_path"))
    assert image_dataset.has_field("amd_detections")


def test_apply_on_selected_samples_only(fo, foo, image_dataset, checkpoint, tmp_path):
    selected = image_dataset.values("id")[:2]
    result = foo.execute_operator(
        f"{URI}/apply_amd",
        {"dataset": image_dataset, "selected": selected},
        params={
            **_model_params(checkpoint, tmp_path),
            "view_target": "SELECTED_SAMPLES",
            "delegate": False,
        },
    )
    assert result.error is None
    done = [
        i
        for i, s in zip(image_dataset.values("id"), image_dataset.values("amd_objectness"))
        if s is not None
    ]
    assert done == selected


def test_apply_video_with_prefix(fo, foo, video_dataset, checkpoint, tmp_path):
    operator = foo.get_operator(f"{URI}/apply_amd")
    result = operator(
        video_dataset, **_model_params(checkpoint, tmp_path), label_prefix="seg", frame_stride=3
    )
    assert result.error is None
    assert video_dataset.values("frames.frame_number") == [[1, 4, 7]] * 2
    assert None not in video_dataset.values("seg_objectness")


def test_apply_delegated_with_progress(fo, foo, image_dataset, checkpoint, tmp_path, service):
    operator = foo.get_operator(f"{URI}/apply_amd")
    queued = operator(
        image_dataset, **_model_params(checkpoint, tmp_path), delegate=True, write_batch=2
    )
    assert queued.delegated and not image_dataset.has_field("amd_objectness")
    [run] = _run_queue(service, "apply_amd")
    assert run.error is None
    doc = service.get(queued.result["id"])
    assert doc.run_state == "completed"
    assert doc.status.progress == pytest.approx(1.0)
    assert None not in image_dataset.values("amd_objectness")


def test_large_views_default_to_delegation(
    fo, foo, image_dataset, checkpoint, tmp_path, service, monkeypatch
):
    from fiftyone_plugin.operators import forms

    monkeypatch.setattr(forms, "LARGE_IMAGE_VIEW", 3)
    result = foo.execute_operator(
        f"{URI}/apply_amd", {"dataset": image_dataset}, params=_model_params(checkpoint, tmp_path)
    )
    assert result.delegated
    service.delete_operation(result.result["id"])


def test_shards_queue_disjoint_runs(fo, foo, image_dataset, checkpoint, tmp_path, service):
    operator = foo.get_operator(f"{URI}/apply_amd")
    result = operator(image_dataset, **_model_params(checkpoint, tmp_path), shards=2)
    assert result.error is None and not result.delegated
    queued = service.get_queued_operations(
        operator=f"{URI}/apply_amd", dataset_name=image_dataset.name
    )
    assert sorted(op.context.params["shard_index"] for op in queued) == [0, 1]
    runs = _run_queue(service, "apply_amd")
    assert len(runs) == 2 and all(r.error is None for r in runs)
    assert None not in image_dataset.values("amd_objectness")


def test_filter_by_objectness(fo, foo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import ApplyOptions, apply_to_collection

    apply_to_collection(image_dataset, bright_segmenter, ApplyOptions(output_dir=tmp_path))
    scores = sorted(image_dataset.values("amd_objectness"), reverse=True)
    operator = foo.get_operator(f"{URI}/filter_by_objectness")
    result = operator(image_dataset, min_objectness=0.6, top_k=2, saved_view_name="objects")
    assert result.result == {"count": 2, "saved_view": "objects"}
    view = image_dataset.load_saved_view("objects")
    assert view.values("amd_objectness") == scores[:2]
    [request] = result.executor.to_json()["requests"]
    assert request["operator_uri"] == "set_view"
    everything = operator(image_dataset, min_objectness=None, sort="ascending")
    assert everything.result["count"] == len(image_dataset)


def test_filter_frames(fo, foo, video_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import ApplyOptions, apply_to_collection

    apply_to_collection(video_dataset, bright_segmenter, ApplyOptions(output_dir=tmp_path))
    first = video_dataset.first()
    first.frames[2]["amd_objectness"] = 0.1  # one poor frame
    first.save()
    operator = foo.get_operator(f"{URI}/filter_by_objectness")
    result = operator(
        video_dataset, level="frame", min_objectness=0.5, saved_view_name="good_frames"
    )
    assert result.result["count"] == 2
    assert video_dataset.load_saved_view("good_frames").count("frames") == 16 - 1


def test_evaluate_images(fo, foo, image_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import ApplyOptions, apply_to_collection

    for sample in image_dataset:
        sample["gt"] = fo.Segmentation(mask_path=str(gt_path(Path(sample.filepath))))
        sample.save()
    apply_to_collection(image_dataset, bright_segmenter, ApplyOptions(output_dir=tmp_path))
    result = foo.get_operator(f"{URI}/evaluate_amd")(image_dataset, gt_field="gt")
    assert result.error is None
    assert result.result["mean_iou"] == pytest.approx(1.0)
    assert "amd_eval" in image_dataset.list_evaluations()
    assert image_dataset.has_field("amd_eval_accuracy")
    worst_first = image_dataset.sort_by("amd_eval_iou").values("amd_eval_iou")
    assert worst_first == sorted(worst_first)


def test_evaluate_videos(fo, foo, video_dataset, bright_segmenter, tmp_path):
    from fiftyone_plugin.apply import ApplyOptions, apply_to_collection

    apply_to_collection(video_dataset, bright_segmenter, ApplyOptions(output_dir=tmp_path))
    # ground truth: the AMD masks themselves, except one frame that is empty
    for sample in video_dataset:
        for number, frame in sample.frames.items():
            mask = np.asarray(frame.amd_mask.get_mask()) * 255
            if number == 1:
                mask = np.zeros_like(mask)
            frame["gt"] = fo.Segmentation(mask=mask.astype(np.uint8))
        sample.save()
    result = foo.get_operator(f"{URI}/evaluate_amd")(video_dataset, gt_field="frames.gt")
    assert result.result["evaluated"] == 2
    assert result.result["mean_iou"] == pytest.approx(7 / 8)
    assert video_dataset.first().frames[1]["amd_eval_iou"] == 0.0


def test_adapt_without_training_package_fails_clearly(
    fo, foo, video_dataset, checkpoint, tmp_path, service, monkeypatch
):
    monkeypatch.setitem(sys.modules, "amd_train.tta", None)  # import fails, as when absent
    queued = foo.get_operator(f"{URI}/adapt_amd")(
        video_dataset, **_model_params(checkpoint, tmp_path)
    )
    assert queued.delegated
    [run] = _run_queue(service, "adapt_amd")
    assert "amd_train.tta.adapt" in run.error


def test_adapt_then_apply(fo, foo, video_dataset, checkpoint, tmp_path, service, monkeypatch):
    seen = []

    def fake_adapt(model, video, cfg):
        seen.append((Path(video).name, cfg.run.max_steps))
        return model

    monkeypatch.setitem(sys.modules, "amd_train.tta", types.SimpleNamespace(adapt=fake_adapt))
    foo.get_operator(f"{URI}/adapt_amd")(
        video_dataset, **_model_params(checkpoint, tmp_path), steps=3
    )
    [run] = _run_queue(service, "adapt_amd")
    assert run.error is None, run.error
    assert sorted(seen) == [("video0.mp4", 3), ("video1.mp4", 3)]
    assert None not in video_dataset.values("amd_tta_objectness")
    assert video_dataset.count("frames.amd_tta_mask") == 16


@pytest.mark.parametrize("name", OPERATORS)
def test_forms_resolve_for_images_and_videos(fo, foo, image_dataset, video_dataset, name):
    import asyncio

    from fiftyone.operators.executor import resolve_type

    registry = foo.OperatorRegistry()
    for dataset in (image_dataset, video_dataset):
        request = {"dataset_name": dataset.name, "params": {}, "target": "inputs"}
        form = asyncio.run(resolve_type(registry, f"{URI}/{name}", request))
        fields = set(form.to_json()["type"]["properties"])
        if name == "apply_amd":
            assert {"checkpoint", "backend", "label_prefix", "existing", "shards"} <= fields
            assert ("frame_stride" in fields) == (dataset.media_type == "video")
        if name == "adapt_amd":
            assert ("checkpoint" in fields) == (dataset.media_type == "video")


def test_short_side_param_defaults_to_the_checkpoints_size(fo):
    from fiftyone_plugin.params import DEFAULTS, segmenter_kwargs

    assert DEFAULTS["checkpoint"] == "real-small"
    assert segmenter_kwargs({})["short_side"] == "auto"  # Segmenter reads the checkpoint's
    assert segmenter_kwargs({"short_side": None})["short_side"] == "auto"  # an empty form field
    assert segmenter_kwargs({"short_side": 0})["short_side"] is None  # keep the input size
    assert segmenter_kwargs({"short_side": "64"})["short_side"] == 64
