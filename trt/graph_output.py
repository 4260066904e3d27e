"""What every runtime does with a graph's output, and the int8 acceptance rule they share.

Runtimes use the ``logits`` graph (the :class:`~amd_plugin.backends.InferenceBackend`
contract returns logits and ``Segmenter`` applies the softmax). A ``masks`` graph is accepted
too: the log of a softmax is a valid set of logits (softmax(log p) = p), so its output is
returned as ``log p``. Graphs that output only the foreground channel or are upsampled
cannot serve K segments and are refused.

int8 models carry the result of their acceptance check in their metadata
(``int8_accepted``, ``heldout_mask_iou``, written by :mod:`trt.quantize`); a runtime refuses
one whose check failed unless told otherwise, so a rejected model never runs by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

# mask IoU against fp32 on held-out frames that an int8 model must reach to be used
INT8_MIN_IOU = 0.98


def to_logits(output: np.ndarray, kind: str) -> np.ndarray:
    """Graph output → logits (``masks`` graphs: ``log p``, clipped away from log 0)."""
    output = output.astype(np.float32, copy=False)
    return np.log(np.maximum(output, 1e-30)) if kind == "masks" else output


def runtime_kind(kind: str, upsampled: bool, source: str | Path) -> str:
    """``kind`` when a runtime can serve it (``logits``/``masks`` at the model's scale), else an error."""
    if kind not in ("logits", "masks") or upsampled:
        raise ValueError(
            f"{source}: a runtime needs a graph with K segment outputs at the model's scale "
            f"(output 'logits' or 'masks', not upsampled), this one outputs {kind!r}"
            f"{' upsampled' if upsampled else ''}; export with ExportOptions(output='logits')"
        )
    return kind


class RejectedModel(ValueError):
    """An int8 model whose held-out agreement with fp32 is below the acceptance threshold."""


def check_acceptance(meta: Mapping[str, str], source: str | Path, allow_rejected: bool) -> None:
    """Refuse a model whose metadata records a failed int8 acceptance check.

    Models without an acceptance record (every fp32/fp16 graph) pass.
    """
    if meta.get("int8_accepted", "") != "false" or allow_rejected:
        return
    iou = meta.get("heldout_mask_iou", "?")
    raise RejectedModel(
        f"{source}: this int8 model was rejected by its acceptance check (held-out mask IoU "
        f"{iou} against fp32, needs {meta.get('min_mask_iou', INT8_MIN_IOU)}); use the fp32 "
        "model, or pass allow_rejected=True to run it anyway"
    )
