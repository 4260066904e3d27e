"""Test-time adaptation per video, then segmentation (used by adapt_amd).

The adaptation itself lives in ``amd_train.tta.adapt(model, frames_or_video_path, cfg) ->
model`` (continue the training objective on one video's frames). It is imported lazily:
the training package is optional, and without it this module explains what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fiftyone_plugin.apply import ApplyOptions, ApplySummary, ProgressCallback, apply_to_collection

AdaptFunction = Callable[[Any, Any, Any], Any]


class AdaptationUnavailable(RuntimeError):
    """``amd_train.tta.adapt`` cannot be imported."""


def load_adapt() -> AdaptFunction:
    """``amd_train.tta.adapt``, or a clear error saying what is missing."""
    try:
        from amd_train.tta import adapt
    except ImportError as err:
        raise AdaptationUnavailable(
            "test-time adaptation needs amd_train.tta.adapt(model, frames_or_video_path, cfg) "
            "from the training part of amd-objectness (pip install 'amd-objectness[train]'), "
            f"which could not be imported here: {err}"
        ) from err
    return adapt


def override_list(overrides: Sequence[str] | str | None) -> list[str]:
    """``key.path=value`` overrides as a list; a string holds one per line (an App text box).

    Operator params arrive as whatever the caller stored: a list from Python, ``None`` when
    unset, or one string; splatting a string would pass it character by character.
    """
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [line.strip() for line in overrides.splitlines() if line.strip()]
    return [str(item) for item in overrides]


def tta_config(
    steps: int | None = None,
    lr: float | None = None,
    overrides: Sequence[str] | str | None = (),
) -> Any:
    """The packaged ``tta.yaml`` training config with optional step/lr/``key=value`` overrides.

    ``overrides`` (e.g. ``data.crop_size=[64, 64]``, ``run.max_steps=2``) are applied last,
    so they win over ``steps`` and ``lr``.
    """
    try:
        from amd_train.config import load_train_config
    except ImportError as err:
        raise AdaptationUnavailable(f"amd_train.config could not be imported: {err}") from err
    extra = []
    if steps:
        extra.append(f"run.max_steps={int(steps)}")
    if lr:
        extra.append(f"optim.lr={float(lr)}")
    return load_train_config("tta.yaml", [*extra, *override_list(overrides)])


def adapt_and_apply(
    collection: Any,
    checkpoint: str,
    options: ApplyOptions,
    cfg: Any,
    segmenter_kwargs: dict[str, Any] | None = None,
    adapt: AdaptFunction | None = None,
    progress: ProgressCallback | None = None,
    on_video: Callable[[int, int, str], Any] | None = None,
) -> list[ApplySummary]:
    """Adapt a fresh copy of the model to each video, then segment that video with it.

    Args:
        collection: a video dataset or view.
        checkpoint: path or built-in name; reloaded per video so adaptations never mix.
        options: apply options (use a distinct prefix, e.g. ``amd_tta``, to compare).
        cfg: the adaptation config handed to ``adapt`` (see :func:`tta_config`).
        segmenter_kwargs: ``device``, ``short_side``, ``batch_size`` for the torch backend.
        adapt: the adaptation function (default: :func:`load_adapt`).
        progress: per-batch progress callback, as for :func:`apply_to_collection`.
        on_video: called ``(index, total, sample_id)`` before each video is adapted.

    Returns:
        one :class:`ApplySummary` per video.
    """
    import torch

    from amd_plugin import Segmenter, load_model

    if collection.media_type != "video":
        raise ValueError("test-time adaptation needs a video collection (it learns from motion)")
    adapt = adapt or load_adapt()
    kwargs = {
        k: v
        for k, v in (segmenter_kwargs or {}).items()
        if k in ("device", "short_side", "batch_size")
    }
    ids, paths = collection.values(["id", "filepath"])
    summaries = []
    for index, (sample_id, path) in enumerate(zip(ids, paths)):
        if on_video is not None:
            on_video(index, len(ids), sample_id)
        loaded = load_model(checkpoint, device="cpu", eval_mode=False)
        threads = torch.get_num_threads()
        try:
            model = adapt(loaded.model, path, cfg)
        finally:
            # the trainer sets torch's process-wide thread count (run.threads); put it back so
            # segmentation, and later videos in this worker, run as configured
            torch.set_num_threads(threads)
        model.eval()
        # fine-tuning keeps the channel's meaning; a model without one chooses it label-free
        channel = loaded.foreground_channel if loaded.foreground_channel is not None else "auto"
        # the adapted weights exist only in memory, so only the torch backend can run them
        segmenter = Segmenter(model, backend="torch", foreground=channel, **kwargs)
        summaries.append(
            apply_to_collection(collection.select(sample_id), segmenter, options, progress)
        )
    return summaries
