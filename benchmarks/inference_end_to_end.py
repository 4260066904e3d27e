"""End-to-end rate of ``amd-segment`` (decode + inference + writing) with each runtime."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

from amd_plugin import AMD, Segmenter
from amd_plugin.backends import InferenceBackend
from amd_plugin.io.video import VideoWriter, iter_frames
from trt.backend_choice import make_backend
from trt.cache import INT8_SUFFIXES, int8_cache_path


def trimmed_clip(path: Path, frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of ``path`` as an mp4 at the original size."""
    out = folder / f"{path.stem}_{frames}.mp4"
    with VideoWriter(out, fps=24) as writer:
        for _, frame in itertools.islice(iter_frames(path), frames):
            writer.write(frame)
    return out


def end_to_end(
    model: AMD, found: dict[str, InferenceBackend], clip: Path, fg: int, args
) -> list[dict]:
    """``amd-segment``'s per-video work with each runtime: frames/s over the whole clip."""
    from amd_plugin.cli.segment import parse_args, segment_sequence

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, backend in found.items():
            out = Path(tmp) / name.split(" (")[0].replace(" ", "_")
            cli = parse_args([str(clip), "--out", str(out), "--foreground", str(fg)])
            segmenter = Segmenter(model, backend=backend, foreground=fg)
            start = time.perf_counter()
            row = segment_sequence(segmenter, clip, out, cli, stored_channel=fg)
            seconds = time.perf_counter() - start
            rows.append({"runtime": name, "frames": row["frames"], "fps": row["frames"] / seconds})
            print(f"# end-to-end {name}: {row['frames']} frames in {seconds:.1f} s", flush=True)
    base = rows[0]["fps"]
    for row in rows:
        row["x_eager"] = row["fps"] / base
    return rows


def auto_backend(
    model: AMD, int8: list[dict], cache: Path, threads: int | None
) -> InferenceBackend:
    """``backend="auto"`` as a user gets it after ``amd-trt quantize`` put this run's accepted
    int8 models in the cache (per runtime, the one with the most int8 convolutions), with
    ``cache`` as the cache folder."""

    def int8_convs(record: dict) -> int:  # "10/11" -> 10
        return int(record["int8_convolutions"].split("/")[0])

    runtime_of = {suffix: runtime for runtime, suffix in INT8_SUFFIXES.items()}
    best: dict[str, dict] = {}
    for record in int8:
        if record["int8_accepted"] != "true" or record.get("precision") != "int8":
            continue
        runtime = runtime_of[Path(record["path"]).suffix]
        if runtime not in best or int8_convs(record) > int8_convs(best[runtime]):
            best[runtime] = record
    for runtime, record in best.items():
        target = int8_cache_path(model, runtime, cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(record["path"], target)
        if runtime == "openvino":  # the IR's weights travel next to it
            shutil.copyfile(Path(record["path"]).with_suffix(".bin"), target.with_suffix(".bin"))
    return make_backend("auto", model=model, device="cpu", threads=threads, cache_dir=cache)
