"""``amd-synth``: write a synthetic moving-object dataset (frames, masks, split file, mp4)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace

from amd_train.synthetic import SyntheticConfig, write_dataset


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of ``amd-synth``."""
    parser = argparse.ArgumentParser(
        prog="amd-synth",
        description="Write synthetic videos of textured moving objects in the reference layout "
        "(JPEGImages/, Annotations/, train.txt; optionally videos/*.mp4).",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if missing)")
    parser.add_argument("--videos", type=int, default=16, help="number of videos (default 16)")
    parser.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    parser.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"), default=(128, 128), help="frame size"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument(
        "--objects",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(1, 3),
        help="objects per video (default 1 3)",
    )
    parser.add_argument(
        "--pan", type=float, default=2.0, help="max background pan, px/frame (default 2)"
    )
    parser.add_argument("--mp4", action="store_true", help="also write videos/<id>.mp4")
    parser.add_argument(
        "--no-frames", action="store_true", help="skip JPEG/PNG frames (needs --mp4)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    formats = ([] if args.no_frames else ["frames"]) + (["mp4"] if args.mp4 else [])
    if not formats:
        parser.error("--no-frames without --mp4 would write nothing")
    try:
        cfg = replace(
            SyntheticConfig(),
            height=args.size[0],
            width=args.size[1],
            num_frames=args.frames,
            min_objects=args.objects[0],
            max_objects=args.objects[1],
            background_pan=args.pan,
            seed=args.seed,
        )
        if args.videos < 1:
            raise ValueError(f"--videos must be >= 1, got {args.videos}")
        ids = write_dataset(
            args.out_dir, args.videos, cfg, seed=args.seed, formats=formats, progress=not args.quiet
        )
    except ValueError as err:
        parser.error(str(err))
    print(f"wrote {len(ids)} videos to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
