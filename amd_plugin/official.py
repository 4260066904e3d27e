"""Import of the authors' released checkpoint (``amd_pretrained.pth``, mmcv format).

The reference names its modules ``backbone2`` (ResNet-50), ``decode_head2`` (FCN head) and
``decode_head.flownet`` (PWC-Lite). Every key is mapped by name through the prefix table
below; the submodule structure under each prefix matches ours one to one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.amd import AMD

log = logging.getLogger(__name__)

# (reference prefix, our prefix); the first match wins, so longer prefixes come first.
PREFIX_MAP = (
    ("decode_head.flownet.feature_pyramid_extractor.", "motion.pyramid."),
    ("decode_head.flownet.flow_estimators.", "motion.estimator."),
    ("decode_head.flownet.conv_1x1.", "motion.reduce."),
    ("decode_head2.", "appearance.head."),
    ("backbone2.", "appearance.backbone."),
)
OFFICIAL_FOREGROUND_CHANNEL = 1


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


def build_from_official(ckpt: dict[str, Any], path: Path | str, strict: bool = False):
    """Rebuild :class:`AMD` (ResNet-50, K from the classifier) from the reference's weights."""
    from amd_plugin.checkpoint import CheckpointError, LoadedModel, load_state_strict

    raw = ckpt.get("state_dict", ckpt)
    state = strip_module_prefix(raw)
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
        raise CheckpointError(f"{path}: official checkpoint lacks decode_head2.conv_seg.weight")
    cfg = ModelConfig(backbone="resnet50", num_segments=int(seg.shape[0]))
    model = AMD(cfg)
    missing, unexpected = load_state_strict(model, mapped, path)
    unexpected = unexpected + unmapped
    if missing:
        log.warning(
            "%s: %d weight(s) missing from the official checkpoint: %s",
            path,
            len(missing),
            missing[:5],
        )
    if unexpected:
        log.warning("%s: %d unexpected key(s) ignored: %s", path, len(unexpected), unexpected[:5])
    if strict and (missing or unexpected):
        raise CheckpointError(f"{path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return LoadedModel(
        model, OFFICIAL_FOREGROUND_CHANNEL, "official", Path(path), missing, unexpected, ckpt
    )
