"""Frame-pair sampling and seeding.

Every random draw for a training sample comes from a generator keyed by integers such as
``(seed, epoch, index)``, never from a global RNG. A sample is therefore a pure function of
its keys: it does not depend on which DataLoader worker produced it, and a resumed run that
replays the same ``(epoch, position)`` sees the same frames, crops and scales.
"""

from __future__ import annotations

import random

import numpy as np
import torch

_UINT64 = (1 << 64) - 1


def make_rng(*keys: int) -> np.random.Generator:
    """A numpy Generator seeded by a tuple of integers (negative values are wrapped to uint64)."""
    return np.random.default_rng([int(k) & _UINT64 for k in keys])


def reflect_index(index: int, length: int) -> int:
    """Ping-pong an index into ``[0, length)``: 0, 1, …, n−1, n−2, …, 0, 1, …"""
    if length <= 0:
        raise ValueError(f"cannot index a video of {length} frames")
    if length == 1:
        return 0
    period = 2 * (length - 1)
    index %= period
    return index if index < length else period - index


def sample_pair(num_frames: int, step_limit: int, rng: np.random.Generator) -> tuple[int, int]:
    """Pick frame indices (a, b) of one training pair, as in the reference.

    The gap is uniform in ``1..step_limit``; the start is uniform over the positions where the
    whole gap fits, so that pairs go forward in time. A video shorter than the gap is walked
    ping-pong (indices reflected at both ends), so even a 1- or 2-frame video yields a pair.
    """
    if num_frames <= 0:
        raise ValueError(f"cannot sample a pair from a video of {num_frames} frames")
    if step_limit < 1:
        raise ValueError(f"step_limit must be >= 1, got {step_limit}")
    gap = int(rng.integers(1, step_limit + 1))
    if num_frames > gap:
        start = int(rng.integers(0, num_frames - gap))
        return start, start + gap
    start = int(rng.integers(0, num_frames))
    return start, reflect_index(start + gap, num_frames)


def make_generator(seed: int, rank: int = 0) -> torch.Generator:
    """torch.Generator for a DataLoader (shuffle order and worker base seeds) of one rank."""
    gen = torch.Generator()
    gen.manual_seed(int(make_rng(seed, rank).integers(0, 2**63 - 1)))
    return gen


def worker_init_fn(worker_id: int) -> None:
    """Seed numpy's and Python's legacy global RNGs in a DataLoader worker.

    Our own code never uses them (see the module docstring), but third-party transforms might.
    ``torch.initial_seed()`` in a worker is the loader's base seed + ``worker_id``, and the base
    seed comes from the loader's generator (:func:`make_generator`), so this is deterministic
    per (seed, rank, epoch, worker).
    """
    del worker_id  # already folded into torch.initial_seed()
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)  # only for third-party code that uses the legacy global API
    random.seed(seed)
