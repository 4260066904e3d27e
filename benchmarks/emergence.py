"""Plot the emergence curve of a training run: label-free held-out IoU vs. wall-clock minutes.

    python benchmarks/emergence.py runs/synthetic --out benchmarks/emergence_synthetic.png
    python benchmarks/emergence.py benchmarks/results/emergence_gpu_h200.jsonl --x steps
    python benchmarks/emergence.py runs/seed0 --also runs/seed1   # repeats on one picture
    python benchmarks/emergence.py runs/new --also runs/old --also-labels "old recipe"

Reads ``metrics.jsonl`` written by ``amd-train`` (its ``eval`` records: held-out synthetic
videos never trained on, foreground channel chosen without labels; the oracle-channel IoU
is plotted for analysis only) and prints the table used in benchmarks/README.md. Runs with
a weight average (``optim.ema_decay``) evaluate the average; their raw weights' IoU, recorded
alongside, is shown too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from amd_train.plots import line_plot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--x", choices=("minutes", "steps"), default="minutes", help="x axis")
    p.add_argument("--machine", default="2 CPU cores", help="for the axis label")
    p.add_argument(
        "--also", type=Path, nargs="*", default=[], help="more runs (repeats): label-free IoU only"
    )
    p.add_argument("--also-labels", nargs="*", default=None, help="legend names of the --also runs")
    args = p.parse_args(argv)
    labels = args.also_labels or [f"repeat {i}" for i in range(1, len(args.also) + 1)]
    if len(labels) != len(args.also):
        p.error(f"--also-labels names {len(labels)} curves, --also gives {len(args.also)}")
    metrics = _metrics_file(args.run)
    evals = _evals(metrics)
    if not evals:
        print(f"{args.run}: no eval records")
        return 1
    raw = all("raw_iou" in r for r in evals)
    print("| minutes | step | label-free IoU | oracle-channel IoU (analysis) |"
          + (" raw weights, label-free |" if raw else ""))  # fmt: skip
    print("|---:|---:|---:|---:|" + ("---:|" if raw else ""))
    for r in evals:
        print(f"| {r['minutes']:.1f} | {int(r['step'])} | {r['iou']:.3f} | {r['oracle_iou']:.3f} |"
              + (f" {r['raw_iou']:.3f} |" if raw else ""))  # fmt: skip
    # newer runs also record the IoU of the best no-model guess
    chance = [(evals[-1]["chance_iou"], "no-model guess")] if "chance_iou" in evals[-1] else []
    if chance:
        print(f"no-model guess (whole frame or centred disk): IoU {chance[0][0]:.3f}")
    out = args.out or metrics.parent / "emergence.png"
    xs = _xs(evals, args.x)
    line_plot(
        {
            "label-free IoU": (xs, [r["iou"] for r in evals]),
            "oracle-channel IoU (analysis only)": (xs, [r["oracle_iou"] for r in evals]),
            **(
                {"raw weights (no average), label-free": (xs, [r["raw_iou"] for r in evals])}
                if raw
                else {}
            ),
            **{
                f"label-free IoU, {label}": _curve(run, args.x)
                for label, run in zip(labels, args.also)
            },
        },
        out,
        f"wall-clock minutes ({args.machine})" if args.x == "minutes" else "training steps",
        "held-out foreground IoU",
        "amd-train --config synthetic.yaml",
        hlines=chance
        + ([(0.75, "goal @15 min"), (0.85, "goal @30 min")] if args.x == "minutes" else []),
    )
    print(f"plot: {out}")
    return 0


def _metrics_file(run: Path) -> Path:
    return run if run.suffix in (".jsonl", ".json") else run / "metrics.jsonl"


def _evals(metrics: Path) -> list[dict]:
    """Eval records of a run's metrics.jsonl, or of a results record (JSON with an "eval" list)."""
    if metrics.suffix == ".json":
        record = json.loads(metrics.read_text())
        if not isinstance(record, dict) or "eval" not in record:
            raise SystemExit(f"{metrics}: not a results record with an 'eval' list")
        return record["eval"]
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    return [r for r in records if r["kind"] == "eval"]


def _xs(evals: list[dict], x: str) -> list[float]:
    return [r["minutes"] if x == "minutes" else r["step"] for r in evals]


def _curve(run: Path, x: str) -> tuple[list[float], list[float]]:
    evals = _evals(_metrics_file(run))
    return _xs(evals, x), [r["iou"] for r in evals]


if __name__ == "__main__":
    raise SystemExit(main())
