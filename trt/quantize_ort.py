"""ONNX Runtime static int8 (QDQ) with accuracy control.

ONNX Runtime quantises every operation it is given; it has no loop that trades speed for
accuracy. This module adds one, in the spirit of NNCF's accuracy control:

1. calibrate once (MinMax activation ranges over the calibration frames, cached), and
   quantise every operation ONNX Runtime can (convolutions, residual additions, pooling,
   ...) but the classifier;
2. if the mean mask IoU against eager fp32 on the *validation* frames is below the target,
   rank the quantised operations by harm: each is returned to fp32 alone and the IoU
   measured on a few validation frames; the larger the IoU then, the more harm it does;
3. return operations to fp32 in that order until the validation IoU reaches the target
   (or none are left); the ranking frames screen each step, all validation frames confirm.

Not only convolutions are ranked: on the random-weight ResNet-50 of the benchmarks, with
every convolution returned to fp32, the other quantised operations alone still cost 0.25 of
mask IoU.

The held-out acceptance check is the same as for OpenVINO (:mod:`trt.quantize`): the mean
mask IoU on frames from clips used neither for calibration nor for validation.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from amd_plugin.modeling.amd import AMD
from trt.graph_output import INT8_MIN_IOU
from trt.quantize import (
    QuantizeResult,
    agreement,
    graph_int8_convolutions,
    int8_metadata,
    quantize_result,
    reference_logits,
)

LOG = logging.getLogger(__name__)


def quantized_nodes(graph) -> list[str]:
    """Names of the operations of a QDQ ``onnx.GraphProto`` that take a dequantised input
    (they run in int8)."""
    producer = {out: node.op_type for node in graph.node for out in node.output}
    qdq = {"QuantizeLinear", "DequantizeLinear"}
    return [
        n.name
        for n in graph.node
        if n.op_type not in qdq and any(producer.get(i) == "DequantizeLinear" for i in n.input)
    ]


class _StaticQuantizer:
    """Quantises one fp32 graph with different sets of fp32 operations, calibrating once.

    Args:
        graph: the pre-processed fp32 graph (``quant_pre_process`` output).
        calibration: ``1×3×h×w`` float32 frames for the activation ranges.
        work: a folder for the calibration cache and candidate graphs.
    """

    def __init__(self, graph: Path, calibration: Sequence[np.ndarray], work: Path) -> None:
        import onnx
        from onnxruntime.quantization import quantize_static

        self.graph = graph
        self.calibration = calibration
        self.work = work
        self.convolutions = [
            n.name for n in onnx.load(str(graph)).graph.node if n.op_type == "Conv"
        ]
        self.calls = 0
        self.cache = {}
        if "calibration_cache_path" in inspect.signature(quantize_static).parameters:
            # ONNX Runtime ≥ 1.21: the ranges are computed on the first call only
            self.cache = {"calibration_cache_path": str(work / "ranges.json")}

    @staticmethod
    def quantized_nodes(path: Path) -> list[str]:
        """:func:`quantized_nodes` of the graph at ``path``."""
        import onnx

        return quantized_nodes(onnx.load(str(path), load_external_data=False).graph)

    def __call__(self, fp32_nodes: Sequence[str]) -> Path:
        """Write an int8 graph that keeps ``fp32_nodes`` in fp32; returns its path."""
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        from trt.export import INPUT_NAME

        frames = self.calibration

        class Frames(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter(frames)

            def get_next(self):
                x = next(self.items, None)
                return None if x is None else {INPUT_NAME: x}

        self.calls += 1
        out = self.work / f"int8_{self.calls}.onnx"
        quantize_static(
            str(self.graph),
            str(out),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=list(fp32_nodes),
            **self.cache,
        )
        return out


def _frame_ious(path: Path, frames, reference, threads: int | None) -> list[float]:
    """Mask IoU of the graph at ``path`` against the reference logits, one value per frame."""
    from trt.runtimes import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(path, threads=threads, allow_rejected=True)
    return agreement(backend.logits, frames, reference)


def restore_harmful_operations(
    quantize: _StaticQuantizer,
    fp32: list[str],
    validation: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    target: float,
    ranking_frames: int = 4,
    threads: int | None = None,
) -> tuple[Path, list[str], list[float]]:
    """The accuracy-control loop (steps 2 and 3 of the module docstring).

    Args:
        quantize: the quantiser of the fp32 graph.
        fp32: operations kept in fp32 from the start (e.g. the classifier).
        validation, reference: frames and their eager fp32 logits.
        target: the mean validation mask IoU to reach.
        ranking_frames: validation frames used to rank (all of them judge the result).

    Returns:
        (int8 graph, operations it keeps in fp32, its validation IoU per frame).
    """
    path = quantize(fp32)
    ious = _frame_ious(path, validation, reference, threads)
    LOG.info(
        "ONNX Runtime int8, fp32 operations: %d; validation IoU %.4f", len(fp32), np.mean(ious)
    )
    if np.mean(ious) >= target:
        return path, fp32, ious
    candidates = [c for c in quantize.quantized_nodes(path) if c not in fp32]
    subset, subset_ref = validation[:ranking_frames], reference[:ranking_frames]
    harm = {}
    for op in tqdm(candidates, desc="rank int8 operations", unit="op", leave=False):
        trial = quantize([*fp32, op])
        harm[op] = np.mean(_frame_ious(trial, subset, subset_ref, threads))
        trial.unlink()
    ranked = sorted(candidates, key=lambda c: -harm[c])
    fp32 = list(fp32)
    for op in tqdm(ranked, desc="return to fp32", unit="op", leave=False):
        path.unlink()
        fp32.append(op)
        path = quantize(fp32)
        # the ranking frames screen each candidate; all validation frames confirm it
        screened = np.mean(_frame_ious(path, subset, subset_ref, threads))
        LOG.info("  + %s in fp32 (%d): ranking-frame IoU %.4f", op, len(fp32), screened)
        ious = None  # not yet measured for this graph
        if screened >= target:
            ious = _frame_ious(path, validation, reference, threads)
            LOG.info("    validation IoU %.4f", np.mean(ious))
            if np.mean(ious) >= target:
                break
    if ious is None:  # the last graph never passed the screen
        ious = _frame_ious(path, validation, reference, threads)
    return path, fp32, ious


def quantize_onnxruntime(
    model: AMD,
    out: str | Path,
    calibration: Sequence[np.ndarray],
    validation: Sequence[np.ndarray],
    heldout: Sequence[np.ndarray],
    fp32_graph: str | Path | None = None,
    min_iou: float = INT8_MIN_IOU,
    keep_classifier_fp32: bool = True,
    accuracy_control: bool = True,
    threads: int | None = None,
    provenance: dict[str, str] | None = None,
) -> QuantizeResult:
    """ONNX Runtime static QDQ int8 (per-channel weights, MinMax); writes ``out``.

    Args:
        model: the fp32 model (eval mode); exported when ``fp32_graph`` is not given.
        out: ``.onnx`` path.
        calibration, validation, heldout: as in :func:`trt.quantize.quantize_openvino`.
        fp32_graph: an exported ``logits`` graph of ``model``.
        min_iou: the held-out acceptance bar; accuracy control aims at it on validation.
        keep_classifier_fp32: leave the final 1×1 classifier unquantised.
        accuracy_control: ``False`` keeps every other operation in int8, whatever the IoU.
    """
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from trt.export import METADATA_PREFIX, ExportOptions, export_onnx

    start = time.perf_counter()
    model = model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(f".{out.stem}.work")
    work.mkdir(exist_ok=True)
    try:
        if fp32_graph is None:
            fp32_graph = work / "fp32.onnx"
            export_onnx(model, fp32_graph, ExportOptions(output="logits"), check=False)
        pre = work / "pre.onnx"
        # ONNX shape inference + graph clean-up first. ONNX Runtime's extra symbolic shape
        # inference (meant for transformer graphs) stops on the quarter-scale refinement's
        # crop and then writes a temp file into the working directory; a conv net's shapes
        # need only ONNX's own inference
        quant_pre_process(str(fp32_graph), str(pre), skip_symbolic_shape=True)
        quantize = _StaticQuantizer(pre, calibration, work)
        fp32 = quantize.convolutions[-1:] if keep_classifier_fp32 else []
        val_reference = reference_logits(model, validation)
        target = min_iou if accuracy_control else -1.0
        tmp, fp32, val_iou = restore_harmful_operations(
            quantize, fp32, validation, val_reference, target, threads=threads
        )
        held_iou = _frame_ious(tmp, heldout, reference_logits(model, heldout), threads)
        classifier = quantize.convolutions[-1]
        proto = onnx.load(str(tmp))
        int8_ops = len(quantized_nodes(proto.graph))
        meta = int8_metadata(
            model,
            "onnxruntime",
            held_iou,
            min_iou,
            len(calibration),
            graph_int8_convolutions(proto.graph),
            {
                "classifier": "fp32" if classifier in fp32 else "int8",
                "accuracy_control": str(accuracy_control).lower(),
                "fp32_operations": ",".join(fp32),
                "int8_operations": str(int8_ops),
                "precision": "int8" if int8_ops else "fp32",
                **(provenance or {}),
            },
        )
        del proto.metadata_props[:]
        for key, value in meta.items():
            prop = proto.metadata_props.add()
            prop.key, prop.value = METADATA_PREFIX + key, value
        onnx.save(proto, str(work / "final.onnx"))
        (work / "final.onnx").replace(out)  # same folder: an atomic rename
    finally:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    result = quantize_result(out, "onnxruntime", meta, val_iou, min_iou, start)
    LOG.info("%s", result)
    return result
