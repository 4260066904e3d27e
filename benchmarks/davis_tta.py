"""DAVIS table: J with the label-free channel vs. the oracle channel after ``amd-adapt``.

    python benchmarks/davis_tta.py --minutes 2          # all sequences, both starting points
    python benchmarks/davis_tta.py --synthetic 3 --minutes 3 --crop 128 128 --starts random

For every sequence of a DAVIS-2016-style folder (``<seq>/JPEGImages``, ``<seq>/Annotations``)
and every starting point (random init with the small backbone, the shipped
``synthetic-small`` checkpoint, or any checkpoint file given to ``--starts``) it runs
``amd-adapt`` for the same wall-clock minutes, then scores the adapted model on all
frames: J with the channel chosen without labels, and J with the best channel picked
using the ground truth (analysis only). Prints a markdown table and writes
``davis_tta.json``. ``--synthetic N`` instead renders N held-out synthetic
videos (``synthetic.yaml``'s generator settings, seed 20000 or ``--video-seed``, never
trained on) into that layout and adapts on those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTS = {
    "random": ["--checkpoint", "random", "--set", "model.backbone=small"],
    "synthetic-small": ["--checkpoint", "synthetic-small"],
}


def adapt_and_score(seq: Path, start: str, out: Path, args) -> dict:
    from amd_plugin.checkpoint import load_model
    from amd_train.cli.adapt import main as adapt_main
    from amd_train.eval_data import load_gt_mask
    from amd_train.evaluate import evaluate_video
    from amd_train.tta import read_video_frames

    frames_dir = seq / "JPEGImages"
    h, w = args.crop
    argv = [str(frames_dir), "--out", str(out), "--minutes", str(args.minutes)]
    argv += ["--steps", str(args.steps), "--batch", str(args.batch), "--crop", str(h), str(w)]
    argv += ["--set", f"model.motion_size=[{h}, {w}]", "--set", f"run.threads={args.threads}"]
    for override in args.set:
        argv += ["--set", override]
    start_args = STARTS.get(start, ["--checkpoint", start])  # else a checkpoint file
    if adapt_main(argv + start_args) != 0:
        raise RuntimeError(f"amd-adapt failed on {seq.name} from {start}")
    report = json.loads((out / "adapt_report.json").read_text())
    model = load_model(out / "adapted.pt").model
    frames = read_video_frames(frames_dir)
    gts = [load_gt_mask(p) for p in sorted((seq / "Annotations").glob("*.png"))]
    result = evaluate_video(model, seq.name, frames[: len(gts)], gts, min(h, w), boundary=False)
    return {
        "sequence": seq.name,
        "start": start,
        "minutes": args.minutes,
        "steps": report["steps"],
        "loss_first": report["loss_first"],
        "loss_last": report["loss_last"],
        "J_before": report.get("J_before"),
        "label_free_channel": result.channel,
        "J_label_free": result.j_mean,
        "oracle_channel": result.oracle_channel,
        "J_oracle": result.oracle_j_mean,
    }


def write_synthetic_sequences(root: Path, count: int, frames: int, seed: int = 20_000) -> Path:
    """``count`` held-out synthetic videos as ``root/<id>/{JPEGImages,Annotations}`` (the
    layout of the DAVIS sequences here; lossless PNG frames). Video ``v`` is drawn with
    the generator seed ``(seed, v)`` (training draws ``(0, i)``, held-out evaluation
    ``(10_000, i)``)."""
    from dataclasses import replace

    from amd_train.config import load_train_config
    from amd_train.synthetic import generate_video, write_video_frames

    cfg = replace(load_train_config("synthetic.yaml").data.synthetic, num_frames=frames)
    for v in range(count):
        sequence = root / f"synth{v:02d}"
        video = generate_video(cfg, (seed, v))
        write_video_frames(video, sequence / "JPEGImages", sequence / "Annotations", ".png")
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "davis2016-dev")
    p.add_argument("--minutes", type=float, default=2.0, help="adaptation budget per run")
    p.add_argument(
        "--steps",
        type=int,
        default=100_000,
        help="step budget per run (with --minutes 0 the steps alone decide: comparable "
        "runs on a CPU shared with other work)",
    )
    p.add_argument("--crop", type=int, nargs=2, default=(128, 192), metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--starts",
        nargs="+",
        default=list(STARTS),
        help=f"{' / '.join(STARTS)} or checkpoint files",
    )
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "davis_tta_out")
    p.add_argument("--set", nargs="+", default=[], help="extra amd-adapt overrides")
    p.add_argument("--synthetic", type=int, default=0, help="use N synthetic videos instead")
    p.add_argument("--frames", type=int, default=24, help="frames per synthetic video")
    p.add_argument(
        "--video-seed", type=int, default=20_000, help="generator seed of the synthetic videos"
    )
    args = p.parse_args(argv)
    if args.synthetic:
        args.root = write_synthetic_sequences(
            args.out / "videos", args.synthetic, args.frames, args.video_seed
        )
    sequences = sorted(d for d in args.root.iterdir() if (d / "JPEGImages").is_dir())
    if not sequences:
        print(f"{args.root}: no <seq>/JPEGImages folders", file=sys.stderr)
        return 2
    rows = []
    for seq in sequences:
        for start in args.starts:
            name = Path(start).stem if start not in STARTS else start
            rows.append(adapt_and_score(seq, start, args.out / f"{seq.name}_{name}", args))
            (args.out / "davis_tta.json").write_text(json.dumps(rows, indent=2))
    print(
        "\n| sequence | start | steps | loss first → last | label-free ch | J label-free "
        "| oracle ch | J oracle (analysis) | gap |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['sequence']} | {r['start']} | {r['steps']} | "
            f"{r['loss_first']:.3f} → {r['loss_last']:.3f} | {r['label_free_channel']} | "
            f"{r['J_label_free']:.3f} | {r['oracle_channel']} | {r['J_oracle']:.3f} | "
            f"{r['J_oracle'] - r['J_label_free']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
