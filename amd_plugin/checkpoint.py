"""Checkpoints: our own format (atomic writes) and loading of the authors' release.

Our format is a dict with ``format == "amd-objectness"``: weights, the model config (enough
to rebuild the network), the resolved run config, the foreground channel, the package
version, and for training runs optimizer/scheduler/step/RNG state.

The official release is read here too: :mod:`amd_plugin.official` only knows the
reference's parameter names and how they map onto ours; this module turns the mapped weights
into a model. The dependency goes one way (this module imports that one, never back).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from amd_plugin import __version__
from amd_plugin.config import ConfigError, from_dict, to_dict
from amd_plugin.io.atomic import atomic_write_bytes
from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.amd import AMD
from amd_plugin.official import (
    OFFICIAL_FOREGROUND_CHANNEL,
    OfficialCheckpointError,
    is_official_checkpoint,
    official_weights,
)

log = logging.getLogger(__name__)

FORMAT = "amd-objectness"
ASSETS = Path(__file__).resolve().parent / "assets"
# Checkpoints that ship with the package, loadable by name: one trained on real footage (the
# default for user media) and one on the synthetic noise world (the demo's held-out videos).
BUILTIN_CHECKPOINTS = {
    "real-small": ASSETS / "amd_real_small.pt",
    "synthetic-small": ASSETS / "amd_synthetic_small.pt",
}
DEFAULT_CHECKPOINT = "real-small"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`atomic_write_bytes` (serialised in memory first)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(buffer.getvalue(), path)


def checkpoint_payload(
    model: AMD,
    foreground_channel: int | None = None,
    run_config: Any = None,
    half: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The dict our checkpoints hold (``extra``: optimizer, scheduler, step, rng, …).

    ``half`` stores floating-point weights as fp16 (half the size, for shipping); loading
    casts them back to the model's fp32.
    """

    def store(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().cpu()
        return t.half() if half and t.is_floating_point() else t

    return {
        "format": FORMAT,
        "version": __version__,
        "model_config": to_dict(model.cfg),
        "state_dict": {k: store(v) for k, v in model.state_dict().items()},
        "foreground_channel": foreground_channel,
        "config": to_dict(run_config) if run_config is not None else None,
        **extra,
    }


def save_checkpoint(
    model: AMD,
    path: str | Path,
    foreground_channel: int | None = None,
    run_config: Any = None,
    half: bool = False,
    **extra: Any,
) -> Path:
    """Atomically write a checkpoint that :func:`load_model` can rebuild the model from."""
    atomic_torch_save(
        checkpoint_payload(model, foreground_channel, run_config, half, **extra), path
    )
    return Path(path)


def resolve_checkpoint_path(path_or_name: str | Path) -> Path:
    if str(path_or_name) in BUILTIN_CHECKPOINTS:
        path = BUILTIN_CHECKPOINTS[str(path_or_name)]
        if not path.exists():
            raise CheckpointError(
                f"built-in checkpoint '{path_or_name}' is missing from the package ({path})"
            )
        return path
    path = Path(path_or_name).expanduser()
    if not path.exists():
        names = ", ".join(BUILTIN_CHECKPOINTS)
        raise CheckpointError(f"{path}: checkpoint not found (built-in names: {names})")
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` on CPU with a clear error naming the file."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except (
        OSError,
        RuntimeError,
        EOFError,
        ValueError,
        KeyError,
        AttributeError,
        ImportError,  # pickled classes from a package that is not installed here
        pickle.UnpicklingError,
    ) as err:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    return obj


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass
class LoadedModel:
    """A model plus what its checkpoint said about it."""

    model: AMD
    foreground_channel: int | None
    source: str  # "ours" or "official"
    path: Path | None
    missing_keys: list[str]
    unexpected_keys: list[str]
    checkpoint: dict[str, Any]

    @property
    def inference_short_side(self) -> int | None:
        """The short side (px) the checkpoint was measured at, when its export recorded one."""
        value = self.checkpoint.get("inference_short_side")
        return int(value) if value else None


def load_state_strict(
    model: AMD, state: dict[str, torch.Tensor], source: Path | str
) -> tuple[list[str], list[str]]:
    """Load by name; refuse shape mismatches with a message naming the keys and shapes."""
    own = model.state_dict()
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if mismatched:
        listing = "\n  ".join(mismatched[:10])
        more = f"\n  … and {len(mismatched) - 10} more" if len(mismatched) > 10 else ""
        raise CheckpointError(
            f"{source}: {len(mismatched)} weight(s) have the wrong shape for this model "
            f"(another architecture?):\n  {listing}{more}"
        )
    result = model.load_state_dict(state, strict=False)
    return list(result.missing_keys), list(result.unexpected_keys)


def build_from_ours(ckpt: dict[str, Any], path: Path | str) -> LoadedModel:
    try:
        cfg = from_dict(ModelConfig, ckpt.get("model_config") or {})
    except (ConfigError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: invalid model config in checkpoint ({err})") from err
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint has no state_dict")
    model = AMD(cfg)
    missing, unexpected = load_state_strict(model, state, path)
    if missing:
        raise CheckpointError(
            f"{path}: checkpoint lacks {len(missing)} weight(s), e.g. {missing[:3]}"
        )
    return LoadedModel(
        model, ckpt.get("foreground_channel"), "ours", Path(path), missing, unexpected, ckpt
    )


def build_from_official(
    ckpt: dict[str, Any], path: Path | str, strict: bool = False
) -> LoadedModel:
    """Rebuild :class:`AMD` (ResNet-50, K from the classifier) from the reference's weights.

    Missing or unexpected keys are logged (and refused when ``strict``); a shape mismatch
    is always refused.
    """
    try:
        cfg, mapped, unmapped = official_weights(ckpt)
    except OfficialCheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from err
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


def load_model(
    path_or_name: str | Path,
    device: str | torch.device = "cpu",
    strict_official: bool = False,
    eval_mode: bool = True,
) -> LoadedModel:
    """Load our checkpoint, a built-in one by name, or the authors' ``amd_pretrained.pth``.

    The format is detected from the keys. Returns the model (on ``device``, eval mode by
    default) with its foreground channel (1 for the official release; ``None`` when a
    checkpoint did not store one — then choose it with ``amd_plugin.objectness``).
    """
    path = resolve_checkpoint_path(path_or_name)
    ckpt = read_checkpoint(path)
    if ckpt.get("format") == FORMAT:
        loaded = build_from_ours(ckpt, path)
    elif is_official_checkpoint(ckpt):
        loaded = build_from_official(ckpt, path, strict=strict_official)
    else:
        keys = list(ckpt)[:5]
        raise CheckpointError(
            f"{path}: neither an amd-objectness nor an official AMD checkpoint (top keys {keys})"
        )
    loaded.model.to(device)
    loaded.model.train(not eval_mode)
    return loaded


def export_inference_checkpoint(
    src: str | Path, dst: str | Path, half: bool = True, short_side: int | None = None
) -> Path:
    """Copy a training checkpoint without optimizer/RNG state (fp16 weights by default):
    what ships in ``amd_plugin/assets`` and what people pass around for inference.

    ``short_side`` records the inference size the model was measured at; a
    :class:`~amd_plugin.predictor.Segmenter` built with ``short_side="auto"`` uses it.
    """
    loaded = load_model(src)
    ckpt = loaded.checkpoint
    extra = {k: ckpt[k] for k in ("step", "history", "minutes") if k in ckpt}
    if short_side:
        extra["inference_short_side"] = int(short_side)
    return save_checkpoint(
        loaded.model,
        dst,
        loaded.foreground_channel,
        ckpt.get("config"),
        half,
        source=str(src),
        **extra,
    )
