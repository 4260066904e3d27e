"""The EMA of the weights: its arithmetic, what a run evaluates and saves, and config errors."""

from __future__ import annotations

import pytest
import torch

from amd_plugin import load_model
from amd_train.config import load_train_config
from amd_train.testing import TINY_TRAINING
from amd_train.trainer import train
from amd_train.weight_average import WeightAverage


def test_average_follows_the_ema_formula_with_its_warmup():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    expected = model[0].weight.detach().clone()
    for n in range(5):
        with torch.no_grad():
            model[0].weight.add_(1.0)
            model[1].num_batches_tracked += 1
        average.update(model)
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * model[0].weight.detach()
    torch.testing.assert_close(average.model[0].weight, expected)
    # integer buffers are copied, not averaged
    assert int(average.model[1].num_batches_tracked) == 5
    assert not any(p.requires_grad for p in average.model.parameters())
    # the trained model is untouched by the average
    assert model[0].weight.requires_grad


def test_run_evaluates_and_saves_the_average_and_keeps_the_raw_weights(tmp_path):
    overrides = [*TINY_TRAINING, f"run.out_dir={tmp_path / 'run'}", "run.max_minutes=0",
                 "run.max_steps=4", "run.batch_size=2", "optim.ema_decay=0.5",
                 "data.synthetic.height=64", "data.synthetic.width=64",
                 "eval.synthetic_videos=1", "eval.frames_per_video=3",
                 "eval.every_steps=2", "eval.every_minutes=0"]  # fmt: skip
    state = train(load_train_config("synthetic.yaml", overrides), show_progress=False)
    assert [r["step"] for r in state.history] == [2, 4]
    assert all("raw_iou" in r and 0.0 <= r["raw_iou"] <= 1.0 for r in state.history)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert ckpt["weight_average"]["updates"] == 4
    averaged, raw = ckpt["state_dict"], ckpt["train_state_dict"]
    assert averaged.keys() == raw.keys()
    name = "appearance.head.conv_seg.weight"
    assert not torch.equal(averaged[name], raw[name])
    # inference loads the averaged weights
    loaded = load_model(tmp_path / "run" / "last.pt").model.state_dict()
    assert torch.equal(loaded[name], averaged[name])


def test_ema_decay_outside_its_range_is_a_config_error():
    with pytest.raises(ValueError, match=r"optim\.ema_decay"):
        load_train_config("synthetic.yaml", ["optim.ema_decay=1.0"])
