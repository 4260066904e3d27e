"""Label-free evaluation of a model on videos with ground truth.

Used by the trainer (periodic held-out evaluation), ``amd-eval`` and ``amd-adapt``. The
foreground channel is chosen *without labels* (:func:`label_free_channel`: appearance
statistics plus the frames' motion apart from the camera); the oracle choice with GT exists
for analysis only and is always reported under its own name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from amd_plugin.camera_motion import independent_motion
from amd_plugin.modeling.amd import AMD, normalize
from amd_plugin.objectness import choose_foreground_channel
from amd_plugin.predictor import resized_shape
from amd_train.metrics import evaluate_sequence, region_similarity


def frames_to_tensor(
    frames: Sequence[np.ndarray], size: tuple[int, int] | None, device
) -> torch.Tensor:
    """``T`` uint8 ``H×W×3`` frames → normalised ``T×3×h×w`` (bilinear resize to ``size``)."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().to(device)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return normalize(x)


@torch.inference_mode()
def segment_frames(
    model: AMD, frames: Sequence[np.ndarray], short_side: int | None = None, batch_size: int = 8
) -> np.ndarray:
    """Soft masks ``T×K×h×w`` at the model's output resolution."""
    device = next(model.parameters()).device
    h, w = resized_shape(frames[0].shape[0], frames[0].shape[1], short_side)
    out = []
    for i in range(0, len(frames), batch_size):
        x = frames_to_tensor(frames[i : i + batch_size], (h, w), device)
        out.append(model.segment(x).float().cpu().numpy())
    return np.concatenate(out)


@torch.inference_mode()
def segment_motion(
    model: AMD, frames: Sequence[np.ndarray], short_side: int | None = None, batch_size: int = 4
) -> np.ndarray:
    """Per-segment flow vectors ``(T-1)×K×2`` for consecutive frame pairs."""
    if len(frames) < 2:
        return np.zeros((0, model.num_segments, 2), np.float32)
    device = next(model.parameters()).device
    h, w = resized_shape(frames[0].shape[0], frames[0].shape[1], short_side)
    out = []
    for i in range(0, len(frames) - 1, batch_size):
        j = min(i + batch_size, len(frames) - 1)
        a = frames_to_tensor(frames[i:j], (h, w), device)
        b = frames_to_tensor(frames[i + 1 : j + 1], (h, w), device)
        out.append(model(a, b).motion.forward_segments.float().cpu().numpy())
    return np.concatenate(out)


def label_free_channel(
    model: AMD, frames: Sequence[np.ndarray], short_side: int | None = None, use_motion: bool = True
) -> int:
    """Choose the foreground channel from frames alone (no labels): appearance statistics
    and, for two frames or more of one video, what moves apart from the camera."""
    masks = segment_frames(model, frames, short_side)
    residual = independent_motion(frames) if use_motion and len(frames) > 1 else None
    return choose_foreground_channel(masks, residual_motion=residual)


def channel_j(masks: np.ndarray, gts: Sequence[np.ndarray]) -> np.ndarray:
    """ANALYSIS ONLY: mean IoU of every channel of ``T×K×h×w`` masks against ``T`` GT masks."""
    return np.array(
        [
            np.mean(
                [region_similarity(upsample(m[c], g.shape) > 0.5, g) for m, g in zip(masks, gts)]
            )
            for c in range(masks.shape[1])
        ]
    )


def upsample(prob: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(prob, np.float32))[None, None]
    return F.interpolate(t, size=tuple(shape[:2]), mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()


@dataclass
class SequenceResult:
    name: str
    channel: int
    j_mean: float
    f_mean: float
    oracle_channel: int
    oracle_j_mean: float
    details: dict


def evaluate_video(
    model: AMD,
    name: str,
    frames: Sequence[np.ndarray],
    gts: Sequence[np.ndarray | None],
    short_side: int | None = None,
    channel: int | str | None = None,
    boundary: bool = True,
    residual_motion: np.ndarray | None = None,
) -> SequenceResult:
    """J (and F) of one video.

    ``channel``: an index; ``None``/``"label-free"`` chooses it from this video without
    labels; ``"oracle"`` picks the best channel with the ground truth (analysis only).
    ``residual_motion``: ``independent_motion(frames)`` when the caller already has it (the
    label-free choice computes it otherwise).
    """
    masks = segment_frames(model, frames, short_side)
    annotated = [(m, g) for m, g in zip(masks, gts) if g is not None]
    if not annotated:
        raise ValueError(f"{name}: no frame has a ground-truth mask")
    # every channel's J once: the oracle channel (analysis only) and its J both come from it
    per_channel = channel_j(np.stack([m for m, _ in annotated]), [g for _, g in annotated])
    oc = int(np.argmax(per_channel))
    if channel is None or channel == "label-free":
        if residual_motion is None and len(frames) > 1:
            residual_motion = independent_motion(frames)
        channel = choose_foreground_channel(masks, residual_motion=residual_motion)
    elif channel == "oracle":
        channel = oc
    channel = int(channel)
    preds = [
        upsample(m[channel], g.shape if g is not None else f.shape) > 0.5
        for m, f, g in zip(masks, frames, gts)
    ]
    if boundary:
        details = evaluate_sequence(preds, list(gts))
        j, f = details["J"]["mean"], details["F"]["mean"]
    else:
        js = [region_similarity(p, g) for p, g in zip(preds, gts) if g is not None]
        details, j, f = {"J": {"per_frame": js}}, float(np.mean(js)), float("nan")
    details["predictions"] = preds
    details["channel_J"] = per_channel  # every channel's J (analysis only)
    return SequenceResult(name, channel, float(j), float(f), oc, float(per_channel[oc]), details)
