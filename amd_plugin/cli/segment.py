"""``amd-segment``: zero-shot foreground segmentation of images, frame folders and videos.

For every input it writes binary mask PNGs (0/255), heatmap PNGs, overlays (PNG for images,
an mp4 for videos and frame folders) and prints a table of objectness per input. A bad input
is reported with its file name; the other inputs still complete (exit code 1 if any failed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from amd_plugin.backends import backend_names
from amd_plugin.checkpoint import BUILTIN_CHECKPOINTS, DEFAULT_CHECKPOINT, CheckpointError
from amd_plugin.io.images import MediaError, is_image_path, read_image
from amd_plugin.io.video import VideoWriter, batched, is_video_path, iter_frames, probe_video
from amd_plugin.predictor import DEFAULT_SHORT_SIDE, Segmenter
from amd_plugin.visualize import heat_colormap, overlay_mask, save_png

log = logging.getLogger("amd-segment")


def short_side_arg(text: str) -> int | str:
    """``--short-side``: a number of pixels or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected pixels or 'auto', got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="amd-segment", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", help="image files, frame folders or video files")
    p.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint path or built-in name ({', '.join(BUILTIN_CHECKPOINTS)}); "
        f"default {DEFAULT_CHECKPOINT}, trained on real footage",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--backend",
        default="torch",
        choices=backend_names(),
        help="inference runtime; 'auto' takes the fastest one on this machine that agrees "
        "with PyTorch (on a CPU: openvino, onnxruntime or an accepted int8 model of these "
        "weights from `amd-trt quantize`, timed at start; else torch)",
    )
    p.add_argument(
        "--runtime-model",
        type=Path,
        help="a prebuilt model for the backend: an ONNX graph (onnxruntime, openvino), an "
        "OpenVINO IR .xml (openvino; e.g. an accepted int8 model from `amd-trt quantize`) "
        "or a TensorRT .engine",
    )
    p.add_argument("--threads", type=int, help="CPU threads of the onnxruntime/openvino backends")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--short-side",
        type=short_side_arg,
        default="auto",
        help="inference resolution (short side, px); 'auto': the size the checkpoint records "
        f"(real-small: 256), else {DEFAULT_SHORT_SIDE}",
    )
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--stride", type=int, default=1, help="segment every N-th video frame")
    p.add_argument("--foreground", default="auto", help="foreground channel index or 'auto'")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--no-overlay", action="store_true", help="skip overlay images/videos")
    return p.parse_args(argv)


def segment_image(segmenter: Segmenter, path: Path, out: Path, args) -> dict:
    image = read_image(path)
    pred = segmenter.predict([image])[0]
    stem = out / path.stem
    mask = pred.mask(args.threshold)
    save_png((mask * 255).astype(np.uint8), f"{stem}_mask.png")
    save_png(heat_colormap(pred.foreground), f"{stem}_heatmap.png")
    if not args.no_overlay:
        save_png(overlay_mask(image, mask), f"{stem}_overlay.png")
    return {
        "input": str(path),
        "kind": "image",
        "frames": 1,
        "objectness": pred.objectness,
        "foreground_area": float(mask.mean()),
    }


def segment_sequence(
    segmenter: Segmenter, path: Path, out: Path, args, stored_channel: int | None
) -> dict:
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    folder = out / (path.stem if path.is_file() else path.name)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    (folder / "heatmaps").mkdir(parents=True, exist_ok=True)
    if stored_channel is None and args.foreground == "auto":
        # choose the channel once per sequence, from its first frames, so the video is consistent
        sample = [f for _, f in itertools.islice(iter_frames(path, max(1, args.stride)), 16)]
        segmenter.calibrate(sample, consecutive=True)
    fps = 12.0
    if path.is_file():
        fps = probe_video(path).fps or fps
    writer = (
        None
        if args.no_overlay
        else VideoWriter(folder / "overlay.mp4", fps=fps / max(1, args.stride))
    )
    scores = []
    areas = []
    try:
        frames = iter_frames(path, max(1, args.stride))
        for batch in tqdm(
            batched(frames, args.batch_size), desc=path.name, unit="batch", leave=False
        ):
            preds = segmenter.predict([f for _, f in batch])
            for (number, frame), pred in zip(batch, preds):
                mask = pred.mask(args.threshold)
                save_png((mask * 255).astype(np.uint8), folder / "masks" / f"{number:05d}.png")
                save_png(
                    (np.clip(pred.foreground, 0, 1) * 255).astype(np.uint8),
                    folder / "heatmaps" / f"{number:05d}.png",
                )
                if writer is not None:
                    writer.write(overlay_mask(frame, mask))
                scores.append(pred.objectness)
                areas.append(float(mask.mean()))
    finally:
        if writer is not None:
            writer.close()
    return {
        "input": str(path),
        "kind": "video" if path.is_file() else "frames",
        "frames": len(scores),
        "objectness": float(np.mean(scores)) if scores else 0.0,
        "foreground_area": float(np.mean(areas)) if areas else 0.0,
    }


def print_table(rows: list[dict]) -> None:
    print(f"\n{'input':<48} {'kind':<7} {'frames':>6} {'objectness':>10} {'fg area':>8}")
    for r in rows:
        name = Path(r["input"]).name
        if "error" in r:
            print(f"{name:<48} {'ERROR':<7} {r['error']}")
        else:
            print(
                f"{name:<48} {r['kind']:<7} {r['frames']:>6} {r['objectness']:>10.3f} {r['foreground_area']:>8.3f}"
            )


RUNTIME_MODEL_OPTIONS = {".onnx": "onnx", ".xml": "ir", ".engine": "engine"}


def backend_options(args: argparse.Namespace) -> dict:
    """Options for the backend from ``--runtime-model`` (by suffix) and ``--threads``."""
    options: dict = {}
    if args.runtime_model is not None:
        key = RUNTIME_MODEL_OPTIONS.get(args.runtime_model.suffix)
        if key is None:
            raise ValueError(
                f"{args.runtime_model}: --runtime-model takes {', '.join(RUNTIME_MODEL_OPTIONS)}"
            )
        options[key] = args.runtime_model
    if args.threads:
        options["threads"] = args.threads
    return options


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    foreground = args.foreground if args.foreground == "auto" else int(args.foreground)
    try:
        segmenter = Segmenter(
            args.checkpoint, backend=args.backend, device=args.device, short_side=args.short_side,
            foreground=foreground, batch_size=args.batch_size, **backend_options(args),
        )  # fmt: skip
    except (CheckpointError, RuntimeError, ValueError, TypeError) as err:
        print(f"amd-segment: {err}", file=sys.stderr)
        return 2
    log.info("backend: %s", segmenter.backend.name)
    stored = segmenter.foreground_channel
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for raw in tqdm(args.inputs, desc="inputs", unit="input", disable=len(args.inputs) < 2):
        path = Path(raw)
        try:
            if path.is_dir() or is_video_path(path):
                segmenter.foreground_channel = stored
                rows.append(segment_sequence(segmenter, path, args.out, args, stored))
            elif is_image_path(path) or path.exists():
                rows.append(segment_image(segmenter, path, args.out, args))
            else:
                raise MediaError(f"{path}: file not found")
        except MediaError as err:
            log.error("error: %s", err)
            rows.append({"input": str(path), "error": str(err)})
        rows[-1]["backend"] = segmenter.backend.name
    print_table(rows)
    print(f"backend: {segmenter.backend.name}")
    summary = args.out / "summary.json"
    summary.write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {args.out} (summary: {summary})")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
