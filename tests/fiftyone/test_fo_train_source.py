"""``data.kind: fiftyone``: training on the videos of a FiftyOne dataset or saved view."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from fo_media import write_video

from amd_train.testing import TINY_TRAINING

pytestmark = pytest.mark.fiftyone

# the shared tiny training setup, with fewer pairs per video and no held-out evaluation
TINY = [
    *TINY_TRAINING,
    "data.samples_per_video=2",
    "run.checkpoint_every=0",
    "run.batch_size=2",
    "eval.synthetic_videos=0",
]


@pytest.fixture
def train_dataset(fo, tmp_path):
    """Three tiny videos (one tagged ``skip``) and a missing file, plus a saved view."""
    from fiftyone import ViewField as F

    rng = np.random.default_rng(1)
    videos = [write_video(tmp_path / f"clip{i}.mp4", rng, frames=6, speed=2 + i) for i in range(3)]
    dataset = fo.Dataset("amd-train-clips", overwrite=True)
    samples = [fo.Sample(filepath=str(p)) for p in videos]
    samples[2].tags = ["skip"]
    samples.append(fo.Sample(filepath=str(tmp_path / "missing.mp4")))
    dataset.add_samples(samples)
    dataset.save_view("train", dataset.match(~F("tags").contains("skip")))
    yield dataset
    dataset.delete()


def _data_config(root: str):
    from amd_train.config import load_train_config

    return load_train_config("synthetic.yaml", [*TINY, "data.kind=fiftyone", f"data.root={root}"])


def test_saved_view_selects_the_videos(fo, train_dataset, caplog):
    from amd_train.data.fiftyone_source import FiftyOneVideoSource
    from amd_train.data.sources import discover_sources

    with caplog.at_level(logging.WARNING):
        sources = discover_sources(_data_config(f"{train_dataset.name}:train").data)
    # the tagged video is outside the view; the missing file is skipped with a warning
    assert [s.path.name for s in sources] == ["clip0.mp4", "clip1.mp4"]
    assert all(isinstance(s, FiftyOneVideoSource) and len(s) == 6 for s in sources)
    assert "missing.mp4" in caplog.text and train_dataset.name in caplog.text
    everything = discover_sources(_data_config(train_dataset.name).data)
    assert len(everything) == 3


@pytest.mark.parametrize(
    ("suffix", "message"),
    [(":nope", "has no saved view 'nope'"), ("_nope", "no FiftyOne dataset")],
)
def test_bad_roots_are_named(fo, train_dataset, suffix, message):
    from amd_train.data.base import DataError
    from amd_train.data.sources import discover_sources

    with pytest.raises(DataError, match=message):
        discover_sources(_data_config(train_dataset.name + suffix).data)


def test_image_datasets_are_refused(fo, image_dataset):
    from amd_train.data.base import DataError
    from amd_train.data.sources import discover_sources

    with pytest.raises(DataError, match="needs video samples"):
        discover_sources(_data_config(image_dataset.name).data)


def test_train_two_steps_from_a_saved_view(fo, train_dataset, tmp_path):
    from amd_plugin import load_model
    from amd_train.config import load_train_config
    from amd_train.trainer import train

    out = tmp_path / "run"
    cfg = load_train_config(
        "synthetic.yaml",
        [
            *TINY,
            "run.max_steps=2",
            f"run.out_dir={out}",
            "data.kind=fiftyone",
            f"data.root={train_dataset.name}:train",
        ],
    )
    train(cfg, show_progress=False)
    assert (out / "last.pt").is_file()
    assert load_model(out / "last.pt").model is not None
