"""The FiftyOne App serves our operators and shows the AMD masks (slow: App + Chromium).

Starts the App server on a free loopback port against the private mongod, checks that
``POST /operators`` lists the plugin's operators, and takes a headless Chromium screenshot
of a dataset with AMD masks. Set ``AMD_APP_SCREENSHOT=<png path>`` to keep the screenshot
(``docs/images/fiftyone_app.png`` was made this way).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from fo_process import free_port, stop, wait_for_port
from PIL import Image

pytestmark = [pytest.mark.fiftyone, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,900",
    "--virtual-time-budget=15000",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture
def showcase(fo, media, bright_segmenter, tmp_path):
    """A persistent dataset (visible to the App process) of larger images with AMD labels."""
    from fiftyone_plugin.apply import ApplyOptions, apply_to_collection

    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for path in media["images"]:
        with Image.open(path) as image:
            big = image.resize((image.width * 5, image.height * 5), Image.NEAREST)
        big.save(folder / path.name)
        paths.append(folder / path.name)
    dataset = fo.Dataset("amd-app-test", overwrite=True, persistent=True)
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in paths])
    options = ApplyOptions(output_dir=tmp_path / "masks", detections=True)
    apply_to_collection(dataset, bright_segmenter, options)
    # show the masks and boxes on the grid tiles (the App activates one label field by default)
    dataset.app_config.active_fields = fo.ActiveFields(paths=["amd_mask", "amd_detections"])
    dataset.save()
    yield dataset
    dataset.delete()


@pytest.fixture
def app_server(fiftyone_env, plugins_dir, tmp_path):
    """``python -m fiftyone.server.main`` on a free loopback port; yields its base URL."""
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fiftyone.server.main",
                "--port",
                str(port),
                "--address",
                "127.0.0.1",
            ],
            env={**os.environ, **fiftyone_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_app_lists_operators_and_renders_masks(showcase, app_server, tmp_path):
    listing = post_json(f"{app_server}/operators", {"dataset_name": showcase.name})
    uris = {op["uri"] for op in listing["operators"]}
    for name in ("apply_amd", "filter_by_objectness", "evaluate_amd", "adapt_amd"):
        assert f"@amd/objectness/{name}" in uris

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no headless Chromium (apt-get install -y chromium)")
    shot = tmp_path / "app.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={shot}",
            f"{app_server}/datasets/{showcase.name}",
        ],
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert shot.is_file(), "Chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (900, 1400) and pixels.std() > 10  # not a blank page
    if target := os.environ.get("AMD_APP_SCREENSHOT"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        # keep the left part: the App's "Explore Enterprise" pop-over covers the top right
        # of the grid, and a headless one-shot screenshot cannot dismiss it
        Image.open(shot).crop((0, 0, 980, 900)).save(target, optimize=True)
