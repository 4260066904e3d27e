"""Engine metadata: the ``X.engine.json`` sidecar written next to every TensorRT engine.

It records the TensorRT version, GPU name and compute capability, CUDA version, profile
shapes, precision, source checkpoint sha256, foreground channel and K.
:func:`check_engine_metadata` refuses an engine built for another GPU or TensorRT version,
naming the file and both values. Plain JSON and version logic: nothing here needs TensorRT.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from amd_plugin.io.atomic import atomic_write_bytes


class EngineMismatch(RuntimeError):
    """An engine was built for another GPU or TensorRT version (or lacks its metadata)."""


def metadata_path(engine_path: str | Path) -> Path:
    """``X.engine`` → ``X.engine.json``."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def write_metadata(engine_path: str | Path, metadata: dict[str, Any]) -> Path:
    """Atomically write ``<engine>.json``."""
    path = metadata_path(engine_path)
    atomic_write_bytes((json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(), path)
    return path


def read_engine_metadata(engine_path: str | Path) -> dict[str, Any]:
    """``<engine>.json`` as a dict; :class:`EngineMismatch` when missing or unreadable."""
    path = metadata_path(engine_path)
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise EngineMismatch(
            f"{engine_path}: no metadata file {path.name} next to it, so it cannot be checked "
            "against this GPU/TensorRT; rebuild it with `amd-trt build` (or skip the check)"
        ) from err
    except (OSError, ValueError) as err:
        raise EngineMismatch(f"{path}: unreadable engine metadata ({err})") from err
    if not isinstance(meta, dict):
        raise EngineMismatch(
            f"{path}: unreadable engine metadata (expected a JSON object, got "
            f"{type(meta).__name__})"
        )
    return meta


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def check_engine_metadata(engine_path: str | Path, environment: dict[str, str]) -> dict[str, Any]:
    """Refuse an engine built for another GPU or TensorRT version.

    Args:
        engine_path: the engine; its metadata is ``<engine>.json``.
        environment: this machine's :func:`current_environment`.

    Returns:
        The engine's metadata when compatible.

    Raises:
        EngineMismatch: naming the engine file and, per field, the engine's and this
            machine's values.
    """
    meta = read_engine_metadata(engine_path)
    problems = []

    def differs(key: str) -> None:
        if str(meta.get(key)) != str(environment.get(key)):
            problems.append(f"{key}: engine {meta.get(key)!r} vs here {environment.get(key)!r}")

    if meta.get("version_compatible"):
        built, here = (
            _version_tuple(meta.get("tensorrt_version", "")),
            _version_tuple(environment["tensorrt_version"]),
        )
        if not built or built[:1] != here[:1] or here < built:
            problems.append(
                f"tensorrt_version: engine {meta.get('tensorrt_version')!r} (version-compatible: "
                f"same major, same or newer runtime) vs here {environment['tensorrt_version']!r}"
            )
    else:
        differs("tensorrt_version")
    level = meta.get("hardware_compatibility")
    if level == "ampere_plus":
        if _version_tuple(environment["compute_capability"]) < (8, 0):
            problems.append(
                f"compute_capability: engine needs Ampere or newer (>= 8.0) vs here "
                f"{environment['compute_capability']!r}"
            )
    elif level == "same_compute_capability":
        differs("compute_capability")
    else:
        differs("gpu_name")
        differs("compute_capability")
    if problems:
        raise EngineMismatch(
            f"{engine_path} was built for another GPU/TensorRT: {'; '.join(problems)}. "
            "Rebuild it on this machine with `amd-trt build`."
        )
    return meta
