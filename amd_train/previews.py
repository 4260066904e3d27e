"""What people look at during training: TensorBoard scalars and PNG preview grids."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from amd_plugin.modeling.amd import AMDOutput
from amd_plugin.modeling.warp import flow_warp
from amd_plugin.visualize import colorize_segments, flow_to_color, make_grid, save_png
from amd_train.losses import occlusion_mask
from amd_train.segment_terms import mask_entropy

log = logging.getLogger(__name__)


class RunLogger:
    """Console-free structured logging: ``metrics.jsonl`` always, TensorBoard when available."""

    def __init__(self, out_dir: Path, tensorboard: bool = True, fresh: bool = False) -> None:
        """``fresh``: this run starts at step 0. An earlier run's ``metrics.jsonl`` in the
        same folder is then kept as ``metrics.<n>.jsonl`` rather than appended to, so the
        file (which the plots read) holds one run only; a resumed run appends."""
        self.out_dir = out_dir
        path = out_dir / "metrics.jsonl"
        if fresh and path.exists() and path.stat().st_size > 0:
            kept = next(
                out_dir / f"metrics.{n}.jsonl"
                for n in range(1, 10_000)
                if not (out_dir / f"metrics.{n}.jsonl").exists()
            )
            path.rename(kept)
            log.warning("%s: an earlier run's metrics are kept as %s", path, kept.name)
        self.jsonl = path.open("a", encoding="utf-8")
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tb"))
            except ImportError:
                log.info("tensorboard not installed: scalars go to metrics.jsonl only")

    def scalars(self, step: int, values: dict[str, float], kind: str = "train") -> None:
        record = {"kind": kind, "step": step, **{k: float(v) for k, v in values.items()}}
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(f"{kind}/{key}", float(value), step)

    def image(self, step: int, tag: str, picture: np.ndarray) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, picture, step, dataformats="HWC")

    def close(self) -> None:
        self.jsonl.close()
        if self.tb is not None:
            self.tb.close()


def mask_statistics(masks: torch.Tensor) -> dict[str, float]:
    """Mean per-pixel entropy and the area of each segment (``B×K×h×w`` soft masks)."""
    entropy = mask_entropy(masks)
    areas = masks.mean(dim=(0, 2, 3))
    stats = {"mask_entropy": float(entropy)}
    stats.update({f"area_{k}": float(a) for k, a in enumerate(areas)})
    return stats


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``3×H×W`` in [0, 1] → ``H×W×3`` uint8."""
    return (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(
        np.uint8
    )


@torch.no_grad()
def preview_grid(out: AMDOutput, rows: int = 2) -> np.ndarray:
    """One row per sample: frame A, frame B, segments A, segment flow, dense flow,
    reconstruction of A, occlusion of A."""
    motion = out.motion
    recon = flow_warp(out.frame_b, motion.forward[0])
    occ = occlusion_mask(motion.backward[0])
    picture_rows = []
    for i in range(min(rows, out.frame_a.shape[0])):
        seg = colorize_segments(out.masks_a[i].float().cpu().numpy())
        peak = float(
            max(motion.forward[0][i].abs().max(), motion.forward_whole[0][i].abs().max(), 1e-3)
        )
        picture_rows.append(
            [
                to_uint8(out.frame_a[i]),
                to_uint8(out.frame_b[i]),
                seg,
                flow_to_color(motion.forward[0][i].float().cpu().numpy(), peak),
                flow_to_color(motion.forward_whole[0][i].float().cpu().numpy(), peak),
                to_uint8(recon[i]),
                (occ[i, 0].float().cpu().numpy() * 255).astype(np.uint8),
            ]
        )
    return make_grid(picture_rows, tile_height=128)


def write_preview(out: AMDOutput, path: Path) -> np.ndarray:
    picture = preview_grid(out)
    save_png(picture, path)
    return picture
