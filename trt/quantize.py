"""Calibrated int8 models for the CPU runtimes, accepted only where they keep the fp32 masks.

Two methods, both calibrated on frames of real video at the inference scale:

- ``openvino``: NNCF post-training quantisation of the OpenVINO model with accuracy
  control: when the int8 model's mask IoU against fp32 on the *validation* frames drops by
  more than ``max_drop``, NNCF ranks the quantised layers by their harm and returns the
  most harmful to fp32 until the drop fits.
- ``onnxruntime`` (:mod:`trt.quantize_ort`): ONNX Runtime static quantisation, QDQ format,
  int8 weights per output channel, uint8 activations, MinMax calibration, with an accuracy
  control loop of its own that returns the most harmful operations to fp32.

Acceptance, the same for both: the mask IoU (:func:`trt.parity.mask_iou`: argmax over the K
segments) of the int8 model against eager fp32 PyTorch, averaged over *held-out* frames
from clips that were used neither for calibration nor for validation, must reach
:data:`~trt.graph_output.INT8_MIN_IOU`. The result is written into the model's metadata
(``int8_accepted``, ``heldout_mask_iou``, ...), and the runtimes refuse a rejected model
(:func:`trt.graph_output.check_acceptance`), so it is never used by accident.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from amd_plugin.io.video import iter_frames, probe_video
from amd_plugin.modeling.amd import AMD
from amd_plugin.predictor import DEFAULT_SHORT_SIDE, prepare_image
from trt.graph_output import INT8_MIN_IOU
from trt.parity import mask_iou, softmax

LOG = logging.getLogger(__name__)
METHODS = ("openvino", "onnxruntime")


def sample_frames(
    clips: Sequence[str | Path], per_clip: int, short_side: int | None = DEFAULT_SHORT_SIDE
) -> list[np.ndarray]:
    """``per_clip`` frames spread evenly over each clip, ready for a backend.

    Returns:
        ``1×3×h×w`` float32 ImageNet-normalised arrays, resized like ``Segmenter`` does
        (short side ``short_side``); frame sizes follow each clip's aspect ratio.
    """
    frames = []
    for clip in clips:
        total = probe_video(clip).num_frames if Path(clip).is_file() else 0
        stride = max(1, total // per_clip) if total else 10
        for _, frame in itertools.islice(iter_frames(clip, stride), per_clip):
            frames.append(prepare_image(frame, short_side)[None])
        LOG.info("sampled frames from %s (every %d-th)", clip, stride)
    if not frames:
        raise ValueError(f"no frames could be read from {list(map(str, clips))}")
    return frames


def split_alternate(frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(even-indexed, odd-indexed) frames: calibration and validation from the same clips."""
    return frames[0::2], frames[1::2]


def reference_logits(model: AMD, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Eager fp32 PyTorch logits of each frame (the reference every int8 model must keep)."""
    net = model.appearance.float().cpu().eval()
    with torch.inference_mode():
        return [net(torch.from_numpy(x)).numpy() for x in frames]


def agreement(
    run: Callable[[np.ndarray], np.ndarray],
    frames: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
) -> list[float]:
    """Mask IoU of ``run(frame)`` against the reference logits, one value per frame."""
    return [
        mask_iou(softmax(want), softmax(run(x))) for x, want in zip(frames, reference, strict=True)
    ]


@dataclass
class QuantizeResult:
    """An int8 model and its acceptance check.

    Attributes:
        path: the model (OpenVINO IR ``.xml`` or ONNX ``.onnx``), written even when rejected
            (its metadata says so, and the runtimes refuse it).
        method: ``openvino`` or ``onnxruntime``.
        accepted: held-out mean mask IoU ≥ ``min_iou``.
        heldout_mask_iou: mean over held-out frames; ``heldout_min_iou`` the worst frame.
        validation_mask_iou: the same on the validation frames (what accuracy control saw).
        seconds: calibration + quantisation + checks.
    """

    path: Path
    method: str
    accepted: bool
    heldout_mask_iou: float
    heldout_min_iou: float
    validation_mask_iou: float
    min_iou: float
    calibration_frames: int
    heldout_frames: int
    seconds: float
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        verdict = "accepted" if self.accepted else "REJECTED"
        if self.metadata.get("precision") == "fp32":
            verdict += " (but no layer is left in int8: no faster than fp32)"
        return (
            f"{self.method} int8 {verdict}: held-out mask IoU {self.heldout_mask_iou:.4f} "
            f"(worst frame {self.heldout_min_iou:.4f}, {self.heldout_frames} frames; needs "
            f"{self.min_iou}), validation {self.validation_mask_iou:.4f}, "
            f"{self.metadata.get('int8_convolutions', '?')} convolutions in int8, "
            f"{self.calibration_frames} calibration frames, {self.seconds:.0f} s -> {self.path}"
        )


def openvino_int8_convolutions(model) -> tuple[int, int]:
    """(convolutions fed by a FakeQuantize, i.e. run in int8; all convolutions) of an
    OpenVINO model. Accuracy control may return every layer to fp32: then this is 0."""
    convs = [op for op in model.get_ops() if op.get_type_name() == "Convolution"]
    quantized = sum(op.input_value(0).get_node().get_type_name() == "FakeQuantize" for op in convs)
    return quantized, len(convs)


def onnx_int8_convolutions(path: str | Path) -> tuple[int, int]:
    """:func:`graph_int8_convolutions` of the QDQ graph at ``path``."""
    import onnx

    return graph_int8_convolutions(onnx.load(str(path), load_external_data=False).graph)


def graph_int8_convolutions(graph) -> tuple[int, int]:
    """(convolutions whose input and weights both come through a DequantizeLinear, i.e.
    run in int8; all convolutions) of a QDQ ``onnx.GraphProto``."""
    producer = {out: node.op_type for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    quantized = sum(
        producer.get(n.input[0]) == producer.get(n.input[1]) == "DequantizeLinear" for n in convs
    )
    return quantized, len(convs)


def int8_metadata(
    model: AMD,
    method: str,
    heldout: list[float],
    min_iou: float,
    calibration_frames: int,
    int8_convs: tuple[int, int],
    provenance: dict[str, str],
) -> dict[str, str]:
    mean = float(np.mean(heldout))
    return {
        "output": "logits",
        "upsample": "false",
        # accuracy control may have returned every layer to fp32
        "precision": "int8" if int8_convs[0] else "fp32",
        "num_segments": str(model.num_segments),
        "int8_method": method,
        "int8_accepted": str(mean >= min_iou).lower(),
        "heldout_mask_iou": f"{mean:.4f}",
        "heldout_min_mask_iou": f"{min(heldout):.4f}",
        "heldout_frames": str(len(heldout)),
        "min_mask_iou": str(min_iou),
        "calibration_frames": str(calibration_frames),
        "int8_convolutions": f"{int8_convs[0]}/{int8_convs[1]}",
        **provenance,
    }


def quantize_result(path, method, meta, validation, min_iou, start) -> QuantizeResult:
    return QuantizeResult(
        path=Path(path),
        method=method,
        accepted=meta["int8_accepted"] == "true",
        heldout_mask_iou=float(meta["heldout_mask_iou"]),
        heldout_min_iou=float(meta["heldout_min_mask_iou"]),
        validation_mask_iou=float(np.mean(validation)) if validation else float("nan"),
        min_iou=min_iou,
        calibration_frames=int(meta["calibration_frames"]),
        heldout_frames=int(meta["heldout_frames"]),
        seconds=time.perf_counter() - start,
        metadata=meta,
    )


def quantize_openvino(
    model: AMD,
    out: str | Path,
    calibration: Sequence[np.ndarray],
    validation: Sequence[np.ndarray],
    heldout: Sequence[np.ndarray],
    min_iou: float = INT8_MIN_IOU,
    max_drop: float = 1.0 - INT8_MIN_IOU,
    threads: int | None = None,
    provenance: dict[str, str] | None = None,
    accuracy_control: bool = True,
) -> QuantizeResult:
    """NNCF int8 of the OpenVINO model with accuracy control; writes an IR to ``out``.

    Args:
        model: the fp32 model (eval mode).
        out: ``.xml`` path (``.bin`` beside it).
        calibration: frames for the activation statistics.
        validation: frames accuracy control measures the drop on (IoU against fp32).
        heldout: frames from other clips, for the acceptance check only.
        max_drop: largest mean-IoU drop accuracy control tolerates on ``validation``.
        accuracy_control: ``False`` quantises every supported layer (no restoring loop).
        provenance: extra metadata (clip names, checkpoint hash).
    """
    from trt.openvino_runtime import (
        INSTALL_HINT,
        OpenVINOBackend,
        OpenVINOUnavailable,
        convert_from_torch,
        save_ir,
        set_model_metadata,
    )

    try:
        import nncf
        from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters
    except ImportError as err:
        raise OpenVINOUnavailable(f"OpenVINO int8 needs NNCF: {INSTALL_HINT}") from err
    start = time.perf_counter()
    model = model.eval()
    fp32 = convert_from_torch(model)
    val_reference = reference_logits(model, validation)

    def validate(compiled, items) -> tuple[float, list[float]]:
        values = [mask_iou(softmax(want), softmax(np.asarray(compiled(x)[0]))) for x, want in items]
        return float(np.mean(values)), values

    calib_set = nncf.Dataset(list(calibration))
    LOG.info(
        "NNCF int8: %d calibration, %d validation frames%s",
        len(calibration),
        len(validation),
        ", accuracy control" if accuracy_control else "",
    )
    if accuracy_control:
        quantized = nncf.quantize_with_accuracy_control(
            fp32,
            calib_set,
            nncf.Dataset(list(zip(validation, val_reference))),
            validation_fn=validate,
            max_drop=max_drop,
            drop_type=nncf.DropType.ABSOLUTE,
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(calibration),
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                ranking_subset_size=min(len(validation), 8), num_ranking_workers=1
            ),
        )
    else:
        quantized = nncf.quantize(
            fp32,
            calib_set,
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(calibration),
        )
    backend = OpenVINOBackend(quantized, threads=threads, allow_rejected=True)
    val_iou = agreement(backend.logits, validation, val_reference)
    held_iou = agreement(backend.logits, heldout, reference_logits(model, heldout))
    meta = int8_metadata(
        model,
        "openvino",
        held_iou,
        min_iou,
        len(calibration),
        openvino_int8_convolutions(quantized),
        provenance or {},
    )
    set_model_metadata(quantized, meta)
    save_ir(quantized, out)
    result = quantize_result(out, "openvino", meta, val_iou, min_iou, start)
    LOG.info("%s", result)
    return result
