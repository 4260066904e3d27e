"""TensorRT engine build (TensorRT 10.x and 11.x) and engine metadata.

Precision: TensorRT 11 removed weak typing (``BuilderFlag.FP16``/``INT8`` are gone; every
network is strongly typed), so an fp16 engine needs an fp16 ONNX graph
(``ExportOptions(fp16=True)``). On 10.x an fp16 graph is built with the opt-in
``STRONGLY_TYPED`` network flag, and an fp32 graph with ``BuilderFlag.FP16`` (weak typing)
when fp16 is asked for. Features are detected on the module, not guessed from the version.

Safety: creating a TensorRT ``Builder``/``Runtime`` without a GPU can crash the process
(segfault) instead of raising, so :func:`require_tensorrt` checks CUDA before any of them
exists, and raises :class:`TensorRTUnavailable` with a one-line reason.

Next to every engine ``X.engine`` sits ``X.engine.json``: TensorRT version, GPU name and
compute capability, CUDA version, profile shapes, precision, source checkpoint sha256,
foreground channel and K (written and checked by :mod:`trt.metadata`).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from amd_plugin.checkpoint import file_sha256
from amd_plugin.io.atomic import atomic_write_bytes
from trt.cache_dir import cache_root
from trt.export import INPUT_NAME, graph_precision, read_metadata
from trt.metadata import write_metadata

LOG = logging.getLogger(__name__)
NOT_INSTALLED = (
    "TensorRT is not installed: install tensorrt with pip on a machine with an NVIDIA GPU"
)
NO_CUDA = "no CUDA GPU visible (torch.cuda.is_available() is False): TensorRT needs an NVIDIA GPU"
HARDWARE_LEVELS = ("ampere_plus", "same_compute_capability")


class TensorRTUnavailable(RuntimeError):
    """TensorRT or a CUDA GPU is missing (the message says which, in one line)."""


class EngineBuildError(RuntimeError):
    """The ONNX graph could not be parsed or built into an engine."""


def tensorrt_importable() -> bool:
    """Whether ``import tensorrt`` can be attempted, without importing it."""
    if "tensorrt" in sys.modules:
        return sys.modules["tensorrt"] is not None  # None: import explicitly blocked
    try:
        return importlib.util.find_spec("tensorrt") is not None
    except (ImportError, ValueError):
        return False


def import_tensorrt() -> ModuleType:
    """``import tensorrt`` with a clear :class:`TensorRTUnavailable` instead of a traceback."""
    if not tensorrt_importable():
        raise TensorRTUnavailable(NOT_INSTALLED)
    try:
        import tensorrt
    except ImportError as err:
        raise TensorRTUnavailable(f"{NOT_INSTALLED} (import failed: {err})") from err
    except OSError as err:  # the wheel is there but libnvinfer cannot be loaded
        raise TensorRTUnavailable(
            f"TensorRT is installed but its libraries cannot be loaded: {err}"
        ) from err
    if not hasattr(tensorrt, "Builder"):
        # PyPI's 'tensorrt' can resolve to a placeholder without the bindings
        raise TensorRTUnavailable(
            f"the installed 'tensorrt' package has no bindings: {NOT_INSTALLED}"
        )
    return tensorrt


def require_tensorrt() -> ModuleType:
    """TensorRT module, after checking a CUDA GPU is visible (call before Builder/Runtime)."""
    if not tensorrt_importable():
        raise TensorRTUnavailable(NOT_INSTALLED)
    if not torch.cuda.is_available():
        raise TensorRTUnavailable(NO_CUDA)
    return import_tensorrt()


def current_environment(tensorrt: ModuleType, device: int | None = None) -> dict[str, str]:
    """What an engine is tied to on this machine: TensorRT version, GPU, CUDA."""
    device = torch.cuda.current_device() if device is None else device
    major, minor = torch.cuda.get_device_capability(device)
    return {
        "tensorrt_version": str(tensorrt.__version__),
        "gpu_name": torch.cuda.get_device_name(device),
        "compute_capability": f"{major}.{minor}",
        "cuda_version": str(torch.version.cuda),
    }


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"4x392x696"`` → ``(4, 392, 696)`` (batch, height, width)."""
    parts = re.split(r"[x×,]", text.strip().lower())
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"shape must be BATCHxHEIGHTxWIDTH with positive integers, got {text!r}")
    b, h, w = (int(p) for p in parts)
    return b, h, w


@dataclass(frozen=True)
class ShapeProfile:
    """Optimisation profile of the ``images`` input as (batch, height, width) triples.

    Narrow by default: the ``Segmenter`` resizes the short side to 392, so 392×696 (16:9)
    is the optimum, portrait 696×392 and 240×432 (the benchmark's small size) fit too;
    TensorRT picks kernels for ``opt`` and accepts anything between ``min`` and ``max``.
    """

    min: tuple[int, int, int] = (1, 224, 224)
    opt: tuple[int, int, int] = (4, 392, 696)
    max: tuple[int, int, int] = (8, 704, 1248)

    def __post_init__(self) -> None:
        if not all(a <= b <= c for a, b, c in zip(self.min, self.opt, self.max)):
            raise ValueError(
                f"profile needs min <= opt <= max per dim: {self.min} {self.opt} {self.max}"
            )

    def input_shape(self, which: str) -> tuple[int, int, int, int]:
        """``B×3×H×W`` for ``min``, ``opt`` or ``max``."""
        b, h, w = getattr(self, which)
        return (b, 3, h, w)

    def fits(self, height: int, width: int) -> bool:
        return self.min[1] <= height <= self.max[1] and self.min[2] <= width <= self.max[2]


def default_timing_cache(environment: dict[str, str]) -> Path:
    """Per TensorRT version and GPU (a timing cache is only valid there)."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", environment["gpu_name"]).strip("-")
    name = f"timing_trt{environment['tensorrt_version']}_{gpu}_sm{environment['compute_capability']}.cache"
    return cache_root() / "tensorrt" / name


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    profile: ShapeProfile | None = None,
    fp16: bool = True,
    workspace_gb: float = 4.0,
    timing_cache: str | Path | None = "auto",
    optimization_level: int = 3,
    version_compatible: bool = False,
    hardware_compatibility: str | None = None,
    checkpoint_sha256: str | None = None,
) -> dict[str, Any]:
    """Build a serialized TensorRT engine from an ONNX graph and write it with its metadata.

    Args:
        onnx_path: graph with an ``images`` input (see :mod:`trt.export`); parsed by path so
            external weight files (``model.onnx.data``) are found.
        engine_path: output engine, written atomically; metadata goes to ``<engine>.json``.
        profile: optimisation profile (default :class:`ShapeProfile`).
        fp16: fp16 engine. TensorRT 11 needs an fp16 graph for it; 10.x also accepts an
            fp32 graph (built with the weak-typing ``FP16`` flag).
        workspace_gb: builder workspace memory pool limit.
        timing_cache: file to load and update (``"auto"``: per GPU/TensorRT under
            ``~/.cache/amd-objectness/tensorrt``; ``None``: no cache).
        optimization_level: ``builder_optimization_level`` (0–5; higher builds slower).
        version_compatible: engine runs on later TensorRT versions of the same major.
        hardware_compatibility: ``ampere_plus`` or ``same_compute_capability``.
        checkpoint_sha256: recorded in the metadata (else taken from the graph's).

    Returns:
        The metadata dict written next to the engine.

    Raises:
        TensorRTUnavailable: no TensorRT or no CUDA GPU.
        EngineBuildError: parser errors (all listed) or a failed build.
        ValueError: an fp32 graph with ``fp16`` on TensorRT 11, or an fp16 graph with
            ``fp16=False``.
    """
    tensorrt = require_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    profile = profile or ShapeProfile()
    env = current_environment(tensorrt)
    precision = graph_precision(onnx_path)
    weak_fp16 = hasattr(tensorrt.BuilderFlag, "FP16")  # gone in TensorRT 11
    if precision == "fp16" and not fp16:
        raise ValueError(
            f"{onnx_path} is an fp16 graph: an fp32 engine needs an fp32 export (no --fp16)"
        )
    if fp16 and precision == "fp32" and not weak_fp16:
        raise ValueError(
            f"TensorRT {env['tensorrt_version']} takes precision from the graph and {onnx_path} is "
            "fp32: export it with --fp16 (ExportOptions(fp16=True)) or build with --fp32"
        )
    logger = tensorrt.Logger(tensorrt.Logger.WARNING)
    builder = tensorrt.Builder(logger)
    network = builder.create_network(network_flags(tensorrt, strongly_typed=precision == "fp16"))
    parser = tensorrt.OnnxParser(network, logger)
    LOG.info("parsing %s", onnx_path)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        listing = "\n  ".join(errors) or "(the parser gave no details)"
        raise EngineBuildError(f"TensorRT could not parse {onnx_path}:\n  {listing}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(tensorrt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    config.builder_optimization_level = int(optimization_level)
    if fp16 and precision == "fp32":
        config.set_flag(tensorrt.BuilderFlag.FP16)
    if version_compatible:
        config.set_flag(tensorrt.BuilderFlag.VERSION_COMPATIBLE)
    if hardware_compatibility:
        if hardware_compatibility not in HARDWARE_LEVELS:
            raise ValueError(
                f"hardware_compatibility must be one of {HARDWARE_LEVELS}, got {hardware_compatibility!r}"
            )
        level = getattr(tensorrt.HardwareCompatibilityLevel, hardware_compatibility.upper())
        config.hardware_compatibility_level = level
    trt_profile = builder.create_optimization_profile()
    trt_profile.set_shape(
        INPUT_NAME,
        profile.input_shape("min"),
        profile.input_shape("opt"),
        profile.input_shape("max"),
    )
    config.add_optimization_profile(trt_profile)
    cache_file = default_timing_cache(env) if timing_cache == "auto" else timing_cache
    cache_file = Path(cache_file) if cache_file else None
    load_timing_cache(config, cache_file)
    LOG.info(
        "building %s engine (optimisation level %d); this takes minutes",
        "fp16" if fp16 else "fp32",
        optimization_level,
    )
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(
            f"TensorRT failed to build an engine from {onnx_path} (see its log above)"
        )
    atomic_write_bytes(bytes(serialized), engine_path)
    seconds = time.perf_counter() - start
    if cache_file is not None:
        atomic_write_bytes(bytes(config.get_timing_cache().serialize()), cache_file)
    graph_meta = read_metadata(onnx_path)
    metadata = {
        **env,
        "engine": engine_path.name,
        "precision": "fp16" if fp16 else "fp32",
        "strongly_typed": precision == "fp16" or not weak_fp16,
        "profile": {k: list(v) for k, v in asdict(profile).items()},
        "input": INPUT_NAME,
        "output": graph_meta.get("output", ""),
        "num_segments": _int_or_none(graph_meta.get("num_segments")),
        "foreground_channel": _int_or_none(graph_meta.get("foreground_channel")),
        "checkpoint_sha256": checkpoint_sha256 or graph_meta.get("checkpoint_sha256") or None,
        "onnx_sha256": file_sha256(onnx_path),
        "version_compatible": bool(version_compatible),
        "hardware_compatibility": hardware_compatibility,
        "optimization_level": int(optimization_level),
        "build_seconds": round(seconds, 1),
    }
    write_metadata(engine_path, metadata)
    LOG.info("wrote %s (%.1f MB) in %.0f s", engine_path, engine_path.stat().st_size / 1e6, seconds)
    return metadata


def network_flags(tensorrt: ModuleType, strongly_typed: bool) -> int:
    """``create_network`` flags for this TensorRT version.

    ``EXPLICIT_BATCH`` is only needed (and only meaningful) before 10.x: networks are
    explicit-batch by default since 10.0 and the flag is deprecated/removed afterwards.
    ``STRONGLY_TYPED`` is the 10.x opt-in for taking precision from the graph; on 11.x it is
    accepted and ignored (strong typing is unconditional), so it is set whenever present.
    """
    flags_enum = tensorrt.NetworkDefinitionCreationFlag
    flags = 0
    if int(str(tensorrt.__version__).split(".")[0]) < 10 and hasattr(flags_enum, "EXPLICIT_BATCH"):
        flags |= 1 << int(flags_enum.EXPLICIT_BATCH)
    if strongly_typed and hasattr(flags_enum, "STRONGLY_TYPED"):
        flags |= 1 << int(flags_enum.STRONGLY_TYPED)
    return flags


def load_timing_cache(config: Any, cache_file: Path | None) -> None:
    """Attach a timing cache to ``config``: the saved one when it exists and fits, else empty."""
    blob = b""
    if cache_file is not None and cache_file.exists():
        blob = cache_file.read_bytes()
        LOG.info("reusing timing cache %s", cache_file)
    cache = config.create_timing_cache(blob)
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        # a cache from another device/version is refused: start a fresh one rather than fail
        LOG.warning(
            "timing cache %s does not fit this GPU/TensorRT; starting a new one", cache_file
        )
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None
