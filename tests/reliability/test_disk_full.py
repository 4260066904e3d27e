"""A full disk while a training checkpoint is written.

The write fails part-way (``ENOSPC`` after half the bytes reached the temp file), or the
final rename fails. Promised: a ``CheckpointError`` that says why and names the file, no
temp file left behind, every previously written checkpoint byte-for-byte intact (and still
the one a resume picks up), and no pruning of old checkpoints after a failed save.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

import amd_plugin.checkpoint as ckpt_module
import amd_plugin.io.atomic as atomic_module
from amd_plugin import AMD, ModelConfig
from amd_plugin.checkpoint import CheckpointError, read_checkpoint
from amd_train.checkpointing import (
    LAST,
    load_resume_state,
    remove_stale_temp_files,
    save_training_checkpoint,
)
from amd_train.config import TrainConfig


class FillsUp:
    """A writable file that takes ``fraction`` of what it is given, then fails with ENOSPC."""

    def __init__(self, handle, fraction: float) -> None:
        self.handle, self.fraction = handle, fraction

    def write(self, data: bytes) -> int:
        self.handle.write(data[: int(len(data) * self.fraction)])
        self.handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


@pytest.fixture
def run(tmp_path):
    """A tiny model/optimizer/scheduler and a helper that checkpoints them at a step."""
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    out = tmp_path / "run"
    out.mkdir()

    def save(step: int, keep_last: int = 2) -> Path:
        with torch.no_grad():
            next(model.parameters()).add_(1.0)  # weights differ from step to step
        return save_training_checkpoint(
            out, model, TrainConfig(), optimizer, scheduler, step,
            {"epoch": 0, "batch_in_epoch": step}, 1, keep_last,
        )  # fmt: skip

    return out, save


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder (hidden temp files included) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def fail_writes(monkeypatch, names: tuple[str, ...] = (), fraction: float = 0.5) -> None:
    """Make the atomic writer's binary writes hit a full disk after ``fraction`` of the
    bytes, for the temp files of the checkpoints ``names`` (all when empty)."""
    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        name = Path(path).name
        writing = "w" in mode or "x" in mode
        if writing and (not names or any(name.startswith(f".{n}.") for n in names)):
            return FillsUp(handle, fraction)
        return handle

    monkeypatch.setattr(atomic_module, "open", fake_open, raising=False)


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_disk_full_while_writing_leaves_previous_checkpoints_intact(run, monkeypatch, fraction):
    out, save = run
    save(1)
    save(2)
    before = snapshot(out)
    assert sorted(before) == ["ckpt_00000001.pt", "ckpt_00000002.pt", LAST]
    fail_writes(monkeypatch, fraction=fraction)
    with pytest.raises(CheckpointError) as info:
        save(3)
    message = str(info.value)
    assert "ckpt_00000003.pt" in message
    assert "No space left on device" in message and "previous checkpoint is intact" in message
    assert snapshot(out) == before  # nothing new, nothing pruned, no temp file left
    monkeypatch.undo()
    state = load_resume_state(out)
    assert state is not None and state["step"] == 2 and Path(state["_path"]).name == LAST


def test_disk_full_on_last_pt_keeps_the_old_last_pt(run, monkeypatch):
    out, save = run
    save(1)
    old_last = (out / LAST).read_bytes()
    fail_writes(monkeypatch, names=(LAST,))
    with pytest.raises(CheckpointError, match="No space left on device"):
        save(2)
    monkeypatch.undo()
    assert (out / LAST).read_bytes() == old_last
    assert read_checkpoint(out / "ckpt_00000002.pt")["step"] == 2  # complete, just not linked
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    state = load_resume_state(out)
    assert state is not None and state["step"] == 1


def test_failed_rename_leaves_previous_checkpoint_intact(run, monkeypatch):
    out, save = run
    save(1)
    before = snapshot(out)

    def no_rename(src, dst):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(dst))

    monkeypatch.setattr(atomic_module.os, "replace", no_rename)
    with pytest.raises(CheckpointError, match="quota"):
        save(2)
    monkeypatch.undo()
    assert snapshot(out) == before


def test_training_reports_a_full_disk_and_resumes_afterwards(tmp_path, monkeypatch, capsys):
    """Through ``amd-train``: exit code 1, a one-line reason; the next run resumes."""
    from amd_train.cli.train import main

    calls = {"n": 0}
    real_write = ckpt_module.atomic_write_bytes

    def full_on_third(data, path):
        calls["n"] += 1
        if calls["n"] == 3:  # ckpt_00000002.pt: step 1 wrote ckpt + last.pt
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(data, path)

    monkeypatch.setattr(ckpt_module, "atomic_write_bytes", full_on_third)
    args = ["--quiet", "--config", "synthetic.yaml", "--out-dir", str(tmp_path / "run")]
    tiny = ["model.small_width=8", "model.motion_size=[64, 64]", "data.resize_short=64",
            "data.crop_size=[64, 64]", "data.synthetic.height=64", "data.synthetic.width=64",
            "data.synthetic.num_frames=4", "data.synthetic_videos_per_epoch=2",
            "data.num_workers=0", "run.batch_size=2", "run.threads=1", "run.preview_every=0",
            "run.tensorboard=false", "run.checkpoint_every=1", "run.max_steps=3",
            "eval.every_minutes=0", "eval.synthetic_videos=0"]  # fmt: skip
    sets = [x for item in tiny for x in ("--set", item)]
    assert main(args + sets) == 1
    err = capsys.readouterr().err
    assert "ckpt_00000002.pt" in err and "No space left on device" in err
    assert read_checkpoint(tmp_path / "run" / LAST)["step"] == 1
    monkeypatch.undo()
    assert main(args + sets) == 0
    assert read_checkpoint(tmp_path / "run" / LAST)["step"] == 3


def test_temp_files_of_killed_writers_are_removed_at_the_next_save(run):
    """A SIGKILL mid-write leaves a temp file (full size); the next save removes it, but
    never the temp file of a process that is still alive. Both temp name shapes count:
    ``.NAME.PID.tmp`` (older writers) and ``.NAME.UNIQUE.PID.tmp`` (the atomic writer's)."""
    import subprocess
    import sys

    out, save = run
    save(1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = out / f".ckpt_00000002.pt.{int(dead.stdout)}.tmp"
    stale.write_bytes(b"half a checkpoint")
    stale_new = out / f".ckpt_00000002.pt.0123456789ab.{int(dead.stdout)}.tmp"
    stale_new.write_bytes(b"half a checkpoint")
    alive = out / f".last.pt.{os.getppid()}.tmp"
    alive.write_bytes(b"being written")
    alive_new = atomic_module.temp_path(out / LAST)  # this very process: alive
    alive_new.write_bytes(b"being written")
    save(2)
    assert not stale.exists() and not stale_new.exists()
    assert alive.exists() and alive_new.exists()
    assert remove_stale_temp_files(out) == 0
