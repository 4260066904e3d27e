"""Form pieces and execution helpers shared by the AMD operators."""

from __future__ import annotations

from typing import Any

import fiftyone.operators.types as types

from fiftyone_plugin.apply import ApplyProgress
from fiftyone_plugin.params import BACKENDS, DEFAULTS

# Above these sizes, running in the App's request would block it for minutes: delegate by
# default (a user or caller can still choose otherwise with the ``delegate`` param).
LARGE_IMAGE_VIEW = 200
LARGE_VIDEO_VIEW = 10


def is_large(ctx: Any) -> bool:
    """Whether the target view is big enough that delegation should be the default."""
    target = ctx.target_view()
    limit = LARGE_VIDEO_VIEW if target.media_type == "video" else LARGE_IMAGE_VIEW
    return len(target) > limit


def delegation_choice(ctx: Any) -> bool:
    """The ``delegate`` param when given, else delegate large views."""
    explicit = ctx.params.get("delegate", None)
    if explicit is not None:
        return bool(explicit)
    return is_large(ctx)


def execution_mode(ctx: Any, inputs: Any) -> None:
    """A 'delegate?' checkbox, ticked by default for large views."""
    inputs.bool(
        "delegate",
        default=is_large(ctx),
        label="Delegate execution?",
        description="Queue the run for `fiftyone delegated launch` workers (see the Runs page)",
        view=types.CheckboxView(),
    )


def model_inputs(inputs: Any, checkpoint: str = DEFAULTS["checkpoint"]) -> None:
    """Checkpoint (default ``checkpoint``), backend, device, batch size and resolution."""
    inputs.str(
        "checkpoint",
        default=checkpoint,
        label="Checkpoint",
        description="A checkpoint path, or a built-in name: 'real-small' (trained on real "
        "footage) or 'synthetic-small' (the synthetic noise world)",
    )
    backends = types.Dropdown()
    for name in BACKENDS:
        backends.add_choice(name, label=name)
    inputs.enum(
        "backend", backends.values(), default=DEFAULTS["backend"], label="Backend", view=backends
    )
    inputs.str(
        "device", default=DEFAULTS["device"], label="Device", description="auto, cpu or cuda:N"
    )
    inputs.int("batch_size", default=DEFAULTS["batch_size"], label="Batch size")
    inputs.int(
        "short_side",
        default=DEFAULTS["short_side"],
        label="Inference short side (px)",
        description="Images are resized so their short side has this length; 0 keeps the "
        "size; empty takes the size the checkpoint was measured at (real-small: 256)",
    )


def output_inputs(ctx: Any, inputs: Any, default_prefix: str) -> None:
    """Label prefix, output folder, existing-results policy and video options."""
    inputs.str(
        "label_prefix",
        default=default_prefix,
        label="Label prefix",
        description="Fields are named <prefix>_mask, <prefix>_heatmap, <prefix>_objectness",
    )
    inputs.str(
        "output_dir",
        label="Output folder",
        description="Where mask PNGs go (default: <default_dataset_dir>/amd_masks/<dataset>)",
    )
    existing = types.RadioGroup()
    existing.add_choice("skip", label="Skip", description="Complete only what is missing")
    existing.add_choice("overwrite", label="Overwrite", description="Recompute everything")
    inputs.enum(
        "existing", existing.values(), default="skip", label="Existing results", view=existing
    )
    inputs.bool(
        "detections",
        default=DEFAULTS["detections"],
        label="Detections",
        description="Also store one box per connected foreground region",
    )
    if ctx.dataset is not None and ctx.dataset.media_type == "video":
        inputs.int(
            "frame_stride",
            default=DEFAULTS["frame_stride"],
            label="Frame stride",
            description="Segment every n-th frame",
        )


def existing_policy(params: dict[str, Any]) -> dict[str, bool]:
    """The form's ``existing`` choice mapped onto ``skip_existing`` / ``overwrite``."""
    choice = params.get("existing")
    if choice == "overwrite":
        return {"skip_existing": False, "overwrite": True}
    if choice == "skip":
        return {"skip_existing": True, "overwrite": False}
    return {}


def report_progress(ctx: Any, event: ApplyProgress) -> Any:
    """Delegated: record progress on the run; immediate: return an App message to yield."""
    if ctx.delegated:
        ctx.set_progress(progress=event.fraction, label=event.label)
        return None
    return ctx.ops.set_progress(label=event.label, progress=event.fraction)
