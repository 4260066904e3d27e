"""A second synthetic world, written apart from ``amd_train.synthetic``, to check the recipe.

The default recipe (``configs/synthetic.yaml``) was chosen by measuring on the built-in
generator's noise world. To see whether it only works there, this script renders a world
from a separate, deliberately simple generator and writes it to disk in the layouts the
trainer reads from files: a training set in the split-file layout (``train.txt`` +
``JPEGImages/<video>/``) and held-out videos with other seeds in the DAVIS layout
(``JPEGImages/<video>/`` + ``Annotations/<video>/``).

The world: smooth multi-octave value-noise backgrounds under a slow camera pan; one or two
objects of 25–50 % of the frame side (ellipses, rectangles, stars) filled with finer value
noise in other colours, moving 2–6 px per frame and bouncing off the borders.

    python benchmarks/foreign_world.py --out runs/foreign_world
    amd-train --config synthetic.yaml --out-dir runs/foreign_train --set data.kind=split \\
        data.root=runs/foreign_world/train data.split=runs/foreign_world/train/train.txt \\
        eval.root=runs/foreign_world/heldout eval.synthetic_videos=0 run.max_minutes=15
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm


@dataclass(frozen=True)
class ForeignWorld:
    """Parameters of the world (pixels at ``size``)."""

    size: int = 128
    frames: int = 8
    objects: tuple[int, int] = (1, 2)
    side: tuple[float, float] = (0.25, 0.5)
    speed: tuple[float, float] = (2.0, 6.0)
    pan: float = 1.0


def value_noise(rng: np.random.Generator, height: int, width: int, first: int) -> np.ndarray:
    """H×W noise in [0, 1]: random grids of 2^o·``first`` cells, upsampled and summed."""
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(4):
        cells = first * 2**octave
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = np.asarray(
            Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        )
        weight = 0.5**octave
        total += weight * layer
        weight_sum += weight
    total /= weight_sum
    return (total - total.min()) / max(float(total.max() - total.min()), 1e-6)


def colourize(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """Map H×W noise through a random three-colour ramp to H×W×3 float RGB."""
    stops = rng.uniform(0, 255, (3, 3))
    x = noise[..., None]
    low = stops[0] + (stops[1] - stops[0]) * np.clip(2 * x, 0, 1)
    return low + (stops[2] - stops[1]) * np.clip(2 * x - 1, 0, 1)


def outline(rng: np.random.Generator, diameter: float) -> list[tuple[float, float]]:
    """Polygon (around the origin) of an ellipse, a rectangle or a five-pointed star."""
    kind = rng.integers(3)
    a = diameter / 2
    b = a * rng.uniform(0.6, 1.0)
    turn = rng.uniform(0, np.pi)
    if kind == 0:
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([a * np.cos(t), b * np.sin(t)], 1)
    elif kind == 1:
        pts = np.array([[-a, -b], [a, -b], [a, b], [-a, b]], float)
    else:
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        r = np.where(np.arange(10) % 2 == 0, a, a * 0.45)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return [tuple(p) for p in pts @ rot.T]


def render_video(world: ForeignWorld, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """T×S×S×3 uint8 frames and T×S×S bool masks (union of the objects) of one video."""
    rng = np.random.default_rng(seed)
    s, t_len = world.size, world.frames
    margin = int(np.ceil(world.pan * t_len)) + 2
    background = colourize(rng, value_noise(rng, s + 2 * margin, s + 2 * margin, 2))
    pan = rng.uniform(-world.pan, world.pan, 2)
    tracks = []
    for _ in range(int(rng.integers(world.objects[0], world.objects[1] + 1))):
        diameter = rng.uniform(*world.side) * s
        texture = colourize(rng, value_noise(rng, s, s, 8))
        angle = rng.uniform(0, 2 * np.pi)
        velocity = rng.uniform(*world.speed) * np.array([np.cos(angle), np.sin(angle)])
        start = rng.uniform(diameter / 2, s - diameter / 2, 2)
        tracks.append((outline(rng, diameter), texture, start, velocity, diameter))
    frames = np.empty((t_len, s, s, 3), np.uint8)
    masks = np.zeros((t_len, s, s), bool)
    positions = [track[2].copy() for track in tracks]
    velocities = [track[3].copy() for track in tracks]
    for t in range(t_len):
        off = np.round(margin + pan * t).astype(int)
        image = background[off[1] : off[1] + s, off[0] : off[0] + s].copy()
        for i, (polygon, texture, _, _, diameter) in enumerate(tracks):
            centre = positions[i]
            canvas = Image.new("L", (s, s), 0)
            ImageDraw.Draw(canvas).polygon(
                [(x + centre[0], y + centre[1]) for x, y in polygon], fill=255
            )
            alpha = np.asarray(canvas) > 127
            # the texture travels with the object: index it relative to the object's centre
            ys, xs = np.nonzero(alpha)
            ty = np.clip(ys - round(centre[1]) + s // 2, 0, s - 1)
            tx = np.clip(xs - round(centre[0]) + s // 2, 0, s - 1)
            image[ys, xs] = texture[ty, tx]
            masks[t] |= alpha
            # move, bouncing off the borders so that objects stay in view
            positions[i] = centre + velocities[i]
            for axis in range(2):
                if not diameter / 2 <= positions[i][axis] <= s - diameter / 2:
                    velocities[i][axis] *= -1
                    positions[i][axis] = np.clip(positions[i][axis], diameter / 2, s - diameter / 2)
        noisy = image + rng.normal(0, 2.0, image.shape)
        frames[t] = np.clip(noisy, 0, 255).astype(np.uint8)
    return frames, masks


def write_videos(out: Path, world: ForeignWorld, seeds: range, with_masks: bool) -> list[str]:
    """Write ``JPEGImages/<name>/*.jpg`` (and ``Annotations/<name>/*.png``); return the names."""
    names = []
    for seed in tqdm(seeds, desc=f"render {out.name}", unit="video"):
        name = f"v{seed:06d}"
        frames, masks = render_video(world, seed)
        frame_dir = out / "JPEGImages" / name
        frame_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(frame_dir / f"{t:05d}.jpg", quality=95)
        if with_masks:
            mask_dir = out / "Annotations" / name
            mask_dir.mkdir(parents=True, exist_ok=True)
            for t, mask in enumerate(masks):
                Image.fromarray(mask.astype(np.uint8) * 255).save(mask_dir / f"{t:05d}.png")
        names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train-videos", type=int, default=2000)
    parser.add_argument("--heldout-videos", type=int, default=24)
    args = parser.parse_args()
    world = ForeignWorld()
    train = args.out / "train"
    names = write_videos(train, world, range(args.train_videos), with_masks=False)
    (train / "train.txt").write_text("".join(f"JPEGImages/{n}\n" for n in names))
    first = 1_000_000  # held-out seeds far from the training seeds
    write_videos(args.out / "heldout", world, range(first, first + args.heldout_videos), True)
    print(f"wrote {len(names)} training and {args.heldout_videos} held-out videos to {args.out}")


if __name__ == "__main__":
    main()
