"""The demo's real-footage stage: amd-segment's output turned into a contact sheet."""

from __future__ import annotations

import numpy as np

from amd_plugin import save_checkpoint
from amd_plugin.cli.segment import main as segment_main
from amd_plugin.io.video import VideoWriter
from amd_train.demo import contact_sheet, real_clips


def test_contact_sheet_shows_the_segmented_frames(small_model, tmp_path):
    ckpt = save_checkpoint(small_model, tmp_path / "m.pt", foreground_channel=1)
    rng = np.random.default_rng(0)
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, fps=5) as writer:
        for _ in range(9):
            writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    out = tmp_path / "out"
    argv = [str(clip), "--checkpoint", str(ckpt), "--out", str(out), "--stride", "2"]
    assert segment_main([*argv, "--short-side", "48", "--no-overlay"]) == 0
    sheet = contact_sheet(clip, out / "clip", columns=3)
    # two rows (mask over the frame, heatmap) of three 48×64 frames shown at height 144
    assert sheet.shape == (2 * 144 + 2, 3 * 192 + 2 * 2, 3) and sheet.dtype == np.uint8
    assert sheet.std() > 10  # pictures, not a blank canvas


def test_the_demo_clip_ships_with_the_package():
    clips = real_clips()
    assert clips[0].name == "walking_person.mp4" and clips[0].stat().st_size > 10_000
