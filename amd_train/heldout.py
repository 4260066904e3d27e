"""Held-out evaluation during training: label-free foreground IoU on videos never trained on.

Synthetic held-out videos are rendered with ``eval.seed`` (training streams use
``run.seed``-derived keys, so the two never coincide); a DAVIS-style ``eval.root`` works too.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from amd_plugin.camera_motion import independent_motion, resize_maps
from amd_plugin.modeling.amd import AMD
from amd_plugin.objectness import choose_foreground_channel
from amd_train.config import TrainConfig
from amd_train.evaluate import evaluate_video, segment_frames
from amd_train.metrics import region_similarity


def chance_iou(gts: list[np.ndarray]) -> float:
    """IoU of the better of two guesses that need no model: the whole frame, or a centred
    disk of radius 0.3 × the short side. An IoU at or below this shows no segmentation."""
    h, w = gts[0].shape[:2]
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 < (0.3 * min(h, w)) ** 2
    whole = np.ones((h, w), bool)
    return max(
        float(np.mean([region_similarity(guess, g) for g in gts])) for guess in (whole, disk)
    )


class HeldOutEvaluator:
    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg.eval
        self.videos: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []
        self.short_side: int | None = None
        self.chance_iou = float("nan")
        if self.cfg.synthetic_videos > 0:
            from amd_train.synthetic import generate_video

            for v in range(self.cfg.synthetic_videos):
                video = generate_video(cfg.data.synthetic, (self.cfg.seed, v))
                n = min(self.cfg.frames_per_video, len(video.frames))
                self.videos.append(
                    (f"heldout_{v:03d}", list(video.frames[:n]), list(video.masks[:n]))
                )
        elif self.cfg.root:
            from amd_train.eval_data import discover_sequences, load_frame, load_gt_mask

            for seq in discover_sequences(self.cfg.root):
                idx = [i for i, g in enumerate(seq.gt_paths) if g is not None][
                    : self.cfg.frames_per_video
                ]
                frames = [load_frame(seq.frame_paths[i]) for i in idx]
                gts = [load_gt_mask(seq.gt_paths[i]) for i in idx]
                self.videos.append((seq.name, frames, gts))
            self.short_side = min(cfg.data.crop_size)
        if self.videos:
            self.chance_iou = float(np.mean([chance_iou(g) for _, _, g in self.videos]))

    @cached_property
    def residuals(self) -> list[np.ndarray | None]:
        """Each video's independent motion (``None`` for a single frame), computed once: the
        frames never change, and every evaluation and the channel choice need it."""
        return [independent_motion(f) if len(f) > 1 else None for _, f, _ in self.videos]

    @property
    def enabled(self) -> bool:
        return bool(self.videos) and (self.cfg.every_steps > 0 or self.cfg.every_minutes > 0)

    def due(self, step: int, minutes_since_last: float) -> bool:
        if not self.enabled:
            return False
        if self.cfg.every_steps and step % self.cfg.every_steps == 0:
            return True
        return bool(self.cfg.every_minutes) and minutes_since_last >= self.cfg.every_minutes

    def run(self, model: AMD) -> dict:
        """Mean label-free IoU (J) over held-out videos, plus the oracle figure for analysis."""
        was_training = model.training
        model.eval()
        results = [
            evaluate_video(model, name, f, g, self.short_side, boundary=False, residual_motion=r)
            for (name, f, g), r in zip(self.videos, self.residuals)
        ]
        model.train(was_training)
        return {
            "iou": float(np.mean([r.j_mean for r in results])),
            "oracle_iou": float(np.mean([r.oracle_j_mean for r in results])),
            "channel_agreement": float(np.mean([r.channel == r.oracle_channel for r in results])),
            "chance_iou": self.chance_iou,
        }

    def choose_channel(self, model: AMD) -> int | None:
        """One label-free foreground channel for the checkpoint, from all held-out frames."""
        if not self.videos:
            return None
        was_training = model.training
        model.eval()
        masks, moving, residuals = [], [], []
        for (_, frames, _), residual in zip(self.videos, self.residuals):
            m = segment_frames(model, frames, self.short_side)
            masks.append(m)
            if residual is not None:
                moving.append(m[: len(residual)])  # per video: its frames that have a motion
                residuals.append(resize_maps(residual, m.shape[-2:]))  # sizes may differ
        model.train(was_training)
        if not residuals:  # single-frame "videos": appearance alone
            return choose_foreground_channel(np.concatenate(masks))
        return choose_foreground_channel(
            np.concatenate(moving), residual_motion=np.concatenate(residuals)
        )
