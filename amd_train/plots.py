"""Small matplotlib plots (loss curves, IoU vs minutes); matplotlib is imported lazily."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def line_plot(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    hlines: Sequence[tuple[float, str]] = (),
) -> Path | None:
    """Write a PNG line plot; returns None (and writes nothing) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    # past the default cycle's 10 colours, the 11th curve would reuse the 1st one's
    styles = ["-", "--", ":"]
    for i, (label, (xs, ys)) in enumerate(series.items()):
        ax.plot(
            list(xs), list(ys), marker="o", markersize=3, label=label, linestyle=styles[i // 10 % 3]
        )
    for y, label in hlines:
        ax.axhline(y, linestyle="--", linewidth=0.8, color="grey")
        ax.text(ax.get_xlim()[0], y, f" {label}", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 4:  # many curves: the legend goes beside the axes, not over them
        fig.set_size_inches(8.5, 3.6)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    elif len(series) > 1:
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def emergence_plot(
    history: Sequence[dict], path: str | Path, title: str = "", x: str = "minutes"
) -> Path | None:
    """IoU-vs-time curve of a run's held-out evaluations (``TrainState.history`` or the
    ``eval`` records of metrics.jsonl): label-free IoU, the oracle channel's IoU (analysis
    only) and the no-model guess as a dashed line. ``x`` is ``"minutes"`` or ``"step"``."""
    if not history:
        return None
    xs = [float(r[x]) for r in history]
    chance = history[-1].get("chance_iou")
    return line_plot(
        {
            "label-free IoU": (xs, [r["iou"] for r in history]),
            "oracle-channel IoU (analysis only)": (xs, [r["oracle_iou"] for r in history]),
        },
        path,
        "wall-clock minutes" if x == "minutes" else "training steps",
        "held-out foreground IoU",
        title,
        hlines=[(float(chance), "no-model guess")] if chance is not None else (),
    )
