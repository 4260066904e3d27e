"""The learning-rate schedule: poly decay counted in steps, or in minutes of a time budget."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
import torch
from test_emergence import SMALL_WORLD

from amd_plugin import AMD
from amd_plugin.config import ConfigError
from amd_train.checkpointing import load_resume_state
from amd_train.config import load_train_config
from amd_train.schedule import TrainingClock, poly_lambda, run_progress
from amd_train.trainer import param_groups, train

BY_MINUTES = ("optim.decay_over=minutes", "optim.warmup_steps=0", "run.max_steps=1000")


def expected_factor(cfg, progress: float) -> float:
    o = cfg.optim
    return ((o.lr - o.min_lr) * (1 - progress) ** o.poly_power + o.min_lr) / o.lr


def test_minutes_decay_follows_the_shared_clock():
    cfg = load_train_config("synthetic.yaml", [*BY_MINUTES, "run.max_minutes=10"])
    clock = TrainingClock()
    factor = poly_lambda(cfg, clock)
    assert factor(10) == pytest.approx(expected_factor(cfg, 10 / 1000))  # steps lead
    clock.resume_at(5.0)  # half the time budget, 1% of the steps
    assert factor(10) == pytest.approx(expected_factor(cfg, 0.5))
    clock.resume_at(12.0)  # past the budget: the floor, not a negative base
    assert factor(10) == pytest.approx(cfg.optim.min_lr / cfg.optim.lr)


def test_steps_decay_ignores_the_clock():
    overrides = ["optim.decay_over=steps", "optim.warmup_steps=0", "run.max_steps=1000"]
    cfg = load_train_config("synthetic.yaml", overrides)
    clock = TrainingClock()
    clock.resume_at(1e6)
    assert poly_lambda(cfg, clock)(10) == pytest.approx(expected_factor(cfg, 10 / 1000))


def test_minutes_decay_without_a_time_budget_counts_steps():
    cfg = load_train_config("synthetic.yaml", [*BY_MINUTES, "run.max_minutes=0"])
    clock = TrainingClock()
    clock.resume_at(60.0)
    assert poly_lambda(cfg, clock)(10) == pytest.approx(expected_factor(cfg, 10 / 1000))


def test_run_progress_is_the_further_along_of_steps_and_minutes():
    cfg = load_train_config("synthetic.yaml", ["run.max_minutes=15", "run.max_steps=5000"])
    assert run_progress(1000, 7.5, cfg) == pytest.approx(0.5)  # the minutes lead
    assert run_progress(4000, 7.5, cfg) == pytest.approx(0.8)  # the steps lead
    assert run_progress(5000, 12.4, cfg) == 1.0  # the step cap ends the run: a full bar
    assert run_progress(10, 20.0, cfg) == 1.0
    stopped = load_train_config("synthetic.yaml", ["run.max_minutes=0", "run.stop_at_step=100"])
    assert run_progress(50, 99.0, stopped) == pytest.approx(0.5)  # no budget: steps only


def test_unknown_decay_clock_is_refused():
    with pytest.raises((ConfigError, ValueError), match="decay_over"):
        load_train_config("synthetic.yaml", ["optim.decay_over=hours"])


def test_a_run_out_of_time_ends_at_the_floor_lr(tmp_path):
    """Stopped by its 15-second budget long before its 1000 steps, the run's lr fell step by
    step to the floor at its last step, and the checkpoint carries the minutes on."""
    out = tmp_path / "run"
    overrides = [*SMALL_WORLD, *BY_MINUTES, f"run.out_dir={out}", "run.max_minutes=0.25",
                 "run.batch_size=2", "eval.synthetic_videos=0"]  # fmt: skip
    cfg = load_train_config("synthetic.yaml", overrides)
    state = train(cfg, show_progress=False)
    assert 0 < state.step < 1000
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in records if r["kind"] == "train"]
    assert len(lrs) >= 2 and lrs[0] > 10 * cfg.optim.min_lr  # not at the floor from the start
    assert all(a > b for a, b in pairwise(lrs))
    assert lrs[-1] == pytest.approx(cfg.optim.min_lr)
    assert load_resume_state(out)["minutes"] >= 0.25


def test_the_default_motion_pathway_follows_the_schedule_at_its_own_scale():
    cfg = load_train_config("synthetic.yaml", ["optim.decay_over=steps", "model.small_width=8"])
    assert cfg.optim.motion_lr_scale == 0.25  # the emergence default (benchmarks/README.md)
    model = AMD(cfg.model)
    optimizer = torch.optim.Adam(param_groups(model, cfg))
    factor = poly_lambda(cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    for step in range(150):  # the warmup (100 steps) and the start of the decay
        appearance, motion = scheduler.get_last_lr()
        assert motion == pytest.approx(0.25 * appearance)
        assert appearance == pytest.approx(cfg.optim.lr * factor(step))
        optimizer.step()
        scheduler.step()
