"""Run several `amd-train --config synthetic.yaml` variants side by side and tabulate emergence.

    python benchmarks/emergence_grid.py --steps 600 --eval-every 100 --parallel 2
    python benchmarks/emergence_grid.py --device cuda --parallel 8 --workers 2 \
        --only base,no_camo --out-dir runs/grid
    python benchmarks/emergence_grid.py --from-json benchmarks/results/grid_data_readout_h200.json \
        --plot runs/grid/grid.png     # tables and plot of a finished grid

Every variant trains from random init with the same seed on its own data settings and is
evaluated on held-out synthetic videos (seed 10000, never trained on) every ``--eval-every``
steps: label-free IoU (the foreground channel chosen without labels) and, for analysis
only, the oracle-channel IoU. Steps, not minutes, are the x axis, so variants that ran
concurrently (and so slower) are still compared fairly. Prints a markdown table per metric,
writes ``grid.json`` with every eval record and plots label-free IoU vs. steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# Data without the cases a single frame cannot show (camouflaged objects).
NO_CAMO = ("data.synthetic.camouflage_prob=0",)
# ... and without low-contrast objects or camera motion.
CLEAN = (*NO_CAMO, "data.synthetic.low_contrast_prob=0", "data.synthetic.background_pan=0")
SOFT_ARGMAX = (
    "model.motion_normalize_features=true",
    "model.motion_soft_argmax=true",
    "model.motion_center_input=true",
    "model.classifier_init_std=0.3",
)

REFLECT = ("model.appearance_padding=reflect",)
DENSE = ("loss.dense_flow_weight=1.0",)
LARGE = ("data.synthetic.object_size=[0.4, 0.8]",)
# Normalised readout: a cost volume with contrast from the first step (per-channel normalised
# features), a readout that needs no training (soft-argmax), no 2×2 / 4×4 levels at 128 px.
SKIP_COARSE = ("model.motion_min_level_size=8",)
OWN_MASKS = "model.pair_masks_with_other_frame=false"
READOUT = (*SOFT_ARGMAX, *SKIP_COARSE)

VARIANTS: dict[str, tuple[str, ...]] = {
    "base": (),
    "no_camo": NO_CAMO,
    "clean": CLEAN,
    "clean_one_object": (*CLEAN, "data.synthetic.max_objects=1"),
    "no_camo_soft_argmax": (*NO_CAMO, *SOFT_ARGMAX),
    "no_camo_lr6e-4": (*NO_CAMO, "optim.lr=6e-4"),
    "no_camo_head_dil1": (*NO_CAMO, "model.head_dilation=1"),
    "no_camo_k3": (*NO_CAMO, "model.num_segments=3"),
    # padding and dense flow: no position cue from padding, a dense-flow signal for the estimator
    "base_reflect_dense": (*REFLECT, *DENSE),
    "no_camo_reflect": (*NO_CAMO, *REFLECT),
    "no_camo_dense": (*NO_CAMO, *DENSE),
    "no_camo_reflect_dense": (*NO_CAMO, *REFLECT, *DENSE),
    "no_camo_reflect_dense_soft": (*NO_CAMO, *REFLECT, *DENSE, *SOFT_ARGMAX),
    "no_camo_replicate_dense": (*NO_CAMO, "model.appearance_padding=replicate", *DENSE),
    "no_camo_reflect_dense_hd1": (*NO_CAMO, *REFLECT, *DENSE, "model.head_dilation=1"),
    "clean_one_object_reflect_dense": (*CLEAN, "data.synthetic.max_objects=1", *REFLECT, *DENSE),
    # larger objects, the best CPU data (the padding grid's "dense" runs trained the
    # inconsistent "whole" flow; `DENSE` now trains the consistent per-pixel flow)
    "large": (*NO_CAMO, *LARGE),
    "large_dense": (*NO_CAMO, *LARGE, *DENSE),
    "large_dense_soft": (*NO_CAMO, *LARGE, *DENSE, *SOFT_ARGMAX),
    "large_own_masks": (*NO_CAMO, *LARGE, OWN_MASKS),
    "large_step1": (*NO_CAMO, *LARGE, "data.step_limit=1"),
    "large_k2": (*NO_CAMO, *LARGE, "model.num_segments=2"),
    "large_clean": (*CLEAN, *LARGE),
    "large_clean_dense": (*CLEAN, *LARGE, *DENSE),
    # normalised readout (SOFT_ARGMAX's normalisation is per channel now; per sample before)
    "skip_coarse": SKIP_COARSE,
    "readout": READOUT,
    "normalised_no_soft": (
        "model.motion_normalize_features=true",
        "model.motion_center_input=true",
        *SKIP_COARSE,
    ),
    "readout_large": (*READOUT, *NO_CAMO, *LARGE),
    "readout_clean": (*READOUT, *CLEAN),
    "readout_dense": (*READOUT, *DENSE),
    "motion256": ("model.motion_size=[256, 256]",),
    "readout_motion256": (*READOUT, "model.motion_size=[256, 256]"),
    # masks of the frame the flow is defined on (the reference composes frame A's flow with
    # frame B's masks, up to 18 px away at gap 3 here), and a gap of 1 frame
    "own_masks": (OWN_MASKS,),
    "step1": ("data.step_limit=1",),
    "own_masks_step1": (OWN_MASKS, "data.step_limit=1"),
    "large_own_masks_step1": (*NO_CAMO, *LARGE, OWN_MASKS, "data.step_limit=1"),
    # the learning rate. With labels, the same appearance network reached IoU
    # 0.71 in 15 CPU minutes at lr 1e-3 but 0.61 at 2e-4 (benchmarks/appearance_supervised.py).
    "lr1e-3": ("optim.lr=1e-3",),
    "lr2e-3": ("optim.lr=2e-3",),
    "lr1e-3_motion0.2": ("optim.lr=1e-3", "optim.motion_lr_scale=0.2"),
    "lr1e-3_clip1": ("optim.lr=1e-3", "optim.grad_clip=1.0"),
    "large_step1_lr1e-3": (*NO_CAMO, *LARGE, "data.step_limit=1", "optim.lr=1e-3"),
    "clean_one_object_lr1e-3": (*CLEAN, "data.synthetic.max_objects=1", "optim.lr=1e-3"),
    "lr1e-4": ("optim.lr=1e-4",),
    "lr5e-5": ("optim.lr=5e-5",),
    "large_step1_lr1e-4": (*NO_CAMO, *LARGE, "data.step_limit=1", "optim.lr=1e-4"),
    "large_step1_lr5e-5": (*NO_CAMO, *LARGE, "data.step_limit=1", "optim.lr=5e-5"),
}


def command(name: str, overrides: tuple[str, ...], args: argparse.Namespace) -> list[str]:
    common = [
        f"run.out_dir={args.out_dir / name}",
        f"run.device={args.device}",
        f"run.max_steps={args.steps}",
        f"run.max_minutes={args.max_minutes}",
        f"run.threads={args.threads}",
        f"data.num_workers={args.workers}",
        f"eval.every_steps={args.eval_every}",
        "eval.every_minutes=0",
        f"run.checkpoint_every={args.steps}",
        f"run.preview_every={args.steps}",
        "run.tensorboard=false",
        "run.resume=false",
    ]
    return [
        sys.executable,
        "-m",
        "amd_train.cli.train",
        "--config",
        "synthetic.yaml",
        "--quiet",
        "--set",
        *common,
        *overrides,
    ]


def read_evals(run_dir: Path) -> list[dict]:
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return []
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("kind") == "eval"]


def table(results: dict[str, list[dict]], key: str) -> str:
    steps = sorted({int(r["step"]) for evals in results.values() for r in evals})
    lines = [
        "| variant | " + " | ".join(str(s) for s in steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]
    for name, evals in results.items():
        by_step = {int(r["step"]): r[key] for r in evals}
        cells = [f"{by_step[s]:.3f}" if s in by_step else "" for s in steps]
        guess = (
            f" (no-model guess {evals[-1]['chance_iou']:.3f})"
            if evals and "chance_iou" in evals[-1]
            else ""
        )
        lines.append(f"| {name}{guess} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: dict[str, list[dict]], plot: Path) -> None:
    from amd_train.plots import line_plot

    print("\nlabel-free held-out IoU by step\n" + table(results, "iou"))
    print("\noracle-channel IoU by step (analysis only)\n" + table(results, "oracle_iou"))
    series = {
        name: ([r["step"] for r in evals], [r["iou"] for r in evals])
        for name, evals in results.items()
        if evals
    }
    if line_plot(series, plot, "training steps (batch 8)", "held-out IoU, label-free channel"):
        print(f"plot: {plot}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--max-minutes", type=float, default=0.0, help="per run; 0 = no limit")
    p.add_argument("--device", default="cpu")
    p.add_argument("--parallel", type=int, default=1, help="runs at once")
    p.add_argument("--workers", type=int, default=1, help="data workers per run")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--out-dir", type=Path, default=Path("runs/grid"))
    p.add_argument("--set", nargs="+", default=[], help="extra overrides for every variant")
    p.add_argument("--from-json", type=Path, help="only report a finished grid's grid.json")
    p.add_argument("--plot", type=Path, help="PNG path (default: OUT_DIR/grid.png)")
    args = p.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())["evals"]
        report(results, args.plot or args.from_json.with_suffix(".png"))
        return 0
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    pending = list(names)
    running: dict[str, subprocess.Popen] = {}
    start = time.monotonic()
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            log = (args.out_dir / f"{name}.log").open("w")
            cmd = command(name, (*VARIANTS[name], *args.set), args)
            running[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            print(f"[{time.monotonic() - start:6.0f} s] started {name}", flush=True)
        time.sleep(2.0)
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                del running[name]
                evals = read_evals(args.out_dir / name)
                last = evals[-1] if evals else None
                summary = (
                    f"step {int(last['step'])} IoU {last['iou']:.3f} "
                    f"(oracle {last['oracle_iou']:.3f})"
                    if last
                    else "no eval"
                )
                print(
                    f"[{time.monotonic() - start:6.0f} s] {name} exited {proc.returncode}: "
                    f"{summary}",
                    flush=True,
                )

    results = {name: read_evals(args.out_dir / name) for name in names}
    (args.out_dir / "grid.json").write_text(
        json.dumps({"variants": {n: VARIANTS[n] for n in names}, "evals": results}, indent=1)
    )
    report(results, args.plot or args.out_dir / "grid.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
