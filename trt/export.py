"""ONNX export of the appearance network, with an immediate ONNX Runtime parity check.

Graph contract: one input ``images`` (``B×3×H×W`` float32, ImageNet-normalised) and one
output, with batch, height and width dynamic:

- ``logits``: ``B×K×⌈H/s⌉×⌈W/s⌉`` raw segment logits (``s`` = the appearance network's
  output stride, 8, or 4 with ``model.small_quarter_scale_logits``) (what the runtimes use: it is the
  :class:`~amd_plugin.backends.InferenceBackend` contract, and ``Segmenter`` applies the
  softmax itself);
- ``masks``: their softmax over K (the standalone default);
- ``foreground``: ``B×1×…`` only the foreground channel of the softmax.

``upsample=True`` resizes the output ×s back to exactly ``H×W`` (bilinear), as
``Segmenter`` does for the foreground map.

Exporter: the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), the default from
PyTorch 2.9. Measured here (torch 2.14), the legacy TorchScript exporter (``dynamo=False``)
mis-exports the final resize to the input size (max |Δp| 0.3–0.4 against PyTorch), while the
dynamo graph matches to 1e-7 with named dynamic ``batch``/``height``/``width`` dims. The
example batch is 2 and H ≠ W so no dimension is specialised to a constant. The exporter's
optimiser folds eval-mode BatchNorm into the convolutions.

fp16 (for TensorRT 11, which takes precision from the graph): the network is converted to
half in PyTorch before export; the graph casts ``images`` to fp16 at the entry and the
logits back to fp32, so inputs and outputs stay float32 and the softmax/resize run in fp32.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amd_plugin.io.atomic import atomic_write_bytes
from amd_plugin.modeling.amd import AMD
from trt.parity import Parity, compare_probabilities, softmax, synthetic_images

LOG = logging.getLogger(__name__)
OutputKind = Literal["logits", "masks", "foreground"]
INPUT_NAME = "images"
METADATA_PREFIX = "amd."
# Dynamic ranges declared to the exporter; TensorRT profiles narrow them at build time.
MAX_BATCH, MIN_SIDE, MAX_SIDE = 1024, 8, 8192


@dataclass(frozen=True)
class ExportOptions:
    """What the exported graph computes.

    Attributes:
        output: ``logits``, ``masks`` (softmax) or ``foreground`` (one softmax channel).
        upsample: resize the output ×s to the input size (bilinear, align_corners=False).
        fp16: half-precision graph with float32 inputs/outputs (TensorRT 11 fp16 engines).
        foreground_channel: channel for ``output="foreground"`` (required there).
        opset: ONNX opset.
        example_shape: ``(batch, height, width)`` of the tracing example; batch ≥ 2 and
            height ≠ width keep those dims symbolic.
    """

    output: OutputKind = "masks"
    upsample: bool = False
    fp16: bool = False
    foreground_channel: int | None = None
    opset: int = 18
    example_shape: tuple[int, int, int] = (2, 96, 160)

    def __post_init__(self) -> None:
        if self.output not in ("logits", "masks", "foreground"):
            raise ValueError(f"output must be logits, masks or foreground, got {self.output!r}")
        if self.output == "foreground" and self.foreground_channel is None:
            raise ValueError("output='foreground' needs foreground_channel")
        b, h, w = self.example_shape
        if b < 2 or h == w:
            raise ValueError(
                f"example_shape needs batch >= 2 and height != width: {self.example_shape}"
            )

    @property
    def output_name(self) -> str:
        return self.output

    def key(self) -> dict[str, Any]:
        """The options that change the graph (for cache keys)."""
        return asdict(self)


class ExportWrapper(nn.Module):
    """Appearance net + the chosen head: ``B×3×H×W`` → logits, masks or foreground.

    The net is deep-copied (and halved for fp16), so exporting never alters the caller's
    model.
    """

    def __init__(self, appearance: nn.Module, options: ExportOptions) -> None:
        super().__init__()
        self.net = copy.deepcopy(appearance).eval()
        if options.fp16:
            self.net = self.net.half()
        self.options = options
        self.eval()  # inference graph: BatchNorm uses running stats, Dropout2d is off

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        opts = self.options
        x = images.half() if opts.fp16 else images
        out = self.net(x).float()
        if opts.output != "logits":
            out = out.softmax(dim=1)
        if opts.output == "foreground":
            c = int(opts.foreground_channel or 0)
            out = out[:, c : c + 1]
        if opts.upsample:
            out = F.interpolate(out, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return out


def appearance_of(model: AMD | nn.Module) -> nn.Module:
    """The appearance pathway of an :class:`AMD`, or the module itself."""
    return model.appearance if isinstance(model, AMD) else model


@dataclass
class ExportResult:
    """An exported graph.

    Attributes:
        path: the ``.onnx`` file (self-contained: weights embedded).
        options: what it computes.
        metadata: the ``amd.*`` properties stored in the graph.
        seconds: export wall time.
        parity: ONNX Runtime vs PyTorch, when checked.
    """

    path: Path
    options: ExportOptions
    metadata: dict[str, str]
    seconds: float
    parity: Parity | None = field(default=None)


def export_onnx(
    model: AMD | nn.Module,
    path: str | Path,
    options: ExportOptions | None = None,
    checkpoint_sha256: str | None = None,
    foreground_channel: int | None = None,
    check: bool = True,
) -> ExportResult:
    """Export the appearance network to ONNX, validate it, and (``check``) compare it with
    PyTorch through ONNX Runtime on CPU.

    Args:
        model: an :class:`AMD` or its appearance pathway (eval mode is used regardless).
        path: output ``.onnx`` path, written atomically.
        options: see :class:`ExportOptions`.
        checkpoint_sha256: recorded in the graph metadata (ties the file to its weights).
        foreground_channel: recorded in the metadata (defaults to the option's).
        check: run ``onnx.checker`` and the ONNX Runtime parity check.
    """
    import onnx

    options = options or ExportOptions()
    path = Path(path)
    appearance = appearance_of(model)
    wrapper = ExportWrapper(appearance, options).cpu()
    b, h, w = options.example_shape
    example = torch.from_numpy(synthetic_images(b, h, w))  # fp32 even for fp16 graphs
    dims = {
        0: torch.export.Dim("batch", min=1, max=MAX_BATCH),
        2: torch.export.Dim("height", min=MIN_SIDE, max=MAX_SIDE),
        3: torch.export.Dim("width", min=MIN_SIDE, max=MAX_SIDE),
    }
    LOG.info(
        "exporting %s graph (%s) to %s", options.output, "fp16" if options.fp16 else "fp32", path
    )
    start = time.perf_counter()
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            (example,),
            None,
            input_names=[INPUT_NAME],
            output_names=[options.output_name],
            opset_version=options.opset,
            dynamo=True,
            dynamic_shapes={"images": dims},
            verbose=False,
        )
    proto = program.model_proto
    if foreground_channel is None:
        foreground_channel = options.foreground_channel
    metadata = {
        "output": options.output,
        "upsample": str(options.upsample).lower(),
        "precision": "fp16" if options.fp16 else "fp32",
        "num_segments": str(_num_segments(appearance)),
        "foreground_channel": "" if foreground_channel is None else str(foreground_channel),
        "checkpoint_sha256": checkpoint_sha256 or "",
        "torch_version": torch.__version__,
    }
    for key, value in metadata.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = METADATA_PREFIX + key, value
    # Weights are embedded (ResNet-50 is ~115 MB, far below protobuf's 2 GB limit), so the
    # file can be moved alone; TensorRT still parses by path, which also handles external data.
    atomic_write_bytes(proto.SerializeToString(), path)
    seconds = time.perf_counter() - start
    LOG.info("exported in %.1f s (%.1f MB)", seconds, path.stat().st_size / 1e6)
    result = ExportResult(path, options, metadata, seconds)
    if check:
        onnx.checker.check_model(str(path))
        result.parity = parity_check(appearance, path, options)
        LOG.info("ONNX Runtime vs PyTorch: %s", result.parity)
    return result


def _num_segments(appearance: nn.Module) -> int:
    conv_seg = getattr(getattr(appearance, "head", None), "conv_seg", None)
    if conv_seg is None:
        raise ValueError("cannot find the appearance head's conv_seg (is this an AMD model?)")
    return int(conv_seg.out_channels)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``amd.*`` metadata of an exported graph (prefix stripped; ``{}`` for foreign files)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {
        p.key[len(METADATA_PREFIX) :]: p.value
        for p in proto.metadata_props
        if p.key.startswith(METADATA_PREFIX)
    }


def graph_precision(path: str | Path) -> str:
    """``fp16`` when the graph stores float16 weights, else ``fp32``.

    Read from our metadata when present, else from the initializers' element types, so
    graphs exported by other tools are classified too.
    """
    import onnx

    meta = read_metadata(path)
    if meta.get("precision") in ("fp16", "fp32"):
        return meta["precision"]
    proto = onnx.load(str(path), load_external_data=False)
    types = {init.data_type for init in proto.graph.initializer}
    return "fp16" if onnx.TensorProto.FLOAT16 in types else "fp32"


def reference_outputs(
    appearance: nn.Module, images: np.ndarray, options: ExportOptions
) -> np.ndarray:
    """What the graph should compute, by PyTorch in float32 on CPU.

    ``B×3×H×W`` images → the graph's output (fp16 graphs are compared with fp32 PyTorch).
    """
    fp32 = ExportOptions(**{**options.key(), "fp16": False})
    wrapper = ExportWrapper(appearance, fp32).cpu()
    with torch.no_grad():
        return wrapper(torch.from_numpy(images)).numpy()


def as_probabilities(output: np.ndarray, kind: str) -> np.ndarray:
    """Graph output → probabilities (logits are softmaxed over K)."""
    return softmax(output, axis=1) if kind == "logits" else output


def parity_check(
    model: AMD | nn.Module,
    onnx_path: str | Path,
    options: ExportOptions,
    shape: tuple[int, int, int] = (2, 120, 200),
    threads: int | None = None,
) -> Parity:
    """ONNX Runtime (CPU) vs PyTorch fp32 on synthetic images of ``shape`` (B, H, W).

    ``shape`` differs from the export example on purpose: it also checks that the dynamic
    dims are honoured. Returns max |Δp| of the probabilities and the mask IoU.
    """
    session = cpu_session(onnx_path, threads)
    images = synthetic_images(*shape, seed=1)
    got = session.run(None, {INPUT_NAME: images})[0]
    want = reference_outputs(appearance_of(model), images, options)
    return compare_probabilities(
        as_probabilities(want, options.output), as_probabilities(got, options.output)
    )


def cpu_session(onnx_path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session with every graph optimisation enabled.

    Args:
        threads: intra-op threads (``None``: ONNX Runtime's default, one per core).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    # one graph runs at a time: inter-op parallelism only adds contention on few cores
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def options_fingerprint(options: ExportOptions, source: str) -> str:
    """Stable short hash of a weight source + options + torch version (cache keys)."""
    blob = json.dumps(
        {"source": source, "options": options.key(), "torch": torch.__version__, "v": 1},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
