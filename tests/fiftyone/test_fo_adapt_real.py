"""``adapt_amd`` for real: ``amd_train.tta.adapt`` fine-tunes on one tiny video, then segments."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.fiftyone

URI = "@amd/objectness/adapt_amd"
# everything at 64×64 and two steps, so a CPU run takes seconds
OVERRIDES = [
    "data.resize_short=64",
    "data.crop_size=[64, 64]",
    "model.motion_size=[64, 64]",
    "data.num_workers=0",
    "run.max_steps=2",
    "run.batch_size=2",
    "run.threads=1",  # on a busy CPU, more threads only contend
]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A random small-backbone model of width 8 (foreground channel 1)."""
    import torch

    from amd_plugin import AMD, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64)))
    path = tmp_path_factory.mktemp("tta_ckpt") / "tiny.pt"
    return save_checkpoint(model, path, foreground_channel=1)


def test_tta_config_passes_overrides_through(fo):
    from fiftyone_plugin.adapt import tta_config

    cfg = tta_config(None, None, OVERRIDES)
    assert cfg.run.max_steps == 2 and cfg.run.batch_size == 2
    assert cfg.data.crop_size == (64, 64) and tuple(cfg.model.motion_size) == (64, 64)
    assert tta_config(5, 1e-3, OVERRIDES).run.max_steps == 2  # explicit overrides win
    # one string (an App text box): one override per line; None: none
    assert tta_config(None, None, "\n".join(OVERRIDES)) == cfg
    assert tta_config(7, None, None).run.max_steps == 7


def test_adapt_one_video_for_real(fo, video_dataset, tiny_checkpoint, tmp_path):
    import fiftyone.operators as foo
    import torch
    from fiftyone.operators.delegated import DelegatedOperationService

    one = video_dataset.limit(1)
    queued = foo.get_operator(URI)(
        one,
        checkpoint=str(tiny_checkpoint),
        device="cpu",
        short_side=48,
        output_dir=str(tmp_path / "out"),
        overrides=OVERRIDES,
    )
    assert queued.delegated
    service = DelegatedOperationService()
    threads = torch.get_num_threads()
    [run] = service.execute_queued_operations(operator=URI)
    assert torch.get_num_threads() == threads  # run.threads=1 did not leak into the worker
    assert run.error is None, run.error
    assert run.result["videos"] == 1 and run.result["failed"] == {}
    assert run.result["frames"] == 8
    video_dataset.reload()
    sample = video_dataset.first()
    assert 0.0 <= sample["amd_tta_objectness"] <= 1.0
    assert video_dataset.count("frames.amd_tta_mask") == 8
    assert video_dataset.last()["amd_tta_objectness"] is None  # outside the target view
