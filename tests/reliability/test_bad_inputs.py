"""Bad inputs at every public entry point: a clear error naming the input, or a usable result.

The catalogue lives in ``bad_inputs.py``; ``benchmarks/reliability.md`` tabulates what each
case did when run. ``amd-segment`` is also run on batches mixing each bad input with good
ones: exit code 1, every good output written, the bad input named.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from bad_inputs import (  # this folder is on sys.path
    CASES,
    Case,
    audio_only,
    bomb_png,
    fifo,
    fifo_reason,
    frame_folder,
    permission_reason,
    rgb,
    save,
    symlink_loop,
    truncated,
    unreadable,
    verdict,
    write_bytes,
    write_video,
    zero_frame_video,
)
from bad_inputs import run as run_case
from PIL import Image

from amd_plugin.cli.segment import main as segment_main


def _param(case: Case):
    marks = [pytest.mark.slow] if case.slow else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case: Case, tmp_path):
    reason = case.skip() if case.skip else ""
    if reason:
        pytest.skip(reason)
    outcome, arg = run_case(case, tmp_path)
    problem = verdict(case, outcome, arg)
    assert not problem, f"{case.name}: {problem}"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


def test_truncated_video_keeps_the_frames_before_the_cut(tmp_path):
    from amd_plugin.io.images import MediaError
    from amd_plugin.io.video import iter_frames

    src = write_video(tmp_path / "src.mp4", n=30, options={"movflags": "faststart"})
    cut = truncated(tmp_path / "cut.mp4", src, 0.6)
    seen = []
    with pytest.raises(MediaError, match=r"cut\.mp4: truncated video"):
        for number, _ in iter_frames(cut):
            seen.append(number)
    assert seen and seen == list(range(1, len(seen) + 1)) and len(seen) < 30


# ------------------------------------------------------------------ amd-segment batches


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from amd_plugin import AMD, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64)))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "m.pt", foreground_channel=1)


def _bad_corrupt_mid_folder(tmp):
    folder = frame_folder(tmp / "broken_frames", n=4)
    write_bytes(folder / "00002.jpg", b"\xff\xd8garbage")
    return folder


# kind -> (builder, what the error must say)
BAD_FOR_CLI = {
    "truncated mp4 (moov at end)": (
        lambda t: truncated(t / "cut.mp4", write_video(t / "src" / "a.mp4", n=10), 0.5),
        "not a readable video|no video stream",
    ),
    "truncated mp4 (faststart)": (
        lambda t: truncated(
            t / "cut_fast.mp4",
            write_video(t / "src" / "b.mp4", n=30, options={"movflags": "faststart"}),
            0.6,
        ),
        "truncated video",
    ),
    "zero-frame mp4": (lambda t: zero_frame_video(t / "zero.mp4"), "no video stream"),
    "audio-only mp4": (lambda t: audio_only(t / "audio.mp4"), "no video stream"),
    "text named .png": (lambda t: write_bytes(t / "notes.png", b"text"), "not a readable image"),
    "missing file": (lambda t: t / "nothere.jpg", "not found"),
    "bomb PNG header": (lambda t: bomb_png(t / "bomb.png"), "decompression bomb|too large"),
    "symlink loop .jpg": (lambda t: symlink_loop(t / "loop.jpg"), "symlink loop"),
    "FIFO .png": (lambda t: fifo(t / "pipe.png"), "not a regular file"),
    "FIFO .mp4": (lambda t: fifo(t / "pipe.mp4"), "not a regular file"),
    "empty frame folder": (lambda t: (t / "hollow").mkdir() or t / "hollow", "no image files"),
    "frame folder with a corrupt frame": (_bad_corrupt_mid_folder, "00002.jpg"),
    "unreadable .png": (lambda t: unreadable(t / "locked.png"), "permission denied"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(BAD_FOR_CLI))
def test_segment_cli_batch_with_one_bad_input(kind, checkpoint, tmp_path, capsys):
    if kind.startswith("FIFO") and fifo_reason():
        pytest.skip(fifo_reason())
    if kind.startswith("unreadable") and permission_reason():
        pytest.skip(permission_reason())
    inputs = tmp_path / "in"
    inputs.mkdir()
    save(Image.fromarray(rgb(48, 64)), inputs / "photo.png")
    frame_folder(inputs / "frames", n=3)
    write_video(inputs / "clip.mp4", n=5)
    build, says = BAD_FOR_CLI[kind]
    bad = build(inputs)
    out = tmp_path / "out"
    args = [str(inputs / "photo.png"), str(bad), str(inputs / "frames"), str(inputs / "clip.mp4")]
    code = segment_main([*args, "--checkpoint", str(checkpoint), "--out", str(out),
                         "--short-side", "32", "--no-overlay"])  # fmt: skip
    assert code == 1
    printed = capsys.readouterr()
    assert bad.name in printed.out + printed.err
    rows = {row["input"]: row for row in json.loads((out / "summary.json").read_text())}
    assert bad.name in rows[str(bad)]["error"]
    assert re.search(says, rows[str(bad)]["error"]), rows[str(bad)]["error"]
    assert [r for r in rows.values() if "error" in r] == [rows[str(bad)]]
    # every good input is complete
    mask = np.asarray(Image.open(out / "photo_mask.png"))
    assert mask.shape == (48, 64)
    assert sorted(p.name for p in (out / "frames" / "masks").iterdir()) == [
        f"{i:05d}.png" for i in (1, 2, 3)
    ]
    assert len(list((out / "clip" / "masks").iterdir())) == 5
    assert rows[str(inputs / "clip.mp4")]["frames"] == 5


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_segment_cli_on_a_100_megapixel_image(checkpoint, tmp_path):
    """A 10000×10000 PNG (constant colour, 0.3 MB on disk) is segmented at full size.

    Peak memory of the ``amd-segment`` process is asserted below 12 GB (measured: 6.4 GB,
    most of it the full-size heatmap and overlay images)."""
    import resource
    import subprocess
    import sys

    image = save(Image.new("RGB", (10_000, 10_000), (10, 200, 30)), tmp_path / "huge.png")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "amd_plugin.cli.segment", str(image), "--checkpoint",
         str(checkpoint), "--out", str(out), "--short-side", "64"],
        capture_output=True, text=True, timeout=580,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    assert peak_gb < 12, f"peak RSS {peak_gb:.1f} GB"
    with Image.open(out / "huge_mask.png") as mask:
        assert mask.size == (10_000, 10_000)
