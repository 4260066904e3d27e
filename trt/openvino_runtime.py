"""OpenVINO on CPU behind :class:`~amd_plugin.backends.InferenceBackend` (``logits(batch)``).

A model comes from one of three places, all with dynamic batch, height and width:

- an exported ONNX graph (:func:`trt.export.export_onnx`, ``logits`` or ``masks``);
- an OpenVINO IR (``.xml`` + ``.bin``), e.g. an int8 model from :mod:`trt.quantize`;
- the PyTorch model itself (:func:`convert_from_torch`, no ONNX packages needed).

Our metadata (output kind, K, precision, foreground channel, int8 acceptance) travels in
the IR's ``rt_info`` under ``amd`` and in the ONNX graph's ``amd.*`` properties.

Precision: OpenVINO's CPU plugin runs fp32 graphs in bf16 by default on processors with
bf16 instructions; measured here (a Xeon with AVX512-BF16 but no AMX) that was slower than
fp32 and changed the logits by up to 5, so the backend asks for fp32 explicitly.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from amd_plugin.modeling.amd import AMD
from trt.graph_output import check_acceptance, runtime_kind, to_logits

LOG = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'amd-objectness[openvino]' (or: pip install openvino nncf)"
RT_INFO_KEY = "amd"


class OpenVINOUnavailable(RuntimeError):
    """The ``openvino`` package is not installed."""


def openvino_importable() -> bool:
    try:
        return importlib.util.find_spec("openvino") is not None
    except (ImportError, ValueError):  # e.g. a broken or blocked installation
        return False


def require_openvino() -> Any:
    """The ``openvino`` module, or :class:`OpenVINOUnavailable` saying how to install it."""
    try:
        import openvino
    except ImportError as err:
        raise OpenVINOUnavailable(f"the openvino backend needs OpenVINO: {INSTALL_HINT}") from err
    return openvino


def model_metadata(model: Any) -> dict[str, str]:
    """Our metadata stored in an OpenVINO model's ``rt_info`` (``{}`` when it has none)."""
    info = model.get_rt_info()
    if RT_INFO_KEY not in info:
        return {}
    return {key: value.astype(str) for key, value in info[RT_INFO_KEY].items()}


def set_model_metadata(model: Any, metadata: dict[str, str]) -> None:
    for key, value in metadata.items():
        model.set_rt_info(str(value), [RT_INFO_KEY, key])


def convert_from_torch(model: AMD | nn.Module, foreground_channel: int | None = None) -> Any:
    """The ``logits`` graph of an :class:`AMD` (or its appearance net) as an OpenVINO model.

    Converted by OpenVINO's PyTorch frontend, with batch, height and width left dynamic.
    """
    from trt.export import ExportOptions, ExportWrapper, appearance_of
    from trt.parity import synthetic_images

    ov = require_openvino()
    appearance = appearance_of(model)
    options = ExportOptions(output="logits")
    wrapper = ExportWrapper(appearance, options).cpu()
    b, h, w = options.example_shape
    with torch.no_grad():
        converted = ov.convert_model(
            wrapper,
            example_input=torch.from_numpy(synthetic_images(b, h, w)),
            input=[ov.PartialShape([-1, 3, -1, -1])],
        )
    set_model_metadata(
        converted,
        {
            "output": "logits",
            "upsample": "false",
            "precision": "fp32",
            "num_segments": str(int(appearance.head.conv_seg.out_channels)),
            "foreground_channel": "" if foreground_channel is None else str(foreground_channel),
            "source": "torch",
        },
    )
    return converted


@functools.cache
def openvino_core() -> Any:
    """The process's one OpenVINO ``Core`` (as OpenVINO recommends). A Core per model loads
    and unloads the CPU plugin each time; with the plugin unloaded, a later ``fork`` (torch
    DataLoader workers, process pools) crashed the parent in the test suite."""
    return require_openvino().Core()


def read_model(path: str | Path) -> tuple[Any, dict[str, str]]:
    """(OpenVINO model, our metadata) of an ONNX graph or an IR ``.xml``."""
    require_openvino()  # the clear error when absent, even after the Core was made
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model not found")
    model = openvino_core().read_model(str(path))
    meta = model_metadata(model)
    if not meta and path.suffix == ".onnx":
        try:
            from trt.export import read_metadata

            meta = read_metadata(path)
        except ImportError:  # the onnx package is optional here; fall back to the graph
            meta = {}
    return model, meta


def save_ir(model: Any, path: str | Path) -> Path:
    """Write ``model`` as an IR (``path`` ``.xml`` + its ``.bin``), weights kept as they are.

    ``ov.save_model`` would compress fp32 weights to fp16 by default; here they are not. The
    pair is written under temporary names and renamed, ``.bin`` first, so a reader never
    finds a new ``.xml`` beside an old ``.bin``.
    """
    ov = require_openvino()
    path = Path(path)
    if path.suffix != ".xml":
        raise ValueError(f"{path}: an OpenVINO IR path ends in .xml")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    tmp.with_suffix(".bin").replace(path.with_suffix(".bin"))
    tmp.replace(path)
    return path


def compile_for_cpu(model: Any, threads: int | None = None, precision: str = "f32") -> Any:
    """A compiled CPU model: latency hint, ``precision`` (``f32``/``bf16``), ``threads``."""
    require_openvino()
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return openvino_core().compile_model(model, "CPU", config)


class OpenVINOBackend:
    """OpenVINO on CPU.

    Args:
        source: an ONNX graph or IR ``.xml`` path, an OpenVINO model, or an :class:`AMD`
            (converted directly from PyTorch).
        threads: inference threads (``None``: OpenVINO's default, one per core).
        precision: ``f32`` (default; see the module docstring) or ``bf16``. An int8 model
            runs its quantised layers in int8 either way.
        allow_rejected: run an int8 model even when its acceptance check failed.
    """

    def __init__(
        self,
        source: str | Path | AMD | nn.Module | Any,
        threads: int | None = None,
        precision: str = "f32",
        allow_rejected: bool = False,
    ) -> None:
        ov = require_openvino()
        self.path: Path | None = None
        if isinstance(source, (str, Path)):
            self.path = Path(source)
            model, meta = read_model(self.path)
        elif isinstance(source, nn.Module):
            model = convert_from_torch(source)
            meta = model_metadata(model)
        elif isinstance(source, ov.Model):
            model, meta = source, model_metadata(source)
        else:
            raise TypeError(f"cannot make an OpenVINO model from {type(source).__name__}")
        label = self.path or "OpenVINO model"
        output = model.outputs[0]
        self.kind = runtime_kind(
            meta.get("output") or output.get_any_name(), meta.get("upsample") == "true", label
        )
        check_acceptance(meta, label, allow_rejected)
        self.metadata = meta
        k = meta.get("num_segments") or output.partial_shape[1].get_length()
        self.num_segments = int(k)
        fg = meta.get("foreground_channel")
        self.foreground_channel = int(fg) if fg else None
        self.compiled = compile_for_cpu(model, threads, precision)
        self.request = self.compiled.create_infer_request()
        stored = meta.get("precision", "fp32")
        self.name = "openvino" + ("" if stored == "fp32" else f"-{stored}")
        if precision != "f32" and stored == "fp32":
            self.name += f"-{precision}"

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """``B×3×H×W`` float32 ImageNet-normalised → ``B×K×h×w`` float32 logits."""
        result = self.request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        # the request reuses its output buffer: copy before the next call overwrites it
        return to_logits(np.array(result[0], copy=True), self.kind)
