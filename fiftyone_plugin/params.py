"""Operator parameters → :class:`ApplyOptions` and a :class:`~amd_plugin.Segmenter`.

FiftyOne does not inject the defaults declared in ``resolve_input`` on programmatic calls,
so every value is read with ``params.get(name, DEFAULTS[name])``; this table is the single
source of those defaults for the forms, the readers and the ``__call__`` signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fiftyone_plugin.apply import ApplyOptions

BACKENDS = ("torch", "onnxruntime", "openvino", "tensorrt", "auto")

DEFAULTS: dict[str, Any] = {
    "checkpoint": "real-small",
    "backend": "torch",
    "device": "auto",
    "engine": None,
    "batch_size": 4,
    "short_side": None,  # None: the size the checkpoint records (real-small: 256), else 392
    "label_prefix": "amd",
    "output_dir": None,
    "skip_existing": True,
    "overwrite": False,
    "threshold": 0.5,
    "detections": False,
    "min_component_area": 0.001,
    "frame_stride": 1,
    "write_batch": 16,
    "heatmap_bits": 16,
    "shards": 1,
    "shard_index": 0,
    "num_shards": 1,
}


def get(params: Mapping[str, Any], name: str) -> Any:
    """``params[name]`` or its default; an explicit ``None`` also means the default."""
    value = params.get(name, DEFAULTS[name])
    return DEFAULTS[name] if value is None else value


def apply_options(params: Mapping[str, Any]) -> ApplyOptions:
    """Build :class:`ApplyOptions` from operator params (unknown keys are ignored)."""
    output_dir = get(params, "output_dir") or None
    return ApplyOptions(
        prefix=str(get(params, "label_prefix")),
        output_dir=output_dir,
        skip_existing=bool(get(params, "skip_existing")),
        overwrite=bool(get(params, "overwrite")),
        threshold=float(get(params, "threshold")),
        detections=bool(get(params, "detections")),
        min_component_area=float(get(params, "min_component_area")),
        heatmap_bits=int(get(params, "heatmap_bits")),
        frame_stride=max(1, int(get(params, "frame_stride"))),
        write_batch=max(1, int(get(params, "write_batch"))),
        shard_index=int(get(params, "shard_index")),
        num_shards=max(1, int(get(params, "num_shards"))),
    )


def segmenter_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :class:`amd_plugin.Segmenter` (besides the model)."""
    backend = str(get(params, "backend"))
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}' (choose one of {', '.join(BACKENDS)})")
    short_side = get(params, "short_side")
    if short_side is not None:
        short_side = int(short_side)
    kwargs: dict[str, Any] = {
        "backend": backend,
        "device": str(get(params, "device")),
        "batch_size": max(1, int(get(params, "batch_size"))),
        # empty: the checkpoint's own size; 0 keeps the input resolution
        "short_side": "auto" if short_side is None else (short_side if short_side > 0 else None),
    }
    if get(params, "engine"):
        kwargs["engine"] = str(get(params, "engine"))
    return kwargs


def build_segmenter(params: Mapping[str, Any]) -> Any:
    """A :class:`amd_plugin.Segmenter` for the checkpoint (path or built-in name) in params."""
    from amd_plugin import Segmenter

    return Segmenter(str(get(params, "checkpoint")), **segmenter_kwargs(params))
