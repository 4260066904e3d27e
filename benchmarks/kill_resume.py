"""Training survives SIGKILL: N random kills, resumed each time, end on the same weights.

1. A tiny deterministic CPU training (frame folders of 3 synthetic videos, 64×64) runs
   uninterrupted: the reference.
2. The same run in another folder is started, and once it has written a new checkpoint it
   is killed with SIGKILL after a random delay (uniform in 0 … 1.5 checkpoint intervals of
   the reference, so kills land in training steps and in checkpoint writes alike); then it
   is restarted (it resumes from ``last.pt``) and killed again, N times, and finally run
   to the end.
3. A watcher thread loads every checkpoint file (``ckpt_*.pt``, ``last.pt``) each time one
   appears or changes while the runs go on, and all of them again after every kill: a file
   that exists but does not load is *corrupt* (a file pruned between listing and loading is
   not).

Prints the number of kills, corrupt checkpoints (must be 0), temp files that kills left
behind, and whether the final weights equal the reference bit for bit. Exit code 0 when
they do and nothing was corrupt.

    nice -n 19 python benchmarks/kill_resume.py --kills 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from amd_plugin.checkpoint import CheckpointError, read_checkpoint
from amd_train.synthetic import SyntheticConfig, write_dataset
from amd_train.testing import TINY_TRAINING

TINY = [
    *TINY_TRAINING,
    "run.batch_size=2",
    "run.deterministic=true",
    "eval.every_minutes=0",
    "eval.synthetic_videos=0",
]


@dataclass
class Report:
    kills: int = 0
    kills_requested: int = 0
    finished_before_kill: int = 0
    killed_at_steps: list[int] = field(default_factory=list)
    checkpoint_loads: int = 0
    corrupt: list[str] = field(default_factory=list)
    stale_temp_files: int = 0
    final_step: int = 0
    reference_step: int = 0
    tensors_compared: int = 0
    tensors_different: list[str] = field(default_factory=list)
    reference_seconds: float = 0.0
    killed_run_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.corrupt
            and not self.tensors_different
            and self.tensors_compared > 0
            and self.final_step == self.reference_step
        )


class Watcher(threading.Thread):
    """Loads every checkpoint file of ``folder`` whenever it appears or changes."""

    def __init__(self, folder: Path, report: Report) -> None:
        super().__init__(daemon=True)
        self.folder, self.report = folder, report
        self.seen: dict[str, tuple[int, int]] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if p.suffix == ".pt" and p.name[0] != "."]

    def check(self, path: Path, force: bool = False) -> None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        key = (st.st_mtime_ns, st.st_size)
        if not force and self.seen.get(path.name) == key:
            return
        try:
            read_checkpoint(path)
        except CheckpointError as err:
            try:
                after = path.stat()
            except FileNotFoundError:
                return  # pruned while we read it: not corruption
            if (after.st_mtime_ns, after.st_size) != key:
                return  # replaced while we read it (we opened the old, unlinked one)
            with self.lock:
                self.report.corrupt.append(f"{path.name}: {err}")
            return
        with self.lock:
            self.seen[path.name] = key
            self.report.checkpoint_loads += 1

    def check_all(self, force: bool = False) -> None:
        for path in self.files():
            self.check(path, force)

    def run(self) -> None:
        while not self.stop.is_set():
            self.check_all()
            time.sleep(0.05)


def train_command(data: Path, out: Path, steps: int, every: int, keep: int = 2) -> list[str]:
    overrides = [f"data.root={data}", *TINY, f"run.max_steps={steps}",
                 f"run.checkpoint_every={every}", f"run.keep_last={keep}"]  # fmt: skip
    sets = [x for item in overrides for x in ("--set", item)]
    return [sys.executable, "-m", "amd_train.cli.train", "--quiet", "--config",
            "synthetic.yaml", "--out-dir", str(out), *sets]  # fmt: skip


def newest_step(out: Path) -> int:
    steps = [int(p.stem.split("_")[1]) for p in out.glob("ckpt_*.pt")]
    return max(steps, default=0)


def run_to_end(cmd: list[str], log: Path) -> None:
    with log.open("ab") as handle:
        result = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, timeout=1800)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"training failed (exit {result.returncode}):\n{tail}")


def checkpoint_times(out: Path) -> list[float]:
    return sorted(p.stat().st_mtime for p in out.glob("ckpt_*.pt"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--steps", type=int, default=0, help="default: 2 × kills × every + 4")
    p.add_argument("--every", type=int, default=2, help="checkpoint every N steps")
    p.add_argument("--seed", type=int, default=0, help="seeds the kill delays")
    p.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp folder)")
    p.add_argument("--json", type=Path, help="also write the report here")
    args = p.parse_args(argv)
    steps = args.steps or 2 * args.kills * args.every + 4
    rng = random.Random(args.seed)
    report = Report(kills_requested=args.kills)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "frames"
        if not data.exists():
            write_dataset(data, 3, SyntheticConfig(height=64, width=64, num_frames=6), seed=3,
                          formats=("frames",), progress=False)  # fmt: skip
        ref, killed = work / "reference", work / "killed"

        start = time.monotonic()
        # the reference keeps every checkpoint: their times give the checkpoint interval
        run_to_end(train_command(data, ref, steps, args.every, keep=0), work / "reference.log")
        report.reference_seconds = time.monotonic() - start
        times = checkpoint_times(ref)
        gaps = [b - a for a, b in itertools.pairwise(times)] or [1.0]
        interval = sorted(gaps)[len(gaps) // 2]
        print(f"reference: {steps} steps in {report.reference_seconds:.1f} s, "
              f"checkpoint interval ≈ {interval:.2f} s", flush=True)  # fmt: skip

        watcher = Watcher(killed, report)
        watcher.start()
        cmd = train_command(data, killed, steps, args.every)
        start = time.monotonic()
        while report.kills < args.kills:
            before = newest_step(killed)
            with (work / "killed.log").open("ab") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            # wait for a new checkpoint, then a random moment after it
            while newest_step(killed) <= before and proc.poll() is None:
                time.sleep(0.02)
            if proc.poll() is None:
                time.sleep(rng.uniform(0.0, 1.5 * interval))
            if proc.poll() is not None:
                report.finished_before_kill += 1
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            report.kills += 1
            report.killed_at_steps.append(newest_step(killed))
            report.stale_temp_files = len(list(killed.glob(".*.tmp")))
            watcher.check_all(force=True)
            print(f"kill {report.kills}: newest checkpoint step {newest_step(killed)}, "
                  f"temp files left so far {report.stale_temp_files}", flush=True)  # fmt: skip
        run_to_end(cmd, work / "killed.log")
        report.killed_run_seconds = time.monotonic() - start
        watcher.stop.set()
        watcher.join()
        watcher.check_all(force=True)
        report.stale_temp_files = len(list(killed.glob(".*.tmp")))

        a = torch.load(ref / "last.pt", map_location="cpu", weights_only=False)
        b = torch.load(killed / "last.pt", map_location="cpu", weights_only=False)
        report.reference_step, report.final_step = a["step"], b["step"]
        for key, value in a["state_dict"].items():
            report.tensors_compared += 1
            other = b["state_dict"].get(key)
            if other is None or not torch.equal(value, other):
                report.tensors_different.append(key)

    print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    verdict = "bit-exact" if not report.tensors_different else "DIFFERENT"
    print(
        f"\n{report.kills} SIGKILLs ({report.finished_before_kill} runs finished first); "
        f"{report.checkpoint_loads} checkpoint loads, {len(report.corrupt)} corrupt; "
        f"final step {report.final_step}/{report.reference_step}; weights {verdict} "
        f"({report.tensors_compared} tensors); temp files left by kills: "
        f"{report.stale_temp_files}"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
