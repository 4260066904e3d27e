"""``amd-adapt``: test-time adaptation on one video, then segmentation of that video.

    amd-adapt clip.mp4 --checkpoint amd_pretrained.pth --out adapted/
    amd-adapt frames_dir/ --checkpoint random --steps 300 --crop 128 128 --set model.backbone=small

Fine-tunes with the same unsupervised objective on the video's own frame pairs
(``configs/tta.yaml``), chooses the foreground channel without labels, writes masks and an
overlay video, plots the loss curve and, when ground truth is given (``--gt``, or an
``Annotations`` folder beside the frames), reports J before and after adaptation.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from amd_plugin.checkpoint import CheckpointError, load_model
from amd_plugin.config import ConfigError
from amd_plugin.io.images import MediaError
from amd_train.data.base import DataError

log = logging.getLogger("amd-adapt")


def find_gt(video: Path, gt: Path | None) -> Path | None:
    if gt is not None:
        return gt
    for candidate in (
        video.parent / "Annotations",
        video.parent.parent / "Annotations" / video.name,
    ):
        if video.is_dir() and candidate.is_dir():
            return candidate
    return None


def score(model, frames, gt_dir: Path, short_side: int) -> tuple[float, int]:
    """Label-free J of ``model`` on frames whose GT exists in ``gt_dir``."""
    from amd_train.eval_data import load_gt_mask, resize_mask_nearest
    from amd_train.evaluate import evaluate_video

    paths = sorted(p for p in gt_dir.iterdir() if p.suffix.lower() == ".png")
    gts = []
    for frame, path in zip(frames, paths):
        mask = load_gt_mask(path)
        gts.append(
            mask if mask.shape == frame.shape[:2] else resize_mask_nearest(mask, frame.shape[:2])
        )
    result = evaluate_video(model, "video", frames[: len(gts)], gts, short_side, boundary=False)
    return result.j_mean, result.channel


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(
        prog="amd-adapt",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("video", type=Path, help="video file or folder of frames")
    p.add_argument(
        "--checkpoint",
        default="synthetic-small",
        help="checkpoint path, built-in name, or 'random'",
    )
    p.add_argument("--out", type=Path, default=Path("adapt_out"))
    p.add_argument("--config", default="tta.yaml")
    p.add_argument("--steps", type=int, help="adaptation iterations (run.max_steps)")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch", type=int)
    p.add_argument(
        "--crop", type=int, nargs=2, metavar=("H", "W"), help="training crop; also sets the resize"
    )
    p.add_argument("--minutes", type=float, help="wall-clock budget (run.max_minutes)")
    p.add_argument("--gt", type=Path, help="ground-truth mask folder (optional)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)

    from amd_train.tta import adapt_config, read_video_frames, run_adaptation

    checkpoint = None if args.checkpoint == "random" else args.checkpoint
    overrides = list(args.overrides)
    if args.steps:
        overrides.append(f"run.max_steps={args.steps}")
    if args.lr:
        overrides.append(f"optim.lr={args.lr}")
    if args.batch:
        overrides.append(f"run.batch_size={args.batch}")
    if args.minutes:
        overrides.append(f"run.max_minutes={args.minutes}")
    if args.crop:
        h, w = args.crop
        overrides += [
            f"data.crop_size=[{h}, {w}]",
            f"data.resize_short={min(h, w)}",
            "data.scale_min=1.0",
        ]
    try:
        cfg = adapt_config(args.video, args.out / "run", checkpoint, args.config, overrides)
    except (ConfigError, CheckpointError, ValueError) as err:
        print(f"amd-adapt: {err}", file=sys.stderr)
        return 2
    short = min(cfg.data.crop_size)
    gt_dir = find_gt(args.video, args.gt)
    try:
        frames = read_video_frames(args.video)
    except MediaError as err:
        print(f"amd-adapt: {err}", file=sys.stderr)
        return 2
    before = None
    if gt_dir is not None:
        from amd_plugin import AMD

        initial = load_model(checkpoint).model if checkpoint else AMD(cfg.model).eval()
        before = score(initial, frames, gt_dir, short)
    try:
        model, channel, losses, steps = run_adaptation(cfg)
    except (DataError, CheckpointError) as err:
        print(f"amd-adapt: {err}", file=sys.stderr)
        return 1

    from amd_plugin.checkpoint import save_checkpoint
    from amd_plugin.cli.segment import parse_args as segment_args
    from amd_plugin.cli.segment import segment_sequence
    from amd_plugin.predictor import Segmenter
    from amd_train.plots import line_plot

    adapted = save_checkpoint(
        model, args.out / "adapted.pt", foreground_channel=channel, run_config=cfg
    )
    segmenter = Segmenter(model, short_side=short, foreground=channel)
    seg_args = segment_args([str(args.video), "--out", str(args.out)])
    row = segment_sequence(segmenter, args.video, args.out, seg_args, channel)
    line_plot(
        {"loss": ([s for s, _ in losses], [v for _, v in losses])},
        args.out / "loss_curve.png",
        "step",
        "view-synthesis loss",
        "test-time adaptation",
    )
    report = {
        "video": str(args.video),
        "checkpoint": args.checkpoint,
        "steps": steps,
        "foreground_channel": channel,
        "objectness": row["objectness"],
        "adapted_checkpoint": str(adapted),
        "loss_first": losses[0][1] if losses else None,
        "loss_last": losses[-1][1] if losses else None,
    }
    if gt_dir is not None:
        after = score(model, frames, gt_dir, short)
        report.update(J_before=before[0], J_after=after[0], channel_before=before[1])
        print(f"J (label-free channel) before {before[0]:.3f} → after {after[0]:.3f}")
    (args.out / "adapt_report.json").write_text(json.dumps(report, indent=2))
    print(
        f"loss {report['loss_first']:.4f} → {report['loss_last']:.4f}; masks, overlay and loss_curve.png in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
