"""``best.pt``: the weights of a run's best held-out evaluation, kept besides the last ones."""

from __future__ import annotations

import pytest
import torch

import amd_train.trainer as trainer_module
from amd_plugin import load_model
from amd_train.config import load_train_config
from amd_train.heldout import HeldOutEvaluator
from amd_train.testing import TINY_TRAINING
from amd_train.trainer import train


def tiny_run(tmp_path, *extra: str):
    overrides = [*TINY_TRAINING, f"run.out_dir={tmp_path / 'run'}", "run.max_minutes=0",
                 "run.max_steps=6", "run.batch_size=2",
                 "data.synthetic.height=64", "data.synthetic.width=64",
                 "eval.synthetic_videos=1", "eval.frames_per_video=3",
                 "eval.every_steps=1", "eval.every_minutes=0", *extra]  # fmt: skip
    return load_train_config("synthetic.yaml", overrides)


def test_best_checkpoint_holds_the_best_evaluation_and_is_written_only_on_improvement(
    tmp_path, monkeypatch
):
    written = []
    save = trainer_module.save_best_checkpoint

    def recording_save(out_dir, model, run_config, channel, evaluation):
        written.append(evaluation["iou"])
        return save(out_dir, model, run_config, channel, evaluation)

    monkeypatch.setattr(trainer_module, "save_best_checkpoint", recording_save)
    cfg = tiny_run(tmp_path)
    state = train(cfg, show_progress=False)
    ious = [h["iou"] for h in state.history]
    assert len(ious) == 6
    # one write per new maximum of the curve, each better than the one before
    maxima = [iou for n, iou in enumerate(ious) if iou > max(ious[:n], default=-1.0)]
    assert written == maxima

    best = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert "optimizer" not in best  # weights only: not a resume point
    assert best["best_evaluation"]["iou"] == pytest.approx(max(ious))
    assert best["best_evaluation"]["step"] == state.history[ious.index(max(ious))]["step"]
    # the stored weights are the evaluated ones: scoring them again gives the same IoU
    loaded = load_model(tmp_path / "run" / "best.pt")
    again = HeldOutEvaluator(cfg).run(loaded.model)
    assert again["iou"] == pytest.approx(max(ious), abs=1e-6)


def test_keep_best_off_writes_no_best_checkpoint(tmp_path):
    train(tiny_run(tmp_path, "run.keep_best=false", "run.max_steps=2"), show_progress=False)
    assert (tmp_path / "run" / "last.pt").exists()
    assert not (tmp_path / "run" / "best.pt").exists()
