"""The learning-rate schedule and the clock it may follow.

The schedule is the reference's per-iteration poly decay (power 0.9) to a floor, with an
optional linear warmup. Its progress is counted in steps (``step / run.max_steps``) or,
with ``optim.decay_over: minutes``, in wall-clock time (``minutes / run.max_minutes``,
whichever of the two is further along): a run budgeted in minutes then ends at the floor
lr whatever the machine's speed, instead of being cut off at a high lr. Without a time
budget (``run.max_minutes`` 0) only steps count.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from amd_train.config import TrainConfig
from amd_train.distributed import DistInfo, all_reduce_mean


class TrainingClock:
    """Minutes of training so far, carried across resumes.

    ``shared`` is the value every process agrees on (the mean over processes, refreshed by
    :meth:`share` once per step): decisions taken from it — the lr, stopping when the time
    is up — are then identical on every rank, so DDP ranks neither drift apart nor wait
    on each other.
    """

    def __init__(self) -> None:
        self.before = 0.0
        self.start = time.monotonic()
        self.shared = 0.0

    def minutes(self) -> float:
        return self.before + (time.monotonic() - self.start) / 60.0

    def resume_at(self, minutes: float) -> None:
        self.before, self.shared = minutes, minutes
        self.start_now()

    def start_now(self) -> None:
        """Count from now on (set-up before the first step is not training time)."""
        self.start = time.monotonic()

    def share(self, info: DistInfo) -> float:
        if not info.enabled:  # one process: no device round trip (a GPU sync) every step
            self.shared = self.minutes()
            return self.shared
        now = torch.tensor(self.minutes(), dtype=torch.float64, device=info.device)
        self.shared = float(all_reduce_mean(now, info))
        return self.shared


def step_limit(cfg: TrainConfig) -> int:
    """The step a run stops at: ``run.max_steps``, or ``run.stop_at_step`` when set and sooner."""
    stop = cfg.run.stop_at_step
    return min(cfg.run.max_steps, stop) if stop > 0 else cfg.run.max_steps


def run_progress(step: int, minutes: float, cfg: TrainConfig) -> float:
    """How far a run is towards its end, in [0, 1]: the further along of its
    :func:`step_limit` and its time budget (``run.max_minutes``, when set). The run stops
    when either reaches 1."""
    last = step_limit(cfg)
    progress = min(step, last) / max(1, last)
    if cfg.run.max_minutes > 0:
        progress = max(progress, minutes / cfg.run.max_minutes)
    return min(1.0, progress)


def poly_lambda(cfg: TrainConfig, clock: TrainingClock | None = None) -> Callable[[int], float]:
    """``step → lr / optim.lr`` for :class:`torch.optim.lr_scheduler.LambdaLR`.

    With ``optim.decay_over: minutes`` the decay follows ``clock.shared`` as well.
    """
    o, total = cfg.optim, max(1, cfg.run.max_steps)
    by_minutes = o.decay_over == "minutes" and cfg.run.max_minutes > 0
    if by_minutes and clock is None:
        raise ValueError("optim.decay_over=minutes needs the training clock")

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps else 1.0
        progress = min(step, total) / total
        if by_minutes:
            progress = max(progress, min(1.0, clock.shared / cfg.run.max_minutes))
        lr = (o.lr - o.min_lr) * (1 - progress) ** o.poly_power + o.min_lr
        return warm * lr / o.lr

    return factor
