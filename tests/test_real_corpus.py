"""benchmarks/real_corpus.py: the real-video corpus as links or as decoded frame folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amd_train.data.frames import list_images
from amd_train.data.video_file import write_video


@pytest.fixture(scope="module")
def real_corpus(benchmark_module):
    with benchmark_module("real_corpus") as module:  # decoding processes find it by name
        yield module


@pytest.fixture()
def footage(tmp_path: Path) -> Path:
    """A source folder like ../shared/data/real-video: two clips, one broken file, a
    DAVIS clips that must be refused, and a README whose table gives the licences."""
    source = tmp_path / "footage"
    rng = np.random.default_rng(0)
    write_video(source / "cars" / "road.mp4", rng.integers(0, 255, (6, 48, 64, 3), np.uint8))
    write_video(source / "dogs" / "a" / "park.mp4", rng.integers(0, 255, (4, 64, 48, 3), np.uint8))
    (source / "dogs" / "broken.mp4").write_bytes(b"not a video")
    write_video(source / "davis2016" / "cows.mp4", rng.integers(0, 255, (3, 32, 32, 3), np.uint8))
    # DAVIS-2017's train split holds DAVIS-2016 sequences; other projects' demo folders too.
    write_video(
        source / "davis2017-train" / "x.mp4", rng.integers(0, 255, (3, 32, 32, 3), np.uint8)
    )
    write_video(source / "cars" / "tennis.mp4", rng.integers(0, 255, (3, 32, 32, 3), np.uint8))
    (source / "README.md").write_text(
        "| folder | licence |\n|---|---|\n| `cars/` | CC BY 4.0 |\n| `dogs/` | BSD-3-Clause |\n"
    )
    return source


@pytest.mark.parametrize("workers", ["1", "2"])  # in this process / in a process pool
def test_frames_mode_decodes_every_clip_at_the_short_side(
    real_corpus, footage, tmp_path, capsys, workers
):
    out = tmp_path / "corpus"
    args = [str(footage), "--frames", "24", "--workers", workers, "--out", str(out)]
    assert real_corpus.main(args) == 0
    printed = capsys.readouterr().out
    clips = sorted(p.name for p in (out / "JPEGImages").iterdir())
    assert clips == ["cars__road", "dogs__a__park"]  # the broken file and DAVIS left out
    assert "broken.mp4" in printed and "davis2016" in printed and "davis2017-train" in printed
    assert "tennis.mp4" in printed
    road = out / "JPEGImages" / "cars__road"
    names = list_images(road)
    assert len(names) == 6
    assert Image.open(road / names[0]).size == (32, 24)  # 64×48 → short side 24
    park = out / "JPEGImages" / "dogs__a__park"
    assert Image.open(park / list_images(park)[0]).size == (24, 32)
    sources = (out / "SOURCES.md").read_text()
    assert "2 clips, 10 frames, decoded at short side 24" in sources
    assert "| cars__road | 6 | cars | CC BY 4.0 |" in sources
    assert "| dogs__a__park | 4 | dogs | BSD-3-Clause |" in sources


def test_link_mode_links_the_files(real_corpus, footage, tmp_path):
    out = tmp_path / "corpus"
    assert real_corpus.main([str(footage), "--out", str(out)]) == 0
    links = sorted((out / "videos").iterdir())
    assert [p.name for p in links] == ["cars__road.mp4", "dogs__a__park.mp4"]
    assert all(p.is_symlink() for p in links)
    assert "2 clips, 10 frames, linked" in (out / "SOURCES.md").read_text()
