"""Real-video check: ``amd-segment`` and ``amd-adapt`` on Debian opencv-doc's sample videos.

    python benchmarks/real_videos.py                    # shipped checkpoint, 2 min TTA each
    python benchmarks/real_videos.py --minutes 5 --checkpoint runs/x/last.pt

These videos have no ground truth, so the script records what can be measured (decoded
frames, segmentation speed, adaptation loss first → last, objectness before/after) and writes
one picture per video for people to look at: sampled frames, the zero-shot foreground
heatmap, and the heatmap after test-time adaptation (``docs/images/real_<name>.png``).
Install the videos with ``apt-get install opencv-doc``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
VIDEOS = ("vtest.avi", "Megamind.avi", "tree.avi")


def run_segment(video: Path, checkpoint: str, out: Path, short_side: int) -> tuple[float, dict]:
    """Returns (seconds, amd-segment's summary row for the video)."""
    from amd_plugin.cli.segment import main as segment_main

    start = time.monotonic()
    rc = segment_main(
        [str(video), "--checkpoint", checkpoint, "--out", str(out), "--short-side", str(short_side)]
    )
    if rc != 0:
        raise RuntimeError(f"amd-segment failed on {video} (exit {rc})")
    return time.monotonic() - start, json.loads((out / "summary.json").read_text())[0]


def run_adapt(video: Path, checkpoint: str, out: Path, minutes: float, crop: int) -> dict:
    from amd_train.cli.adapt import main as adapt_main

    argv = [str(video), "--checkpoint", checkpoint, "--out", str(out), "--minutes", str(minutes)]
    argv += ["--steps", "100000", "--crop", str(crop), str(crop)]
    if adapt_main(argv) != 0:
        raise RuntimeError(f"amd-adapt failed on {video}")
    return json.loads((out / "adapt_report.json").read_text())


def heatmap_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A grey 0–255 heatmap PNG → an RGB picture (black → yellow) at ``size`` (w, h)."""
    grey = np.asarray(Image.open(path).convert("L").resize(size, Image.BILINEAR), np.float32)
    p = grey / 255.0
    return (np.stack([p, p * 0.85, p * 0.1], -1) * 255).astype(np.uint8)


def picture(video: Path, zero_shot: Path, adapted: Path, target: Path, columns: int = 5) -> None:
    """Rows: frames, zero-shot heatmap, heatmap after adaptation (shared frame numbers)."""
    from amd_plugin.io.video import iter_frames

    maps = sorted(p.stem for p in zero_shot.glob("*.png"))
    picks = {maps[i] for i in np.linspace(0, len(maps) - 1, columns).astype(int)}
    frames = {f"{n:05d}": f for n, f in iter_frames(video) if f"{n:05d}" in picks}
    tiles = []
    for name in sorted(picks):
        frame = frames[name]
        h, w = frame.shape[:2]
        scale = 160 / h
        size = (round(w * scale), 160)
        tiles.append(
            np.concatenate(
                [
                    np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR)),
                    heatmap_rgb(zero_shot / f"{name}.png", size),
                    heatmap_rgb(adapted / f"{name}.png", size),
                ]
            )
        )
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    strip = Image.fromarray(np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1))
    draw = ImageDraw.Draw(strip)
    for row, label in enumerate(("frame", "zero-shot", "after amd-adapt")):
        draw.rectangle((0, 160 * row, 8 + 7 * len(label), 160 * row + 14), fill=(0, 0, 0))
        draw.text((4, 160 * row + 2), label, fill=(255, 255, 255))
    target.parent.mkdir(parents=True, exist_ok=True)
    strip.save(target)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="synthetic-small")
    p.add_argument("--minutes", type=float, default=2.0, help="adaptation budget per video")
    p.add_argument("--crop", type=int, default=128, help="adaptation crop (and resolution)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "real_videos_out")
    p.add_argument("--pictures", type=Path, default=REPO / "docs" / "images")
    p.add_argument("videos", nargs="*", type=Path)
    args = p.parse_args(argv)
    videos = args.videos or [OPENCV_SAMPLES / v for v in VIDEOS if (OPENCV_SAMPLES / v).exists()]
    if not videos:
        print("no videos: install Debian's opencv-doc or pass video paths", file=sys.stderr)
        return 2
    rows = []
    for video in videos:
        name = video.stem
        seg_s, seg = run_segment(video, args.checkpoint, args.out / "zero_shot", args.crop)
        report = run_adapt(
            video, args.checkpoint, args.out / f"adapt_{name}", args.minutes, args.crop
        )
        picture(
            video,
            args.out / "zero_shot" / name / "heatmaps",
            args.out / f"adapt_{name}" / name / "heatmaps",
            args.pictures / f"real_{name}.png",
        )
        rows.append(
            {
                "video": video.name,
                "frames": seg["frames"],
                "segment_fps": seg["frames"] / seg_s,
                "objectness_zero_shot": seg["objectness"],
                "objectness_adapted": report["objectness"],
                "adapt_steps": report["steps"],
                "loss_first": report["loss_first"],
                "loss_last": report["loss_last"],
            }
        )
    print(
        "\n| video | frames | segment fps | objectness zero-shot → adapted | TTA steps | loss first → last |"
    )
    print("|---|---:|---:|---|---:|---|")
    for r in rows:
        print(
            f"| {r['video']} | {r['frames']} | {r['segment_fps']:.1f} | "
            f"{r['objectness_zero_shot']:.3f} → {r['objectness_adapted']:.3f} | {r['adapt_steps']} | "
            f"{r['loss_first']:.4f} → {r['loss_last']:.4f} |"
        )
    (args.out / "real_videos.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
