"""Conversion of the authors' released checkpoint (``amd_pretrained.pth``, mmcv format).

The reference names its modules ``backbone2`` (ResNet-50), ``decode_head2`` (FCN head) and
``decode_head.flownet`` (PWC-Lite). Every key is mapped by name through the prefix table
below; the submodule structure under each prefix matches ours one to one.

This module only knows names and shapes: it turns the release's state dict into our names
and a :class:`ModelConfig`. Building and loading the model is the loader's job
(:func:`amd_plugin.checkpoint.load_model`), which imports this module, not the reverse.
"""

from __future__ import annotations

from typing import Any

import torch

from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.amd import AMD

# (reference prefix, our prefix); the first match wins, so longer prefixes come first.
PREFIX_MAP = (
    ("decode_head.flownet.feature_pyramid_extractor.", "motion.pyramid."),
    ("decode_head.flownet.flow_estimators.", "motion.estimator."),
    ("decode_head.flownet.conv_1x1.", "motion.reduce."),
    ("decode_head2.", "appearance.head."),
    ("backbone2.", "appearance.backbone."),
)
OFFICIAL_FOREGROUND_CHANNEL = 1


class OfficialCheckpointError(ValueError):
    """An official-looking checkpoint that cannot be converted (the loader adds the path)."""


def strip_module_prefix(state: dict[str, Any]) -> dict[str, Any]:
    """Remove a DataParallel/DDP ``module.`` prefix wherever it appears first."""
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state.items()}


def is_official_checkpoint(ckpt: dict[str, Any]) -> bool:
    state = ckpt.get("state_dict", ckpt)
    if not isinstance(state, dict):
        return False
    keys = strip_module_prefix(state)
    return any(k.startswith(("backbone2.", "decode_head2.")) for k in keys)


def official_to_ours(name: str) -> str | None:
    for ref, ours in PREFIX_MAP:
        if name.startswith(ref):
            return ours + name[len(ref) :]
    return None


def ours_to_official(name: str) -> str | None:
    for ref, ours in PREFIX_MAP:
        if name.startswith(ours):
            return ref + name[len(ours) :]
    return None


def to_official_state_dict(model: AMD) -> dict[str, torch.Tensor]:
    """Our weights under the reference's names (for round-trip tests and interop)."""
    out = {}
    for name, tensor in model.state_dict().items():
        ref = ours_to_official(name)
        if ref is None:
            raise KeyError(f"no reference name for parameter '{name}'")
        out[ref] = tensor.detach().clone()
    return out


def official_weights(
    ckpt: dict[str, Any],
) -> tuple[ModelConfig, dict[str, torch.Tensor], list[str]]:
    """The release's weights under our names: (model config, mapped state, unmapped keys).

    K comes from the classifier's output channels; the backbone is always ResNet-50.

    Raises:
        OfficialCheckpointError: the classifier weight is missing, so K is unknown.
    """
    state = strip_module_prefix(ckpt.get("state_dict", ckpt))
    mapped: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    for name, tensor in state.items():
        ours = official_to_ours(name)
        if ours is None:
            unmapped.append(name)
        else:
            mapped[ours] = tensor
    seg = mapped.get("appearance.head.conv_seg.weight")
    if seg is None:
        raise OfficialCheckpointError("official checkpoint lacks decode_head2.conv_seg.weight")
    return ModelConfig(backbone="resnet50", num_segments=int(seg.shape[0])), mapped, unmapped
