"""The AMD model: appearance pathway + motion pathway bound by segment flow."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.appearance import AppearancePathway
from amd_plugin.modeling.motion import MotionOutput, MotionPathway

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def normalize(images_uint8_scale: torch.Tensor) -> torch.Tensor:
    """``B×3×H×W`` RGB on the 0–255 scale → ImageNet-normalised."""
    mean = images_uint8_scale.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images_uint8_scale.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images_uint8_scale - mean) / std


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalised ``B×3×H×W`` → RGB in [0, 1]."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images * std + mean) / 255.0


@dataclass
class AMDOutput:
    """Everything one training step needs.

    Attributes:
        logits_a, logits_b: ``B×K×h×w`` appearance logits (1/8 of the crop, 1/4 with
            ``model.small_quarter_scale_logits``).
        masks_a, masks_b: their softmax over K.
        frame_a, frame_b: ``B×3×Hm×Wm`` RGB in [0, 1] at the motion resolution.
        motion: segment and dense flows (see :class:`MotionOutput`).
    """

    logits_a: torch.Tensor
    logits_b: torch.Tensor
    masks_a: torch.Tensor
    masks_b: torch.Tensor
    frame_a: torch.Tensor
    frame_b: torch.Tensor
    motion: MotionOutput


class AMD(nn.Module):
    """Appearance–motion decomposition (Wang et al., NeurIPS 2021).

    ``forward(frame_a, frame_b)`` takes two ImageNet-normalised frames ``B×3×H×W``, segments
    each with the appearance pathway, and explains their difference with segment flow.
    """

    def __init__(self, cfg: ModelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or ModelConfig()
        self.appearance = AppearancePathway(self.cfg)
        self.motion = MotionPathway(
            self.cfg.pair_masks_with_other_frame,
            center_input=self.cfg.motion_center_input,
            normalize_features=self.cfg.motion_normalize_features,
            soft_argmax=self.cfg.motion_soft_argmax,
            min_level_size=self.cfg.motion_min_level_size,
            full_resolution_masks=self.cfg.motion_full_resolution_masks,
            align_paired_masks=self.cfg.motion_align_paired_masks,
        )

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> AMD:
        return cls(cfg)

    @property
    def num_segments(self) -> int:
        return self.cfg.num_segments

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Soft masks ``B×K×h×w`` (softmax of the appearance logits)."""
        return self.appearance(images).softmax(dim=1)

    def motion_masks(self, logits: torch.Tensor) -> torch.Tensor:
        """The masks the motion pathway is handed for ``B×K×h×w`` appearance logits: their
        softmax, or with ``motion_full_resolution_masks`` the softmax of the logits
        upsampled to ``B×K×Hm×Wm`` (a boundary as sharp as the logits' slope allows)."""
        if self.cfg.motion_full_resolution_masks:
            logits = F.interpolate(
                logits, size=self.cfg.motion_size, mode="bilinear", align_corners=True
            )
        return logits.softmax(dim=1)

    def forward(
        self,
        frame_a: torch.Tensor,
        frame_b: torch.Tensor,
        pair_masks_with_other_frame: bool | None = None,
    ) -> AMDOutput:
        """``pair_masks_with_other_frame``: None = ``cfg.pair_masks_with_other_frame``."""
        b = frame_a.shape[0]
        # both frames through the appearance network in one batch: BatchNorm sees 2B images
        logits = self.appearance(torch.cat([frame_a, frame_b]))
        logits_a, logits_b = logits[:b], logits[b:]
        masks = logits.softmax(dim=1)
        masks_a, masks_b = masks[:b], masks[b:]
        size = self.cfg.motion_size
        rgb = F.interpolate(
            denormalize(torch.cat([frame_a, frame_b])),
            size=size,
            mode="bilinear",
            align_corners=True,
        )
        rgb_a, rgb_b = rgb[:b], rgb[b:]
        # the 1/8-scale softmax is already at hand unless the motion pathway takes full size
        motion_masks = self.motion_masks(logits) if self.cfg.motion_full_resolution_masks else masks
        motion = self.motion(
            rgb_a, rgb_b, motion_masks[:b], motion_masks[b:], pair_masks_with_other_frame
        )
        return AMDOutput(logits_a, logits_b, masks_a, masks_b, rgb_a, rgb_b, motion)
