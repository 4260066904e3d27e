"""Training checkpoints: atomic, resumable (weights, optimizer, scheduler, step, RNG, sampler
position), last N kept, ``last.pt`` always pointing at a complete file."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amd_plugin.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    checkpoint_payload,
    read_checkpoint,
)
from amd_plugin.io.atomic import temp_writer_pid

log = logging.getLogger(__name__)
LAST = "last.pt"
BEST = "best.pt"


def rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(out_dir: Path) -> int:
    """Delete the temp files of checkpoint writes whose process died.

    A process killed mid-write (SIGKILL, OOM, preemption) leaves a full-size temp file that
    nothing else would ever remove. The writer's pid is read from the temp name
    (:func:`amd_plugin.io.atomic.temp_writer_pid`). Returns how many were removed.
    """
    removed = 0
    for tmp in out_dir.glob(".*.pt.*.tmp"):
        pid = temp_writer_pid(tmp)
        if pid is None or pid == os.getpid() or _process_alive(pid):
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d temp file(s) left by interrupted checkpoint writes", removed)
    return removed


def save_training_checkpoint(
    out_dir: Path,
    model: torch.nn.Module,
    run_config: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    data_position: dict[str, int],
    foreground_channel: int | None,
    keep_last: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``ckpt_<step>.pt`` then ``last.pt`` (both atomically) and prune old ones.

    A failing write (full disk, permissions) raises with the path and leaves every
    previously written checkpoint untouched.
    """
    payload = checkpoint_payload(
        model,
        foreground_channel,
        run_config,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        step=step,
        data_position=data_position,
        rng=rng_state(),
        **(extra or {}),
    )
    path = out_dir / f"ckpt_{step:08d}.pt"
    remove_stale_temp_files(out_dir)
    try:
        atomic_torch_save(payload, path)
        atomic_torch_save(payload, out_dir / LAST)
    except OSError as err:
        raise CheckpointError(
            f"{path}: could not write checkpoint ({err.strerror or err}); the previous checkpoint is intact"
        ) from err
    if keep_last > 0:
        for old in sorted(out_dir.glob("ckpt_*.pt"))[:-keep_last]:
            old.unlink(missing_ok=True)
    return path


def save_best_checkpoint(
    out_dir: Path,
    model: torch.nn.Module,
    run_config: Any,
    foreground_channel: int | None,
    evaluation: dict[str, Any],
) -> Path:
    """Write ``best.pt`` atomically: the weights of the evaluation ``evaluation`` (its
    ``step``, ``iou`` … stored with them), without optimizer state. It is not a resume
    point; ``amd-segment --checkpoint``/``amd-eval`` load it like any checkpoint."""
    path = out_dir / BEST
    payload = checkpoint_payload(model, foreground_channel, run_config, best_evaluation=evaluation)
    try:
        atomic_torch_save(payload, path)
    except OSError as err:
        raise CheckpointError(
            f"{path}: could not write the best checkpoint ({err.strerror or err}); the previous one is intact"
        ) from err
    return path


def load_resume_state(out_dir: Path) -> dict[str, Any] | None:
    """The newest complete checkpoint of a run, or None. Falls back past unreadable files."""
    candidates = [out_dir / LAST, *sorted(out_dir.glob("ckpt_*.pt"), reverse=True)]
    for path in candidates:
        if not path.exists():
            continue
        try:
            state = read_checkpoint(path)
        except CheckpointError as err:
            log.warning("skipping unreadable checkpoint: %s", err)
            continue
        if "optimizer" in state and "step" in state:
            state["_path"] = str(path)
            return state
    return None


def newest_checkpoint_step(out_dir: str | Path) -> int | None:
    """Step of the newest ``ckpt_<step>.pt`` in ``out_dir`` (from its name), or None."""
    steps = [
        int(p.stem.removeprefix("ckpt_"))
        for p in Path(out_dir).glob("ckpt_*.pt")
        if p.stem.removeprefix("ckpt_").isdigit()
    ]
    return max(steps, default=None)
