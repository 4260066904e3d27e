"""On-disk cache of exported graphs and built engines, so runtimes start fast the second time.

Layout under ``$AMD_OBJECTNESS_CACHE`` (default ``~/.cache/amd-objectness``)::

    onnx/<key>.onnx          key = hash(weights, export options, torch version)
    tensorrt/<key>.engine    key = hash(graph key, profile, precision, GPU, TensorRT version)
    tensorrt/timing_*.cache  TensorRT timing caches (see trt.engine)
    int8/<model>-<runtime>   calibrated int8 models from ``amd-trt quantize`` without --out;
                             ``auto`` on a CPU times the accepted ones for these weights

Weights are identified by the model's own tensors when a model is given (always right,
~0.3 s for ResNet-50), else by the checkpoint file's sha256 (then a hit needs no model load).
Files are written atomically, so concurrent processes at worst export twice.

This module sits above the build: it calls :mod:`trt.export` and :mod:`trt.engine`, which
never import it back (the folder itself comes from :mod:`trt.cache_dir`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from amd_plugin.checkpoint import file_sha256, load_model, resolve_checkpoint_path
from amd_plugin.modeling.amd import AMD
from trt.cache_dir import cache_root
from trt.engine import ShapeProfile, build_engine, current_environment, require_tensorrt
from trt.export import ExportOptions, export_onnx, options_fingerprint
from trt.metadata import EngineMismatch, check_engine_metadata

LOG = logging.getLogger(__name__)


def model_fingerprint(model: AMD) -> str:
    """sha256 of the appearance weights (names, shapes, dtypes, values) and K."""
    digest = hashlib.sha256(f"K={model.num_segments}".encode())
    for name, tensor in sorted(model.appearance.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        # raw bytes via a uint8 view: works for every dtype, 0-dim tensors included
        digest.update(
            tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()


def weights_source(model: AMD | None, checkpoint: str | Path | None) -> tuple[str, str | None]:
    """(cache identity of the weights, checkpoint sha256 or None)."""
    ckpt_sha = file_sha256(resolve_checkpoint_path(checkpoint)) if checkpoint is not None else None
    if model is not None:
        return f"model:{model_fingerprint(model)}", ckpt_sha
    if ckpt_sha is None:
        raise ValueError("need a model or a checkpoint to export")
    return f"checkpoint:{ckpt_sha}", ckpt_sha


def cached_onnx(
    options: ExportOptions,
    model: AMD | None = None,
    checkpoint: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Path of the graph for these weights and options, exporting (with parity check) on a miss.

    Args:
        options: what the graph computes.
        model: the model (preferred identity of the weights).
        checkpoint: checkpoint path or built-in name (loaded only when exporting without a
            model; its sha256 is recorded in the graph).
        cache_dir: overrides :func:`trt.cache_dir.cache_root`.
    """
    source, ckpt_sha = weights_source(model, checkpoint)
    path = cache_root(cache_dir) / "onnx" / f"{options_fingerprint(options, source)}.onnx"
    if path.exists():
        LOG.info("using cached ONNX graph %s", path)
        return path
    foreground = None
    if model is None:
        loaded = load_model(checkpoint, device="cpu")  # type: ignore[arg-type]
        model, foreground = loaded.model, loaded.foreground_channel
    elif checkpoint is not None:
        foreground = load_foreground_channel(checkpoint)
    export_onnx(model, path, options, checkpoint_sha256=ckpt_sha, foreground_channel=foreground)
    return path


def load_foreground_channel(checkpoint: str | Path) -> int | None:
    """The foreground channel a checkpoint stores (``None`` when it has none)."""
    return load_model(checkpoint, device="cpu").foreground_channel


def engine_cache_path(
    onnx_path: Path,
    environment: dict[str, str],
    settings: dict[str, object],
    cache_dir: str | Path | None = None,
) -> Path:
    """Where an engine built from ``onnx_path`` with ``settings`` on this GPU/TensorRT lives."""
    blob = json.dumps(
        {"onnx": onnx_path.stem, "env": environment, "settings": settings},
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    return cache_root(cache_dir) / "tensorrt" / f"{key}.engine"


def cached_engine(
    model: AMD | None = None,
    checkpoint: str | Path | None = None,
    profile: ShapeProfile | None = None,
    fp16: bool = True,
    cache_dir: str | Path | None = None,
    **build_options: object,
) -> Path:
    """A TensorRT engine of the logits graph for these weights, built on a miss.

    fp16 engines are built from the fp16 graph (strongly typed on TensorRT 10 and 11 alike).
    Extra ``build_options`` go to :func:`trt.engine.build_engine`.
    """
    tensorrt = require_tensorrt()  # fail before a long export when TensorRT cannot run
    profile = profile or ShapeProfile()
    onnx_path = cached_onnx(ExportOptions(output="logits", fp16=fp16), model, checkpoint, cache_dir)
    env = current_environment(tensorrt)
    settings = {"profile": asdict(profile), "fp16": fp16, **build_options}
    engine_path = engine_cache_path(onnx_path, env, settings, cache_dir)
    if engine_path.exists():
        try:
            check_engine_metadata(engine_path, env)
            LOG.info("using cached engine %s", engine_path)
            return engine_path
        except EngineMismatch as err:
            LOG.warning("rebuilding cached engine: %s", err)
    _, ckpt_sha = weights_source(None, checkpoint) if checkpoint is not None else (None, None)
    build_engine(
        onnx_path,
        engine_path,
        profile=profile,
        fp16=fp16,
        checkpoint_sha256=ckpt_sha,
        **build_options,
    )  # type: ignore[arg-type]
    return engine_path


# the file each runtime's calibrated int8 model is stored as
INT8_SUFFIXES = {"openvino": ".xml", "onnxruntime": ".onnx"}


def int8_cache_path(model: AMD, runtime: str, cache_dir: str | Path | None = None) -> Path:
    """Where ``amd-trt quantize`` stores the ``runtime`` int8 model of these weights."""
    if runtime not in INT8_SUFFIXES:
        raise ValueError(f"no int8 models for runtime '{runtime}' (known: {sorted(INT8_SUFFIXES)})")
    name = f"{model_fingerprint(model)[:32]}-{runtime}{INT8_SUFFIXES[runtime]}"
    return cache_root(cache_dir) / "int8" / name


def cached_int8_models(model: AMD, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """``{runtime: path}`` of the int8 models of these weights in the cache (accepted or not:
    the runtimes read and enforce the acceptance record)."""
    found = {}
    for runtime in INT8_SUFFIXES:
        path = int8_cache_path(model, runtime, cache_dir)
        if path.exists():
            found[runtime] = path
    return found


def store_int8_in_cache(written: Path, target: Path, accepted: bool) -> Path:
    """Move a freshly written int8 model (an IR with its ``.bin``) to ``target`` in the cache.

    A rejected model never replaces one already there, which may be an accepted model that
    ``auto`` relies on: it goes beside it as ``<name>.rejected.<ext>``. Returns where it went.
    """
    dest = target
    if not accepted and target.exists():
        dest = target.with_name(f"{target.stem}.rejected{target.suffix}")
    if target.suffix == ".xml":  # weights first, as trt.openvino_runtime.save_ir does
        written.with_suffix(".bin").replace(dest.with_suffix(".bin"))
    written.replace(dest)
    return dest
