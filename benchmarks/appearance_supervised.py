"""Upper bound for the emergence target: the appearance pathway trained *with* the answer.

    python benchmarks/appearance_supervised.py --minutes 15 --out runs/appearance_supervised

Trains only the appearance pathway of ``synthetic.yaml``'s model (small stride-8 net, K from the config: 5 when these runs were made)
with per-pixel cross-entropy against the generator's ground-truth foreground masks
(foreground → channel 1, background → channel 0), on the same training stream settings
(``data.synthetic``, one video per sample, 16 frames per step = the 8 pairs of a training
step), the same optimiser (Adam, ``optim.lr``, ``optim.weight_decay``, constant lr) and the
same threads (1 intra-op thread + 1 data worker). Every ``--every`` minutes it scores the
held-out videos the trainer scores (``eval.seed``): J of channel 1, and J of the channel the
label-free rule picks (the rule does not know channel 1 is special).

What it answers: how far the *appearance* network can get on this data in the emergence
target's wall-clock budget when nothing has to emerge. If even this stays below IoU 0.7
after 15 minutes, the target is out of reach of any unsupervised objective with this net,
data and machine; if it gets there quickly, the gap is the unsupervised signal.
Writes ``appearance_supervised.json`` (one record per evaluation) into ``--out``, and with
``--plot PNG`` a plot of IoU vs minutes, beside the label-free IoU of an ``amd-train`` run
when ``--compare`` names its ``metrics.jsonl``. ``--replot RESULT.json ...`` redraws the
plot from saved results (one curve each) without training:

    python benchmarks/appearance_supervised.py --replot \
        benchmarks/results/appearance_supervised_15min*.json \
        --compare benchmarks/results/emergence_cpu_30min.jsonl \
        --plot benchmarks/appearance_supervised.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

from amd_plugin.modeling.amd import AMD, normalize
from amd_train.config import load_train_config
from amd_train.data.sampling import make_rng
from amd_train.evaluate import evaluate_video
from amd_train.heldout import HeldOutEvaluator
from amd_train.synthetic import SyntheticConfig, generate_video

FOREGROUND_CHANNEL = 1


class LabelledFrames(IterableDataset):
    """Endless ``(3×H×W normalised frame, H×W long mask)`` pairs, two frames per video."""

    def __init__(self, cfg: SyntheticConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed

    def __iter__(self):
        v = 0
        while True:
            rng = make_rng(self.seed, v, 7)
            picks = sorted(rng.choice(self.cfg.num_frames, 2, replace=False).tolist())
            video = generate_video(self.cfg, (self.seed, v), frame_indices=picks)
            for frame, mask in zip(video.frames, video.masks):
                x = torch.from_numpy(frame).permute(2, 0, 1).float()[None]
                yield normalize(x)[0], torch.from_numpy(mask.astype(np.int64))
            v += 1


def score(model: AMD, evaluator: HeldOutEvaluator) -> dict:
    model.eval()
    fixed, label_free = [], []
    for name, frames, gts in evaluator.videos:
        # one segmentation per video: the supervised channel's J comes from every channel's
        result = evaluate_video(
            model, name, frames, gts, evaluator.short_side, "label-free", boundary=False
        )
        label_free.append(result.j_mean)
        fixed.append(float(result.details["channel_J"][FOREGROUND_CHANNEL]))
    model.train()
    return {"iou_channel1": float(np.mean(fixed)), "iou_label_free": float(np.mean(label_free))}


def plot(results: list[dict], compare: Path | None, path: Path) -> None:
    from amd_train.plots import line_plot

    series = {}
    for result in results:
        lr = load_train_config(result["config"], result["overrides"]).optim.lr
        records = result["records"]
        series[f"appearance pathway with labels, lr {lr:g}"] = (
            [r["minutes"] for r in records],
            [r["iou_channel1"] for r in records],
        )
    if compare is not None:
        lines = compare.read_text().splitlines()
        evals = [r for r in map(json.loads, lines) if r.get("kind") == "eval"]
        series["amd-train synthetic.yaml (no labels, label-free channel)"] = (
            [r["minutes"] for r in evals],
            [r["iou"] for r in evals],
        )
    hlines = [(results[0]["chance_iou"], "no-model guess"), (0.7, "target @15 min")]
    line_plot(series, path, "wall-clock minutes (2 CPU cores)", "held-out IoU", "", hlines)
    print(f"plot: {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthetic.yaml")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--every", type=float, default=2.5, help="minutes between evaluations")
    p.add_argument("--frames-per-step", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("runs/appearance_supervised"))
    p.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    p.add_argument("--plot", type=Path, help="write IoU vs minutes as a PNG")
    p.add_argument("--compare", type=Path, help="an amd-train metrics.jsonl to plot alongside")
    p.add_argument("--replot", type=Path, nargs="+", help="plot saved results, no training")
    args = p.parse_args(argv)
    if args.replot:
        if not args.plot:
            p.error("--replot needs --plot")
        plot([json.loads(r.read_text()) for r in args.replot], args.compare, args.plot)
        return 0

    cfg = load_train_config(args.config, args.set)
    torch.manual_seed(cfg.run.seed)
    torch.set_num_threads(args.threads)
    model = AMD(cfg.model)
    params = model.appearance.parameters()
    optimizer = torch.optim.Adam(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    evaluator = HeldOutEvaluator(cfg)
    loader = DataLoader(
        LabelledFrames(cfg.data.synthetic, cfg.run.seed),
        batch_size=args.frames_per_step,
        num_workers=1,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    records = [{"minutes": 0.0, "step": 0, **score(model, evaluator)}]
    print(records[-1], flush=True)
    start = last_eval = time.monotonic()
    eval_seconds = 0.0
    model.train()
    for step, (images, masks) in enumerate(loader, start=1):
        logits = model.appearance(images)
        logits = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.cross_entropy(logits, masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        now = time.monotonic()
        train_minutes = (now - start - eval_seconds) / 60
        if (now - last_eval) / 60 >= args.every or train_minutes >= args.minutes:
            tic = time.monotonic()
            rec = {"minutes": round(train_minutes, 2), "step": step, "loss": float(loss.detach())}
            records.append({**rec, **score(model, evaluator)})
            print(records[-1], flush=True)
            eval_seconds += time.monotonic() - tic
            last_eval = time.monotonic()
        if train_minutes >= args.minutes:
            break
    result = {"config": args.config, "overrides": args.set, "chance_iou": evaluator.chance_iou}
    result["records"] = records
    (args.out / "appearance_supervised.json").write_text(json.dumps(result, indent=1))
    if args.plot:
        plot([result], args.compare, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
