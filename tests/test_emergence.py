"""Emergence on the default synthetic world: a run with a step budget, its live curve, and a
slow regression run that must segment held-out videos well above the no-model guess."""

from __future__ import annotations

import json

import pytest

from amd_train.config import load_train_config
from amd_train.schedule import poly_lambda
from amd_train.trainer import train

# the default world at 64×64, so that a few steps take seconds
SMALL_WORLD = (
    "data.synthetic.height=64",
    "data.synthetic.width=64",
    "data.resize_short=64",
    "data.crop_size=[64, 64]",
    "model.motion_size=[64, 64]",
    "model.small_width=8",
    "data.num_workers=0",
    "run.threads=1",
    "run.preview_every=0",
    "run.tensorboard=false",
    "run.log_every=1",
)


def test_stop_at_step_ends_the_run_without_changing_the_schedule(tmp_path):
    overrides = [*SMALL_WORLD, f"run.out_dir={tmp_path / 'run'}", "run.max_minutes=0",
                 "run.max_steps=1000", "run.stop_at_step=3", "run.batch_size=2",
                 "eval.synthetic_videos=1", "eval.frames_per_video=3",
                 "eval.every_steps=2", "eval.every_minutes=0"]  # fmt: skip
    cfg = load_train_config("synthetic.yaml", overrides)
    state = train(cfg, show_progress=False)
    assert state.step == 3
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in records if r["kind"] == "train"]
    # the lr follows the 1000-step schedule, not one that ends at step 3
    factor = poly_lambda(cfg)(3)
    assert lrs[-1] == pytest.approx(cfg.optim.lr * factor, rel=1e-6)
    three_steps = load_train_config("synthetic.yaml", [*overrides, "run.max_steps=3"])
    assert poly_lambda(three_steps)(3) < 0.5 * factor
    # evaluations at step 2 and at the end; the curve is drawn after each
    assert [r["step"] for r in records if r["kind"] == "eval"] == [2, 3]
    assert (tmp_path / "run" / "emergence.png").stat().st_size > 0


# Steps of the regression run and the factor over the no-model guess it must reach. A broken
# loss, warp, data pipeline or channel choice leaves the IoU at or below the guess (0.05–0.12
# in runs that did not emerge). Measured with the default config (batch 4, motion 64×64,
# weight average, two segments, frame gap 1, quarter-scale logits, centred stride-2 convs;
# the turn term starts after these steps), seed 0: this test's own run 0.629 at 600 steps
# (guess 0.219), 3.3 minutes on an idle 2-core Zen 4; with 3×3 stride-2 convs 0.712;
# 1/8-scale logits 0.692 (1.5 minutes on a fast 2-core CPU); with frame gaps 1–3 0.654;
# with the earlier five segments 0.669, 21 minutes on a slow 2-core CPU shared with another
# test run.
REGRESSION_STEPS = 600
REGRESSION_FACTOR = 2.0


@pytest.mark.slow
def test_default_world_emerges_within_a_fixed_number_of_steps(tmp_path):
    overrides = [f"run.out_dir={tmp_path / 'run'}", "run.max_minutes=0",
                 f"run.stop_at_step={REGRESSION_STEPS}", "run.preview_every=0",
                 "run.tensorboard=false", "run.seed=0", "data.num_workers=0",
                 f"eval.every_steps={REGRESSION_STEPS}", "eval.every_minutes=0"]  # fmt: skip
    state = train(load_train_config("synthetic.yaml", overrides), show_progress=False)
    final = state.history[-1]
    assert final["step"] == REGRESSION_STEPS
    print(
        f"held-out IoU {final['iou']:.3f} at {final['step']} steps (guess {final['chance_iou']:.3f})"
    )
    assert final["iou"] >= REGRESSION_FACTOR * final["chance_iou"], final
