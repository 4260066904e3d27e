"""Plugin packaging: fiftyone.yml, ``amd-fiftyone install/list``, discovery by FiftyOne's CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.fiftyone

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "fiftyone_plugin"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True, timeout=180
    )


def test_manifest_lists_every_operator(fo):
    from packaging.specifiers import SpecifierSet

    from fiftyone_plugin.operators import OPERATORS

    manifest = yaml.safe_load((PLUGIN / "fiftyone.yml").read_text())
    assert manifest["name"] == "@amd/objectness"
    # operators missing from the manifest are silently not registered: keep them in step
    assert sorted(manifest["operators"]) == sorted(op().config.name for op in OPERATORS)
    assert fo.__version__ in SpecifierSet(manifest["fiftyone"]["version"])


def test_install_uninstall(tmp_path, capsys):
    from fiftyone_plugin.install import LINK_NAME, main

    target = tmp_path / "plugins"
    assert main(["install", "--plugins-dir", str(target)]) == 0
    link = target / LINK_NAME
    assert link.is_symlink() and link.resolve() == PLUGIN
    assert f"FIFTYONE_PLUGINS_DIR={target}" in capsys.readouterr().out
    assert main(["install", "--plugins-dir", str(target)]) == 0  # idempotent
    link.unlink()
    link.symlink_to(tmp_path)
    assert main(["install", "--plugins-dir", str(target)]) == 1  # someone else's link
    assert main(["install", "--plugins-dir", str(target), "--force"]) == 0
    assert link.resolve() == PLUGIN
    assert main(["uninstall", "--plugins-dir", str(target)]) == 0 and not link.exists()
    (target / LINK_NAME).mkdir()
    assert (
        main(["install", "--plugins-dir", str(target), "--force"]) == 1
    )  # never replaces a folder


def test_fiftyone_cli_lists_the_installed_operators(fiftyone_env, plugins_dir):
    cli = Path(sys.executable).parent / "fiftyone"  # the console script next to this Python
    if not cli.exists():
        pytest.skip(f"no fiftyone command at {cli}")
    result = _run([str(cli), "operators", "list"], fiftyone_env)
    assert result.returncode == 0, result.stderr
    for name in ("apply_amd", "filter_by_objectness", "evaluate_amd", "adapt_amd"):
        assert f"@amd/objectness/{name}" in result.stdout


def test_discovered_from_the_parent_folder(fiftyone_env):
    # FIFTYONE_PLUGINS_DIR at the folder *containing* fiftyone_plugin/ (a checkout) works too
    env = {**fiftyone_env, "FIFTYONE_PLUGINS_DIR": str(REPO)}
    result = _run(
        [sys.executable, "-m", "fiftyone_plugin.install", "list", "--plugins-dir", str(REPO)], env
    )
    assert result.returncode == 0, result.stderr
    assert "@amd/objectness/apply_amd" in result.stdout
