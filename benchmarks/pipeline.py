"""Pipeline overhead of ``apply_amd`` and peak memory of video inference.

    python benchmarks/pipeline.py overhead --frames 48      # needs fiftyone (+ its database)
    python benchmarks/pipeline.py memory --frames 30 150    # 1080p video, peak RSS per run

``overhead``: the same decoded frames of one 640×360 video are segmented (1) by the model
alone, ``Segmenter.predict`` on batches of ``write_batch`` frames already in memory, and (2)
by ``apply_to_collection`` on a FiftyOne video dataset holding that video (decode, segment,
write mask + heatmap PNGs, store labels). Rounds alternate; the best of each counts; the
ratio (2)/(1) is the pipeline's overhead.

``memory``: ``amd-segment`` on a 1920×1080 video, each length in its own child process;
the peak resident set size (``ru_maxrss``) is printed per length. Bounded memory means the
peak does not grow with the number of frames.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amd_plugin import Segmenter
from amd_plugin.io.video import iter_video_frames
from amd_train.data.video_file import write_video
from amd_train.synthetic import SyntheticConfig, generate_video


def make_video(path: Path, frames: int, height: int, width: int, seed: int = 0) -> Path:
    """A synthetic clip rendered at a quarter of the size and upsampled (cheap at 1080p)."""
    cfg = SyntheticConfig(height=height // 4, width=width // 4, num_frames=frames)
    small = generate_video(cfg, (seed, 0)).frames
    return write_video(path, small.repeat(4, axis=1).repeat(4, axis=2))


def overhead(args: argparse.Namespace) -> None:
    import fiftyone as fo

    from fiftyone_plugin.apply import apply_to_collection
    from fiftyone_plugin.options import ApplyOptions

    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "clip.mp4", args.frames, 360, 640)
        frames = [image for _, image in iter_video_frames(video)]
        segmenter = Segmenter(args.checkpoint, device="cpu", short_side=args.short_side)
        options = dict(output_dir=Path(tmp) / "masks", overwrite=True, write_batch=16)
        name = f"amd-pipeline-benchmark-{time.time_ns()}"
        dataset = fo.Dataset(name)
        try:
            dataset.add_sample(fo.Sample(filepath=str(video)))
            segmenter.predict(frames[:4])  # warm-up
            model_s, pipeline_s = [], []
            for _ in range(args.rounds):
                start = time.perf_counter()
                for i in range(0, len(frames), 16):
                    segmenter.predict(frames[i : i + 16])
                model_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                summary = apply_to_collection(dataset, segmenter, ApplyOptions(**options))
                pipeline_s.append(time.perf_counter() - start)
                assert summary.frames == len(frames), summary
        finally:
            dataset.delete()
    best_model, best_pipeline = min(model_s), min(pipeline_s)
    print(
        f"# {len(frames)} frames 640×360, checkpoint {args.checkpoint}, short side "
        f"{args.short_side}, best of {args.rounds} alternating rounds"
    )
    print("| run | seconds | frames/s |")
    print("|---|---:|---:|")
    print(f"| model alone (frames in memory) | {best_model:.2f} | {len(frames) / best_model:.1f} |")
    print(f"| apply_to_collection | {best_pipeline:.2f} | {len(frames) / best_pipeline:.1f} |")
    print(f"overhead: {best_pipeline / best_model - 1:+.1%} (goal ≤ +10%)")


def peak_rss_mib(command: list[str]) -> float:
    """Run ``command`` in a fresh Python that reports its child's peak RSS."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1]) / 1024  # Linux reports KiB


def memory(args: argparse.Namespace) -> None:
    print(f"# amd-segment on 1920×1080 video, checkpoint {args.checkpoint}")
    print("| frames | video MiB (decoded RGB) | peak RSS MiB | seconds |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            video = make_video(Path(tmp) / f"clip{n}.mp4", n, 1080, 1920)
            command = [
                sys.executable, "-m", "amd_plugin.cli.segment", str(video),
                "--checkpoint", args.checkpoint, "--out", str(Path(tmp) / f"out{n}"),
                "--short-side", str(args.short_side),
            ]  # fmt: skip
            start = time.perf_counter()
            rss = peak_rss_mib(command)
            seconds = time.perf_counter() - start
            decoded = n * 1080 * 1920 * 3 / 2**20
            print(f"| {n} | {decoded:.0f} | {rss:.0f} | {seconds:.1f} |", flush=True)
    print(
        f"(this process, for scale: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--frames", type=int, default=48)
    o.add_argument("--rounds", type=int, default=3)
    m = sub.add_parser("memory")
    m.add_argument("--frames", type=int, nargs="+", default=[30, 150])
    for q in (o, m):
        q.add_argument("--checkpoint", default="synthetic-small")
        q.add_argument("--short-side", type=int, default=392)
    args = p.parse_args(argv)
    if args.what == "overhead":
        overhead(args)
    else:
        memory(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
