"""Objectness score and label-free choice of the foreground channel.

Objectness (one float in [0, 1] per image) answers "is there one distinct object here?":

    objectness = contrast × size × (1 − border_fill)

* ``contrast``: mean foreground probability inside the predicted mask (p > 0.5) minus the
  mean outside it; 0 when nothing is predicted. A confident, clean segment scores near 1;
  a uniform or hesitant map near 0.
* ``size``: a soft window on the mask's area fraction ``a``: ``min(1, a / 0.005)`` (specks
  are not objects) × ``min(1, (0.95 − a) / 0.35)`` clipped at 0 (a mask covering nearly
  everything is background, not an object).
* ``border_fill``: fraction of the image's border ring (width 1/16 of the short side) that
  is foreground; an object may touch the border, a mask that fills the frame's edge is not
  an object.

The foreground channel of a freshly trained model is chosen without labels
(:func:`choose_foreground_channel`): each channel holding some mass scores how little of it
lies on the border plus, for consecutive video frames, how much more than the rest of its
frame it moves apart from the camera (:mod:`amd_plugin.camera_motion`); the best score wins.
"""

from __future__ import annotations

import numpy as np

from amd_plugin.camera_motion import resize_maps

MIN_AREA = 0.005
MAX_AREA = 0.95
AREA_RAMP = 0.35
MIN_CHANNEL_MASS = 0.02  # channels below this mean probability are not foreground candidates
# px: the motion evidence is each departure over the largest one, but never over less than
# this, so that in a nearly static video sub-pixel differences do not weigh as a full motion
DEPARTURE_FLOOR_PX = 0.5


def border_ring(height: int, width: int, fraction: float = 1 / 16) -> np.ndarray:
    """Boolean ``H×W`` mask of the outer ring (at least one pixel wide)."""
    t = max(1, round(min(height, width) * fraction))
    ring = np.zeros((height, width), dtype=bool)
    ring[:t] = ring[-t:] = True
    ring[:, :t] = ring[:, -t:] = True
    return ring


def objectness_score(foreground: np.ndarray) -> float:
    """Score an ``H×W`` foreground probability map (see module docstring)."""
    p = np.asarray(foreground, dtype=np.float32)
    if p.size == 0:
        return 0.0
    mask = p > 0.5
    area = float(mask.mean())
    if area == 0.0:
        return 0.0
    inside = float(p[mask].mean())
    outside = float(p[~mask].mean()) if area < 1.0 else 0.0
    contrast = max(0.0, inside - outside)
    size = min(1.0, area / MIN_AREA) * float(np.clip((MAX_AREA - area) / AREA_RAMP, 0.0, 1.0))
    ring = border_ring(*p.shape)
    border_fill = float(mask[ring].mean())
    return float(np.clip(contrast * size * (1.0 - border_fill), 0.0, 1.0))


def channel_statistics(masks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel label-free statistics of soft masks ``T×K×h×w`` (T frames).

    Returns ``mass`` (mean probability), ``border_share`` (fraction of a channel's mass that
    lies on the border ring) and ``temporal_iou`` (IoU of the argmax region between
    consecutive frames; 1 for a single frame), each of length K.
    """
    masks = np.asarray(masks, dtype=np.float32)
    t, k, h, w = masks.shape
    ring = border_ring(h, w)
    mass = masks.mean(axis=(0, 2, 3))
    total = masks.sum(axis=(0, 2, 3)) + 1e-6
    border_share = masks[:, :, ring].sum(axis=(0, 2)) / total
    hard = masks.argmax(axis=1)  # T×h×w
    temporal = np.ones(k, dtype=np.float32)
    if t > 1:
        for c in range(k):
            region = hard == c
            inter = (region[1:] & region[:-1]).sum()
            union = (region[1:] | region[:-1]).sum()
            temporal[c] = inter / union if union else 0.0
    return {"mass": mass, "border_share": border_share, "temporal_iou": temporal}


def channel_evidence(
    masks: np.ndarray,
    segment_motion: np.ndarray | None = None,
    residual_motion: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The per-channel label-free evidence :func:`choose_foreground_channel` combines.

    Args:
        masks: soft masks ``T×K×h×w``.
        segment_motion: optional ``T'×K×2`` segment-flow vectors (``T' ≤ T`` frame pairs).
        residual_motion: optional ``T'×H'×W'`` independent motion of the frames
            (:func:`amd_plugin.camera_motion.independent_motion`), any resolution; used
            instead of ``segment_motion`` when both are given.
            With either, all the evidence comes from the first ``T'`` frames, the ones that
            have a motion (a video of T frames has T − 1 pairs; callers pass all T masks).

    Returns:
        ``mass`` (K), ``centredness`` (K): 1 − the channel's border share relative to what a
        channel spread uniformly would have there, clipped to [0, 1]; ``present`` (K bool):
        whether the channel is the largest anywhere; and, with motion, ``departure`` (K), in
        px: with ``residual_motion`` the channel's mass-weighted mean residual minus its
        frames' means (how much more than the rest of its frame it moves apart from the
        camera; :func:`residual_departure`), with ``segment_motion`` the mass-weighted mean
        distance of its segment flow from the mass-weighted dominant flow of its frame.
    """
    masks = np.asarray(masks, dtype=np.float32)
    motion = residual_motion if residual_motion is not None else segment_motion
    if motion is not None:
        masks = masks[: len(motion)]
    stats = channel_statistics(masks)
    ring_fraction = border_ring(*masks.shape[-2:]).mean()
    evidence = {
        "mass": stats["mass"],
        "centredness": np.clip(1.0 - stats["border_share"] / max(ring_fraction, 1e-6), 0.0, 1.0),
        # a region that never exceeds the others anywhere cannot be the object
        "present": np.bincount(masks.argmax(1).ravel(), minlength=masks.shape[1]) > 0,
    }
    if residual_motion is not None:
        evidence["departure"] = residual_departure(masks, residual_motion)
    elif segment_motion is not None:
        evidence["departure"] = motion_departure(masks, segment_motion)
    return evidence


def residual_departure(
    masks: np.ndarray, residual_motion: np.ndarray, relative_to_frame: bool = True
) -> np.ndarray:
    """How much more than the rest of its frame each channel moves apart from the camera, px.

    Args:
        masks: soft masks ``T×K×h×w``; the first ``T'`` frames weight the motion.
        residual_motion: ``T'×H'×W'`` residual motion maps, resized here to ``h×w``.
        relative_to_frame: subtract each frame's mean residual before averaging, so that a
            channel is compared with the frame it lies in. Without this, a channel that
            holds much of the frame just where the camera's motion is explained poorly
            everywhere (fast pans, strong parallax late in a clip) inherits those frames'
            large residuals and can outscore a channel that holds the object. ``False``
            gives the plain mass-weighted mean residual (the previous rule).

    Returns:
        ``K`` mass-weighted mean residuals (minus their frames' means), px. As the soft
        masks sum to 1 per pixel, the channels' frame-relative values weighted by their mass
        in a frame sum to 0 there.
    """
    residual = np.asarray(residual_motion, dtype=np.float32)
    weights = np.asarray(masks, dtype=np.float32)[: len(residual)]  # T'×K×h×w
    residual = resize_maps(residual, weights.shape[-2:])  # T'×h×w
    if relative_to_frame:
        residual = residual - residual.mean(axis=(1, 2), keepdims=True)
    residual = residual[:, None]  # T'×1×h×w
    return (weights * residual).sum(axis=(0, 2, 3)) / (weights.sum(axis=(0, 2, 3)) + 1e-6)


def motion_departure(
    masks: np.ndarray, segment_motion: np.ndarray, reference_weights: np.ndarray | None = None
) -> np.ndarray:
    """Each channel's mass-weighted mean distance, in px, from a per-frame reference flow.

    Args:
        masks: soft masks ``T×K×h×w``; the first ``T'`` frames weight the motion.
        segment_motion: ``T'×K×2`` segment-flow vectors.
        reference_weights: ``T'×K`` weights of the channels in each frame's reference flow
            (their weighted mean); by default each channel's mass, i.e. the dominant flow.

    Returns:
        ``K`` departures.
    """
    motion = np.asarray(segment_motion, dtype=np.float32)  # T'×K×2
    weights = np.asarray(masks, dtype=np.float32)[: len(motion)].mean(axis=(2, 3))  # T'×K
    ref = weights if reference_weights is None else reference_weights
    reference = (ref[..., None] * motion).sum(1) / (ref.sum(1, keepdims=True) + 1e-6)
    departure = np.linalg.norm(motion - reference[:, None, :], axis=-1)  # T'×K
    return (departure * weights).sum(0) / (weights.sum(0) + 1e-6)


def candidate_channels(mass: np.ndarray, min_mass: float = MIN_CHANNEL_MASS) -> np.ndarray:
    """Indices of the channels holding at least ``min_mass`` mean probability (all channels
    when none does): a nearly empty channel is also absent from the border, which fooled a
    naive rule."""
    candidates = np.flatnonzero(mass >= min_mass)
    return candidates if candidates.size else np.arange(len(mass))


def choose_foreground_channel(
    masks: np.ndarray,
    segment_motion: np.ndarray | None = None,
    min_mass: float = MIN_CHANNEL_MASS,
    departure_floor: float = DEPARTURE_FLOOR_PX,
    residual_motion: np.ndarray | None = None,
) -> int:
    """Pick the foreground channel without labels.

    Args:
        masks: soft masks ``T×K×h×w`` over a set of frames (softmax outputs).
        segment_motion: optional ``T'×K×2`` per-segment flow vectors (segment flow) of the
            first ``T' ≤ T`` frames (:func:`channel_evidence`). When given, a channel whose
            motion departs from the mass-weighted dominant motion is preferred: the paper's
            premise is that objects move differently from the scene.
        residual_motion: optional ``T'×H'×W'`` motion apart from the camera's
            (:func:`amd_plugin.camera_motion.independent_motion`); replaces
            ``segment_motion`` as the motion evidence (what the callers in this package pass:
            it needs no trained motion pathway and copes with a moving camera).
        min_mass: channels holding less than this mean probability are not candidates
            (:func:`candidate_channels`).
        departure_floor: px; departures are divided by the largest candidate departure or
            by this floor, whichever is larger, so that sub-pixel differences between
            channels of a static-looking video do not count as full evidence; centredness
            weighs this floor over that divisor (:func:`choose_from_evidence`).

    Returns:
        the channel index.
    """
    return choose_from_evidence(
        channel_evidence(masks, segment_motion, residual_motion),
        min_mass=min_mass,
        departure_floor=departure_floor,
    )


def choose_from_evidence(
    evidence: dict[str, np.ndarray],
    min_mass: float = MIN_CHANNEL_MASS,
    departure_floor: float = DEPARTURE_FLOOR_PX,
    fade_centredness: bool = True,
) -> int:
    """The scoring behind :func:`choose_foreground_channel`, on evidence already measured
    (:func:`channel_evidence`'s keys; ``departure`` optional), so that analyses can swap in
    another motion measure and still apply the same rule.

    Each candidate scores ``w · centredness + departure / scale`` with ``scale`` the largest
    candidate departure or ``departure_floor``, whichever is larger, and ``w =
    departure_floor / scale``: in a nearly still video (no departure above the floor) the
    border cue counts fully; the more clearly something moves, the less it counts, because
    a moving object often touches the border. ``fade_centredness=False`` keeps ``w = 1``
    (the earlier segment-flow rule; for analyses).
    """
    candidates = candidate_channels(evidence["mass"], min_mass)
    # appearance evidence: how little of the channel's mass sits on the border
    score = evidence["centredness"].copy()
    if "departure" in evidence:
        departure = evidence["departure"]
        scale = max(float(departure[candidates].max()), departure_floor)
        if scale > 1e-3:
            weight = departure_floor / scale if fade_centredness else 1.0
            score = weight * score + departure / scale
    score = np.where(evidence["present"], score, score - 10.0)
    return int(candidates[np.argmax(score[candidates])])
