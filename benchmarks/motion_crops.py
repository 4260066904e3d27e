"""What the trainer sees from a corpus: random crops next to motion-centred crops.

Draws the same training items twice, once with the reference's random crops and once with
``data.motion_crop_prob=1`` (amd_train/data/motion_crop.py), and writes a contact sheet:
for each item the crop of frame A and, below it, |A − B| (white = changed). Also counts how
many pairs had no localised motion (nothing or everything changed) and fell back to a
random crop.

    python benchmarks/motion_crops.py --config real.yaml --out benchmarks/real_motion_crops.jpg \\
        --set data.kind=frames data.root=runs/real_corpus data.motion_crop_zoom=[1.0,3.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from amd_train.config import load_train_config
from amd_train.data.datasets import build_dataset
from amd_train.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def tile(frame_a: torch.Tensor, frame_b: torch.Tensor) -> np.ndarray:
    """Normalised 3×h×w crops → a (2h)×w×3 uint8 tile: frame A over |A − B|."""
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    image = (frame_a * std + mean).clamp(0, 255).permute(1, 2, 0).byte().numpy()
    diff = ((frame_a - frame_b) * std).abs().mean(0).clamp(0, 60) / 60 * 255
    return np.concatenate([image, diff.byte().numpy()[..., None].repeat(3, 2)], 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="real.yaml")
    parser.add_argument("--set", nargs="*", default=[], dest="overrides")
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--count", type=int, default=400, help="pairs to count fallbacks on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/motion_crops.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    random_cfg = load_train_config(args.config, [*args.overrides, "data.motion_crop_prob=0"])
    motion_cfg = load_train_config(args.config, [*args.overrides, "data.motion_crop_prob=1"])
    random_ds, motion_ds = build_dataset(random_cfg.data, 0), build_dataset(motion_cfg.data, 0)
    picks = np.random.default_rng(args.seed).choice(len(random_ds), args.items, replace=False)
    rows = []
    for ds in (random_ds, motion_ds):
        items = [ds[int(i)] for i in picks]
        rows.append(np.concatenate([tile(it["frame_a"], it["frame_b"]) for it in items], 1))
    sheet = Image.fromarray(np.concatenate(rows, 0))
    draw = ImageDraw.Draw(sheet)
    half = sheet.height // 2
    draw.text((4, 4), "random crops", fill=(255, 255, 0))
    draw.text((4, half + 4), "motion-centred crops", fill=(255, 255, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)

    # how often a pair has localised motion at all (else the trainer takes a random crop):
    # the dataset's own items, through the transform it applies, told whether it centred
    found = 0
    counted = np.random.default_rng(args.seed + 1).choice(len(motion_ds), args.count)
    for index in counted:
        *_, centred = motion_ds.transform.apply(*motion_ds.decoded_pair(int(index)))
        found += centred
    print(f"{args.out}: {args.items} items; localised motion in {found}/{args.count} pairs")


if __name__ == "__main__":
    main()
