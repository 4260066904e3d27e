"""What stops emergence: one property of the synthetic world changed at a time.

    python benchmarks/emergence_worlds.py --steps 300 --eval-every 100 \
        --out runs/emergence_worlds --record benchmarks/results/emergence_worlds.json

Each variant trains ``amd-train`` (same trainer, same settings, same seed) for the same
number of steps, starting from the textured world (``synthetic_textured.yaml``) with one
property changed, and records the label-free held-out IoU at every ``--eval-every`` steps
on held-out videos of *its own* world (the no-model guess is recorded beside it, since it
differs between worlds). The noise world (``synthetic.yaml``, the default) is run on the
same footing. Steps, not minutes, are the axis, so the table does not depend on what else
the machine did; each record also carries its minutes. Runs resume where they stopped, so
an interrupted table can be completed by re-running the command.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from amd_train.config import load_train_config
from amd_train.plots import line_plot
from amd_train.trainer import train

TEXTURED = "synthetic_textured.yaml"
ALL_TEXTURES = "[noise, stripes, checker, gradient, mixture]"

# name → (config, overrides, what changes)
VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "textured": (TEXTURED, [], "the textured world as it is"),
    "noise_textures": (
        TEXTURED,
        ["data.synthetic.background_textures=[noise]", "data.synthetic.object_textures=[noise]"],
        "noise textures only (size-relative grain)",
    ),
    "texture_scale": (
        TEXTURED,
        ["data.synthetic.background_cell=[24,64]", "data.synthetic.object_cell=[3,8]"],
        "coarse background / fine object noise grain",
    ),
    "no_camouflage": (
        TEXTURED,
        ["data.synthetic.camouflage_prob=0", "data.synthetic.low_contrast_prob=0"],
        "no camouflaged or low-contrast objects",
    ),
    "large_objects": (
        TEXTURED,
        ["data.synthetic.object_size=[0.4,0.75]"],
        "objects 0.4-0.75 of the short side (was 0.2-0.5)",
    ),
    "one_object": (TEXTURED, ["data.synthetic.max_objects=1"], "one object (was 1-3)"),
    "static_camera": (TEXTURED, ["data.synthetic.background_pan=0"], "static camera (pan 0)"),
    "slow_objects": (
        TEXTURED,
        ["data.synthetic.object_speed=[1,3]"],
        "objects 1-3 px/frame (was 2-6)",
    ),
    "gap_1": (TEXTURED, ["data.step_limit=1"], "frame gap 1 (was 1-3)"),
    "noise_world": ("synthetic.yaml", [], "the noise world (synthetic.yaml, the default)"),
    "noise_world_two_objects": (
        "synthetic.yaml",
        ["data.synthetic.max_objects=2"],
        "the noise world with 1-2 objects",
    ),
}

# The other direction: the noise world (the default) with one property of the textured world.
NOISE = "synthetic.yaml"
VARIANTS |= {
    "nw_periodic_textures": (
        NOISE,
        [
            f"data.synthetic.background_textures={ALL_TEXTURES}",
            f"data.synthetic.object_textures={ALL_TEXTURES}",
        ],
        "textured world's textures (stripes, checkers, gradients, mixtures and noise)",
    ),
    "nw_same_grain": (
        NOISE,
        ["data.synthetic.background_cell=[0,0]", "data.synthetic.object_cell=[0,0]"],
        "size-relative noise grain for scene and object (was coarse scene, fine object)",
    ),
    "nw_small_objects": (
        NOISE,
        ["data.synthetic.object_size=[0.2,0.5]"],
        "objects 0.2-0.5 of the short side (was 0.4-0.75)",
    ),
    "nw_three_objects": (NOISE, ["data.synthetic.max_objects=3"], "1-3 objects (was 1)"),
    "nw_camouflage": (
        NOISE,
        ["data.synthetic.camouflage_prob=0.2", "data.synthetic.low_contrast_prob=0.2"],
        "camouflaged or low-contrast objects (0.2 each)",
    ),
    "nw_fast_camera": (NOISE, ["data.synthetic.background_pan=3"], "camera pan 3 (was 1.5)"),
    "nw_static_camera": (NOISE, ["data.synthetic.background_pan=0"], "static camera (pan 0)"),
    "nw_slow_objects": (
        NOISE,
        ["data.synthetic.object_speed=[1,3]"],
        "objects 1-3 px/frame (was 2-6)",
    ),
    "nw_gaps_1_3": (NOISE, ["data.step_limit=3"], "frame gaps 1-3 (was 1)"),
    "nw_five_segments": (NOISE, ["model.num_segments=5"], "five segments (was 2)"),
}


def eval_records(run: Path) -> list[dict]:
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        return []
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("kind") == "eval"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("runs/emergence_worlds"))
    p.add_argument("--record", type=Path, default=None, help="write the table as JSON here")
    p.add_argument("--only", nargs="*", default=None, help="variant names (default: all)")
    p.add_argument(
        "--from-noise-world",
        action="store_true",
        help="the nw_* variants and the noise world itself (default: the textured-world ones)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = every core)")
    args = p.parse_args(argv)
    from_noise = [n for n in VARIANTS if n.startswith("nw_")]
    names = args.only or (
        ["noise_world", *from_noise]
        if args.from_noise_world
        else [n for n in VARIANTS if n not in from_noise]
    )
    unknown = set(names) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    rows = {}
    for name in names:
        config, overrides, what = VARIANTS[name]
        run = args.out / name
        cfg = load_train_config(
            config,
            [
                *overrides,
                f"run.out_dir={run}",
                # a long poly schedule (as in the default 100000-step config): the lr stays
                # at its peak over the steps measured here, as it does in a 30-minute run
                "run.max_steps=100000",  # stop_at_step ends the run
                "run.max_minutes=0",
                f"run.threads={args.threads}",
                f"eval.every_steps={args.eval_every}",
                "eval.every_minutes=0",
                f"run.checkpoint_every={args.eval_every}",
            ],
        )
        done = [r for r in eval_records(run) if r["step"] >= args.steps]
        if not done:
            print(f"\n=== {name}: {what}", flush=True)
            train(replace(cfg, run=replace(cfg.run, stop_at_step=args.steps)))
        evals = [r for r in eval_records(run) if r["step"] <= args.steps]
        rows[name] = {
            "what": what,
            "config": config,
            "overrides": overrides,
            "chance_iou": evals[-1]["chance_iou"] if evals else None,
            "evals": [
                {k: r[k] for k in ("step", "minutes", "iou", "oracle_iou") if k in r} for r in evals
            ],
        }
    steps = sorted({int(e["step"]) for row in rows.values() for e in row["evals"]})
    print("\n| variant | " + " | ".join(f"IoU @ {s}" for s in steps) + " | no-model guess |")
    print("|---|" + "---:|" * (len(steps) + 1))
    for name, row in rows.items():
        by_step = {int(e["step"]): e["iou"] for e in row["evals"]}
        cells = [f"{by_step[s]:.3f}" if s in by_step else "–" for s in steps]
        print(f"| {name}: {row['what']} | " + " | ".join(cells) + f" | {row['chance_iou']:.3f} |")
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        payload = {"steps": args.steps, "eval_every": args.eval_every, "variants": rows}
        args.record.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        picture = line_plot(
            {
                n: ([e["step"] for e in r["evals"]], [e["iou"] for e in r["evals"]])
                for n, r in rows.items()
            },
            args.record.with_suffix(".png"),
            "training steps",
            "held-out label-free IoU",
            "one property of the synthetic world at a time",
        )
        print(f"record: {args.record}; picture: {picture}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
