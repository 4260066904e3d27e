"""Built-in synthetic moving-object videos: for CPU quickstarts, tests and sanity checks.

Each video is a textured background (optionally panning) with textured objects of varied
shapes that move, accelerate, bounce off the borders, rotate, change scale and occlude each
other. Ground truth is the union of the objects' masks per frame. The premise of AMD is kept:
every object moves relative to the background in every frame. How the world looks (texture
kinds and scales, object sizes and counts, camouflage, camera and object speeds) is set by
:class:`~amd_train.synth_config.SyntheticConfig`.

Everything is numpy and a pure function of the seed; a 64-frame 128×128 video takes about
0.2 s on one CPU core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info
from tqdm import tqdm

from amd_train.data.sampling import make_rng, sample_pair
from amd_train.data.transforms import normalize_only
from amd_train.data.video_file import write_video
from amd_train.synth_config import SyntheticConfig
from amd_train.synth_render import (
    TextureKind,
    composite_object,
    make_texture,
    random_palette,
    shape_profile,
    shifted_crop,
)

_NOISE_STREAM = 0x5E15  # extra seed key of the per-frame sensor-noise streams

PairTransformFn = Callable[
    [np.ndarray, np.ndarray, np.random.Generator], tuple[torch.Tensor, torch.Tensor]
]


@dataclass(frozen=True)
class SyntheticVideo:
    """A generated video.

    Attributes:
        frames: T×H×W×3 uint8 RGB.
        masks: T×H×W bool, the foreground: union of all objects' masks.
        fps: frame rate.
    """

    frames: np.ndarray
    masks: np.ndarray
    fps: int


@dataclass
class _Track:
    """One object's appearance and per-frame pose (T×2 centres (x, y), T scales, T angles)."""

    profile: np.ndarray
    texture: np.ndarray
    radius: float
    centres: np.ndarray
    scales: np.ndarray
    angles: np.ndarray


def _unit(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2 * np.pi)
    return np.array([np.cos(angle), np.sin(angle)])


def _object_texture(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    size: int,
    bg_kind: TextureKind,
    bg_palette: np.ndarray,
) -> np.ndarray:
    """S×S×3 texture: camouflaged, low contrast or free (the hard cases force motion cues)."""
    draw = rng.random()
    if draw < cfg.camouflage_prob:
        palette = np.clip(bg_palette + rng.uniform(-8, 8, bg_palette.shape), 0, 255)
        return make_texture(
            rng, size, size, bg_kind, palette.astype(np.float32), cell=cfg.background_cell
        )
    kind = cfg.object_textures[int(rng.integers(len(cfg.object_textures)))]
    if draw < cfg.camouflage_prob + cfg.low_contrast_prob:
        palette = random_palette(rng, 3, centre=bg_palette.mean(0), spread=rng.uniform(10, 30))
    else:
        palette = random_palette(rng, int(rng.integers(2, 5)))
    return make_texture(rng, size, size, kind, palette, cell=cfg.object_cell)


def _simulate(
    cfg: SyntheticConfig, rng: np.random.Generator, radius: float, bg_motion: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres T×2 (x, y), scales T and angles T of one object.

    ``bg_motion`` is the image-space velocity of the background content; the object's
    velocity relative to it is kept within the configured speed range in every frame.
    """
    t_len, lo_speed, hi_speed = cfg.num_frames, *cfg.object_speed
    lo = np.array([0.0, 0.0])
    hi = np.array([cfg.width - 1.0, cfg.height - 1.0])
    pos = rng.uniform(0.15, 0.85, 2) * hi
    vel = bg_motion + _unit(rng) * rng.uniform(lo_speed, hi_speed)
    spin = rng.uniform(-cfg.rotation_speed, cfg.rotation_speed)
    growth = rng.uniform(-cfg.scale_change, cfg.scale_change)
    centres, scales = np.empty((t_len, 2)), np.empty(t_len)
    angles = rng.uniform(0, 2 * np.pi) + spin * np.arange(t_len)
    scale = 1.0
    for t in range(t_len):
        centres[t], scales[t] = pos, scale
        vel = vel + rng.uniform(-cfg.acceleration, cfg.acceleration, 2)
        # Bounce off the borders so the object (its centre at least) stays in view.
        nxt = pos + vel
        out = (nxt < lo) | (nxt > hi)
        vel = np.where(out, -vel, vel)
        rel = vel - bg_motion
        speed = float(np.hypot(*rel))
        if speed < lo_speed or speed > hi_speed:
            direction = rel / speed if speed > 1e-6 else _unit(rng)
            vel = bg_motion + direction * np.clip(speed, lo_speed, hi_speed)
        pos = np.clip(pos + vel, lo, hi)
        scale *= 1.0 + growth
        if not 0.6 < scale < 1.4:
            growth = -growth
            scale = float(np.clip(scale, 0.6, 1.4))
    return centres, scales, angles


def generate_video(
    cfg: SyntheticConfig,
    seed: int | Sequence[int] | None = None,
    frame_indices: Sequence[int] | None = None,
) -> SyntheticVideo:
    """Render one video; the same (cfg, seed) always gives the same frames and masks.

    ``seed`` defaults to ``cfg.seed``; a sequence of ints (e.g. ``(base, video_index)``) is
    accepted too, which gives independent streams for the videos of a dataset.
    ``frame_indices`` renders only those frames (in that order), identical to the same
    frames of the full video: training needs two frames of each video, and rendering is
    most of the generator's cost.
    """
    keys = [cfg.seed] if seed is None else ([seed] if np.ndim(seed) == 0 else list(seed))
    rng = make_rng(*keys)
    h, w, t_len = cfg.height, cfg.width, cfg.num_frames

    bg_kind = cfg.background_textures[int(rng.integers(len(cfg.background_textures)))]
    bg_palette = random_palette(rng, int(rng.integers(2, 5)))
    pan = _unit(rng) * rng.uniform(0.0, cfg.background_pan) * (rng.random() < 0.8)
    span = np.abs(pan[::-1]) * (t_len - 1)  # (y, x) extent swept by the crop window
    canvas = make_texture(
        rng,
        h + int(np.ceil(span[0])) + 2,
        w + int(np.ceil(span[1])) + 2,
        bg_kind,
        bg_palette,
        cell=cfg.background_cell,
    )
    # The crop window moves by `pan`, so background content moves by −pan in the image.
    start = 0.5 + np.where(pan[::-1] < 0, span, 0.0)

    tracks = []
    short = min(h, w)
    for _ in range(int(rng.integers(cfg.min_objects, cfg.max_objects + 1))):
        shape = cfg.shapes[int(rng.integers(len(cfg.shapes)))]
        radius = 0.5 * short * rng.uniform(*cfg.object_size)
        tex_size = int(np.ceil(2 * radius * 1.4)) + 3
        texture = _object_texture(cfg, rng, tex_size, bg_kind, bg_palette)
        centres, scales, angles = _simulate(cfg, rng, radius, -pan)
        tracks.append(_Track(shape_profile(rng, shape), texture, radius, centres, scales, angles))

    indices = list(range(t_len)) if frame_indices is None else [int(t) for t in frame_indices]
    if any(not 0 <= t < t_len for t in indices):
        raise ValueError(f"frame_indices must lie in [0, {t_len}), got {list(indices)}")
    frames = np.empty((len(indices), h, w, 3), np.uint8)
    masks = np.zeros((len(indices), h, w), bool)
    for i, t in enumerate(indices):
        off_y, off_x = start + pan[::-1] * t
        frame = shifted_crop(canvas, off_y, off_x, h, w)
        for track in tracks:  # list order is the z-order: later objects occlude earlier ones
            centre = (float(track.centres[t, 0]), float(track.centres[t, 1]))
            radius = track.radius * float(track.scales[t])
            composite_object(
                frame, masks[i], track.texture, track.profile, centre, radius, track.angles[t]
            )
        if cfg.noise_std > 0:
            # One stream per frame, so a frame's noise does not depend on which others
            # were rendered.
            noise = make_rng(*keys, _NOISE_STREAM, t).standard_normal(frame.shape, np.float32)
            frame += noise * cfg.noise_std
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return SyntheticVideo(frames=frames, masks=masks, fps=cfg.fps)


def write_dataset(
    root: str | Path,
    num_videos: int,
    cfg: SyntheticConfig,
    seed: int = 0,
    formats: Sequence[str] = ("frames", "mp4"),
    split_name: str = "train.txt",
    progress: bool = True,
) -> list[str]:
    """Write ``num_videos`` videos in the reference's layout; returns the video ids.

    ``frames`` writes ``JPEGImages/<id>/00000.jpg …``, ``Annotations/<id>/00000.png`` (0/255)
    and the split file ``<split_name>`` (lines ``JPEGImages/<id> 00000.jpg 00001.jpg …``), so
    the folder is also a DAVIS-style evaluation folder. ``mp4`` writes ``videos/<id>.mp4``.
    Video i is ``generate_video(cfg, (seed, i))``, independent of ``num_videos``.
    """
    unknown = set(formats) - {"frames", "mp4"}
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of ('frames', 'mp4'), got {formats}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids, lines = [], []
    for i in tqdm(range(num_videos), desc="synthetic videos", disable=not progress):
        video_id = f"synth{i:05d}"
        video = generate_video(cfg, (seed, i))
        if "frames" in formats:
            names = write_video_frames(
                video, root / "JPEGImages" / video_id, root / "Annotations" / video_id
            )
            lines.append(" ".join([f"JPEGImages/{video_id}", *names]))
        if "mp4" in formats:
            write_video(root / "videos" / f"{video_id}.mp4", video.frames, fps=video.fps)
        ids.append(video_id)
    if "frames" in formats:
        (root / split_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def write_video_frames(
    video: SyntheticVideo, image_dir: Path, mask_dir: Path, image_suffix: str = ".jpg"
) -> list[str]:
    """Write ``00000<suffix> …`` frames (JPEG quality 95, or lossless ``.png``) and
    ``00000.png …`` masks (0/255); returns the frame file names."""
    image_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for t, (frame, mask) in enumerate(zip(video.frames, video.masks)):
        name = f"{t:05d}{image_suffix}"
        Image.fromarray(frame).save(image_dir / name, quality=95)
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_dir / f"{t:05d}.png")
        names.append(name)
    return names


class SyntheticPairStream(IterableDataset):
    """Endless-variety training pairs rendered on the fly, no disk involved.

    One epoch yields ``videos_per_epoch × pairs_per_video`` items per rank; the videos are
    split between DataLoader workers. Video v of (seed, rank, epoch) is always the same, so a
    run is reproducible; ranks and epochs get different videos. Items are
    ``{"frame_a": 3×H×W float32, "frame_b": 3×H×W float32, "index": int}`` like the map-style
    datasets; ``index`` is the item's position within the epoch on this rank.
    """

    def __init__(
        self,
        cfg: SyntheticConfig,
        seed: int = 0,
        rank: int = 0,
        *,
        videos_per_epoch: int = 64,
        pairs_per_video: int = 8,
        step_limit: int = 1,
        transform: PairTransformFn | None = None,
    ) -> None:
        super().__init__()
        if videos_per_epoch < 1 or pairs_per_video < 1:
            raise ValueError("videos_per_epoch and pairs_per_video must be >= 1")
        self.cfg = cfg
        self.seed = seed
        self.rank = rank
        self.videos_per_epoch = videos_per_epoch
        self.pairs_per_video = pairs_per_video
        self.step_limit = step_limit
        self.transform = transform or normalize_only
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's videos (call before creating the DataLoader iterator)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.videos_per_epoch * self.pairs_per_video

    def __iter__(self) -> Iterator[dict[str, torch.Tensor | int]]:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        for v in range(worker, self.videos_per_epoch, num_workers):
            keys = (self.seed, self.rank, self.epoch, v)
            rng = make_rng(*keys, 1)
            pairs = [
                sample_pair(self.cfg.num_frames, self.step_limit, rng)
                for _ in range(self.pairs_per_video)
            ]
            needed = sorted({t for pair in pairs for t in pair})
            video = generate_video(self.cfg, keys, frame_indices=needed)
            for p, (a, b) in enumerate(pairs):
                frame_a, frame_b = self.transform(
                    video.frames[needed.index(a)], video.frames[needed.index(b)], rng
                )
                yield {
                    "frame_a": frame_a,
                    "frame_b": frame_b,
                    "index": v * self.pairs_per_video + p,
                }
