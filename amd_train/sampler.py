"""A distributed sampler that can resume mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Shuffled indices of one rank, restartable at (epoch, batch).

    The epoch's permutation depends only on (seed, epoch); rank r takes every
    ``world_size``-th index starting at r, so R processes with batch b see exactly the
    items that one process with batch R·b sees, step by step.
    """

    def __init__(
        self, length: int, seed: int, rank: int = 0, world_size: int = 1, batch_size: int = 1
    ) -> None:
        self.length = length
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.epoch = 0
        self.skip_batches = 0

    def set_position(self, epoch: int, batch_in_epoch: int) -> None:
        self.epoch = epoch
        self.skip_batches = batch_in_epoch

    def _indices(self) -> list[int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=gen).tolist()
        per_rank = self.length // self.world_size
        return order[self.rank : per_rank * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        indices = self._indices()[self.skip_batches * self.batch_size :]
        self.skip_batches = 0
        return iter(indices)

    def __len__(self) -> int:
        return max(0, self.length // self.world_size - self.skip_batches * self.batch_size)
