"""Test-time adaptation: keep training with the same unsupervised objective on the frames of
the one video being segmented, then segment it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np

from amd_plugin.checkpoint import load_model, save_checkpoint
from amd_plugin.config import apply_overrides
from amd_plugin.io.video import iter_frames
from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.amd import AMD
from amd_train.config import TrainConfig, load_train_config
from amd_train.evaluate import label_free_channel
from amd_train.trainer import train


def adapt_config(
    video: str | Path,
    out_dir: str | Path,
    checkpoint: str | None,
    config: str = "tta.yaml",
    overrides: list[str] | tuple[str, ...] = (),
    model_cfg: ModelConfig | None = None,
) -> TrainConfig:
    """The TTA run: ``tta.yaml`` on one video, starting from ``checkpoint`` (None = random)."""
    cfg = load_train_config(config)
    if checkpoint:
        model_cfg = load_model(checkpoint).model.cfg
    if model_cfg is not None:
        cfg = dataclasses.replace(
            cfg, model=dataclasses.replace(model_cfg, motion_size=cfg.model.motion_size)
        )
    base = [
        f"data.root={Path(video)}",
        f"run.out_dir={Path(out_dir)}",
        f"run.init_from={checkpoint or ''}",
    ]
    return apply_overrides(cfg, base + list(overrides))


def read_video_frames(video: str | Path, max_frames: int = 0, stride: int = 1) -> list[np.ndarray]:
    frames = iter_frames(video, stride)
    return [f for _, f in (itertools.islice(frames, max_frames) if max_frames else frames)]


def run_adaptation(cfg: TrainConfig, show_progress: bool = True):
    """Train on the one video, then choose the foreground channel from its frames (no labels).

    Returns ``(model, channel, losses, steps)``: ``losses`` the logged ``(step, loss)`` pairs,
    ``steps`` the iterations actually run (a time budget can end the run before
    ``run.max_steps``); the adapted checkpoint is ``run.out_dir/last.pt``.
    """
    state = train(cfg, show_progress=show_progress)
    last = Path(cfg.run.out_dir) / "last.pt"
    loaded = load_model(last)
    frames = read_video_frames(cfg.data.root, max_frames=24, stride=2)
    short = min(cfg.data.crop_size)
    channel = label_free_channel(loaded.model, frames, short_side=short)
    losses = [
        json.loads(line)
        for line in (Path(cfg.run.out_dir) / "metrics.jsonl").read_text().splitlines()
    ]
    losses = [(r["step"], r["loss"]) for r in losses if r.get("kind") == "train"]
    return loaded.model, channel, losses, state.step


def adapt(
    model: AMD, video: str | Path, cfg: TrainConfig, out_dir: str | Path | None = None
) -> AMD:
    """Adapt ``model`` to one video with ``cfg``'s objective and schedule; returns a new model.

    ``cfg`` is e.g. ``load_train_config("tta.yaml")``; its data root, output folder and
    initial weights are filled in here (the model's own architecture is kept).
    """
    with tempfile.TemporaryDirectory(prefix="amd-tta-") as tmp:
        init = save_checkpoint(model, Path(tmp) / "init.pt")
        run_dir = Path(out_dir) if out_dir is not None else Path(tmp) / "run"
        arch = dataclasses.replace(model.cfg, motion_size=cfg.model.motion_size)
        cfg = dataclasses.replace(cfg, model=arch)
        cfg = apply_overrides(
            cfg,
            [
                f"data.root={Path(video)}",
                f"run.out_dir={run_dir}",
                f"run.init_from={init}",
                "run.resume=false",
            ],
        )
        train(cfg, show_progress=False)
        return load_model(run_dir / "last.pt").model
