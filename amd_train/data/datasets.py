"""Frame-pair datasets for training, and the one entry point :func:`build_dataset`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from amd_train.data.base import DataError, VideoSource
from amd_train.data.config import DataConfig
from amd_train.data.sampling import make_rng, sample_pair
from amd_train.data.sources import discover_sources, resolve_kind
from amd_train.data.transforms import PairTransform
from amd_train.synthetic import PairTransformFn, SyntheticPairStream

logger = logging.getLogger(__name__)

Item = dict[str, torch.Tensor | int]


class FramePairDataset(Dataset):
    """Map-style dataset of random frame pairs from a list of videos.

    The length is virtual: ``len(sources) × samples_per_video``. Item ``i`` draws a random pair
    from video ``i mod len(sources)``; every random choice (pair, scale, crop) comes from a
    generator keyed by ``(seed, epoch, i)``, so an item is the same whichever worker or rank
    loads it, and a resumed run reproduces its samples given (epoch, position) and the
    sampler's order. Call :meth:`set_epoch` before each epoch (with persistent workers the
    workers keep the epoch they were started with; don't combine the two).

    A frame that fails to decode mid-training is logged and replaced by a pair from another
    video (chosen from the same generator), at most ``max_retries`` times.
    """

    def __init__(
        self,
        sources: Sequence[VideoSource],
        transform: PairTransformFn,
        seed: int = 0,
        step_limit: int = 1,
        samples_per_video: int = 1,
        max_retries: int = 3,
    ) -> None:
        if not sources:
            raise DataError("FramePairDataset needs at least one video")
        self.sources = list(sources)
        self.transform = transform
        self.seed = seed
        self.step_limit = step_limit
        self.samples_per_video = samples_per_video
        self.max_retries = max_retries
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sources) * self.samples_per_video

    def __getitem__(self, index: int) -> Item:
        """``{"frame_a": 3×h×w float32, "frame_b": 3×h×w float32, "index": index}``."""
        frame_a, frame_b, rng = self.decoded_pair(index)
        tensor_a, tensor_b = self.transform(frame_a, frame_b, rng)
        return {"frame_a": tensor_a, "frame_b": tensor_b, "index": index}

    def decoded_pair(self, index: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
        """Item ``index`` before its transform: the two decoded H×W×3 uint8 frames, and the
        item's generator, past the draws that chose them, for the transform to go on with."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rng = make_rng(self.seed, self.epoch, index)
        video = index % len(self.sources)
        for attempt in range(self.max_retries + 1):
            source = self.sources[video]
            try:
                a, b = sample_pair(len(source), self.step_limit, rng)
                frame_a, frame_b = source.read_pair(a, b)
                break
            except DataError as err:
                if attempt == self.max_retries:
                    raise DataError(f"{err} (and {attempt} other videos failed too)") from err
                logger.warning("frame read failed, using another video instead: %s", err)
                video = int(rng.integers(len(self.sources)))
        return frame_a, frame_b, rng


def frame_pair_collate(items: Sequence[Item]) -> dict[str, torch.Tensor]:
    """Batch items: ``frame_a``/``frame_b`` B×3×h×w, ``index`` B (int64)."""
    return {
        "frame_a": torch.stack([it["frame_a"] for it in items]),
        "frame_b": torch.stack([it["frame_b"] for it in items]),
        "index": torch.as_tensor(np.asarray([it["index"] for it in items], np.int64)),
    }


def build_dataset(
    cfg: DataConfig, seed: int, rank: int = 0
) -> FramePairDataset | SyntheticPairStream:
    """The training dataset described by ``cfg`` for one rank.

    Map-style (files) for ``split``/``frames``/``videos``: the same for every rank; ranks split
    it with a DistributedSampler. Iterable (rendered on the fly) for ``synthetic``: each rank
    renders different videos. Both have ``set_epoch(epoch)``.
    """
    transform = PairTransform.from_config(cfg)
    if resolve_kind(cfg) == "synthetic":
        return SyntheticPairStream(
            cfg.synthetic,
            seed=seed,
            rank=rank,
            videos_per_epoch=cfg.synthetic_videos_per_epoch,
            pairs_per_video=cfg.synthetic_pairs_per_video,
            step_limit=cfg.step_limit,
            transform=transform,
        )
    return FramePairDataset(
        discover_sources(cfg),
        transform,
        seed=seed,
        step_limit=cfg.step_limit,
        samples_per_video=cfg.samples_per_video,
    )
