"""Zero-shot segmentation: ``Segmenter.predict(images) -> list[Prediction]``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from amd_plugin.backends import InferenceBackend, create_backend
from amd_plugin.camera_motion import independent_motion
from amd_plugin.checkpoint import load_model
from amd_plugin.modeling.amd import AMD, IMAGENET_MEAN, IMAGENET_STD
from amd_plugin.objectness import choose_foreground_channel, objectness_score

DEFAULT_SHORT_SIDE = 392  # 400 × 0.98, the reference's test scale


@dataclass
class Prediction:
    """One image's result.

    Attributes:
        foreground: ``H×W`` float32 foreground probability at the input size.
        segments: ``K×h×w`` float32 soft masks at the model's output resolution (1/8 of the
            resized input, 1/4 with ``model.small_quarter_scale_logits``), kept small on purpose; upsample if you need them full size.
        objectness: float in [0, 1] (see :mod:`amd_plugin.objectness`).
        foreground_channel: which of the K segments is the foreground.
    """

    foreground: np.ndarray
    segments: np.ndarray
    objectness: float
    foreground_channel: int

    def mask(self, threshold: float = 0.5) -> np.ndarray:
        """``H×W`` bool foreground mask."""
        return self.foreground > threshold


def resized_shape(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """Size with the short side scaled to ``short_side`` (``None`` keeps it), at least 8 px."""
    if not short_side:
        return height, width
    scale = short_side / min(height, width)
    return max(8, round(height * scale)), max(8, round(width * scale))


def prepare_image(image: np.ndarray, short_side: int | None) -> np.ndarray:
    """``H×W×3`` uint8 RGB → ``3×h×w`` float32 ImageNet-normalised at the inference size."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an H×W×3 uint8 RGB array, got shape {image.shape} dtype {image.dtype}"
        )
    h, w = resized_shape(image.shape[0], image.shape[1], short_side)
    if (h, w) != image.shape[:2]:
        image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
    x = (image.astype(np.float32) - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(
        IMAGENET_STD, np.float32
    )
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def upsample_probability(prob: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of an ``h×w`` map to ``H×W`` (torch, CPU)."""
    t = torch.from_numpy(np.ascontiguousarray(prob, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()


class Segmenter:
    """Foreground segmentation of arbitrary RGB images with any backend.

    Args:
        model: a loaded :class:`AMD`, a checkpoint path, or a built-in checkpoint name.
        backend: a ready :class:`~amd_plugin.backends.InferenceBackend` object, or a name
            resolved by :func:`~amd_plugin.backends.create_backend`: ``torch`` (default),
            and with the ``trt`` package installed ``onnxruntime``, ``openvino``,
            ``tensorrt``, ``torch-compiled`` or ``auto`` (the fastest runtime here that
            agrees with eager PyTorch). ``self.backend.name`` says which one runs.
        device: ``auto``/``cpu``/``cuda[:N]``.
        short_side: inference resolution (short side, px); ``None`` keeps the input size;
            ``"auto"`` takes the size the checkpoint records (``real-small``: 256), else
            ``DEFAULT_SHORT_SIDE``.
        foreground: channel index, or ``"auto"`` to use the checkpoint's stored channel and,
            when it has none, choose one without labels from the first batch (then keep it,
            so a video is segmented consistently). Call :meth:`calibrate` to choose it from a
            larger set of frames.
        batch_size: images per backend call.
        backend_options: passed to the backend, e.g. ``threads``, ``onnx``/``ir`` (a graph
            or OpenVINO IR, such as an accepted int8 model from ``amd-trt quantize``),
            ``engine`` (TensorRT).
    """

    def __init__(
        self,
        model: AMD | str | Path,
        backend: str | InferenceBackend = "torch",
        device: str = "auto",
        short_side: int | str | None = "auto",
        foreground: int | str = "auto",
        batch_size: int = 4,
        **backend_options,
    ) -> None:
        stored_channel = stored_size = None
        self.checkpoint_path: Path | None = None
        if isinstance(model, (str, Path)):
            loaded = load_model(model, device="cpu")
            model, stored_channel = loaded.model, loaded.foreground_channel
            stored_size = loaded.inference_short_side
            self.checkpoint_path = loaded.path
        self.model = model
        if isinstance(backend, str):
            backend = create_backend(
                backend,
                model=model,
                device=device,
                checkpoint=self.checkpoint_path,
                **backend_options,
            )
        self.backend = backend
        if short_side == "auto":
            short_side = stored_size or DEFAULT_SHORT_SIDE
        elif isinstance(short_side, str):
            raise ValueError(
                f"short_side must be a number of pixels, None or 'auto', not {short_side!r}"
            )
        self.short_side = short_side
        self.batch_size = max(1, int(batch_size))
        if foreground == "auto":
            self.foreground_channel = stored_channel
        else:
            self.foreground_channel = int(foreground)
        k = backend.num_segments
        if self.foreground_channel is not None and not 0 <= self.foreground_channel < k:
            raise ValueError(f"foreground channel {self.foreground_channel} out of range for K={k}")

    @property
    def num_segments(self) -> int:
        return self.backend.num_segments

    def segment_masks(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Soft masks ``K×h×w`` for each image (same-size images are batched together)."""
        prepared = [prepare_image(np.asarray(img), self.short_side) for img in images]
        out: list[np.ndarray | None] = [None] * len(prepared)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, x in enumerate(prepared):
            by_shape.setdefault(x.shape, []).append(i)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                logits = self.backend.logits(np.stack([prepared[i] for i in chunk]))
                for i, lg in zip(chunk, logits):
                    out[i] = softmax(lg.astype(np.float32), axis=0)
        return out  # type: ignore[return-value]

    def calibrate(
        self, frames: Iterable[np.ndarray], max_frames: int = 32, consecutive: bool = False
    ) -> int:
        """Choose (and keep) the foreground channel from frames, without labels.

        Args:
            frames: ``H×W×3`` uint8 RGB images.
            max_frames: only the first this many are used.
            consecutive: the frames follow each other in one video (any fixed stride): then
                what moves apart from the camera also counts
                (:func:`amd_plugin.camera_motion.independent_motion`), which any backend
                can use since it needs no motion pathway.
        """
        frames = list(frames)[:max_frames]
        if not frames:
            raise ValueError("calibrate needs at least one frame")
        masks = self.segment_masks(frames)
        shape = masks[0].shape
        same = [m for m in masks if m.shape == shape]
        residual = None
        if consecutive and len(same) == len(frames) > 1:  # motion needs frames of one size
            residual = independent_motion(frames)
        self.foreground_channel = choose_foreground_channel(
            np.stack(same), residual_motion=residual
        )
        return self.foreground_channel

    def predict(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Segment a batch of ``H×W×3`` uint8 RGB arrays of any sizes."""
        images = [np.asarray(img) for img in images]
        if not images:
            return []
        masks = self.segment_masks(images)
        if self.foreground_channel is None:
            shape = masks[0].shape
            self.foreground_channel = choose_foreground_channel(
                np.stack([m for m in masks if m.shape == shape])
            )
        c = self.foreground_channel
        results = []
        for image, m in zip(images, masks):
            fg = upsample_probability(m[c], image.shape[0], image.shape[1])
            results.append(Prediction(fg, m, objectness_score(fg), c))
        return results

    def __call__(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        return self.predict(images)
