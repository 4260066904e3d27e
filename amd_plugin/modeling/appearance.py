"""Appearance pathway: one image → K segment logits at 1/8 scale (1/4 with the small
backbone's quarter-scale refinement)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.backbone import build_backbone


class ConvBNReLU(nn.Module):
    """3×3 conv (no bias) + BatchNorm + ReLU; attribute names match the reference's."""

    def __init__(self, cin: int, cout: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class FCNHead(nn.Module):
    """Two dilated 3×3 ConvBNReLU, Dropout2d, then a 1×1 conv to K logits."""

    def __init__(self, cin: int, channels: int, num_segments: int, dilation: int, dropout: float):
        super().__init__()
        self.convs = nn.Sequential(
            ConvBNReLU(cin, channels, dilation), ConvBNReLU(channels, channels, dilation)
        )
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_segments, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv_seg(self.dropout(self.convs(features)))


class QuarterScaleRefinement(nn.Module):
    """Coarse logits ``B×K×h×w`` + stride-4 features ``B×C×2h×2w`` → ``B×K×2h×2w`` logits.

    The coarse logits upsampled ×2 plus a residual read from them and the features (not in
    the paper). A 1/8-scale output cannot follow an object's corners at small crops (a
    cell is 8 px of a 128 px crop); the stride-4 features can. The residual's last conv
    starts at zero, so an untrained refinement returns the upsampled coarse logits.
    """

    def __init__(self, skip_channels: int, num_segments: int, channels: int = 32) -> None:
        super().__init__()
        self.fuse = ConvBNReLU(skip_channels + num_segments, channels, dilation=1)
        self.conv_residual = nn.Conv2d(channels, num_segments, 1)

    def forward(self, logits: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        # ×2 then crop both to the common size: with 3×3 stride-2 convs 2·⌈H/8⌉ can exceed
        # ⌈H/4⌉ by one, with centred 4×4 ones 2·⌊H/8⌋ can fall one short of ⌊H/4⌋ (the
        # skip's last row is dropped; every cell keeps its place). A fixed scale keeps the
        # exported graph's Resize free of computed sizes, which ONNX Runtime's symbolic
        # shape inference (int8 quantisation) cannot follow
        up = F.interpolate(logits, scale_factor=2.0, mode="bilinear", align_corners=False)
        up = up[..., : skip.shape[-2], : skip.shape[-1]]
        skip = skip[..., : up.shape[-2], : up.shape[-1]]
        return up + self.conv_residual(self.fuse(torch.cat([up, skip], dim=1)))


class AppearancePathway(nn.Module):
    """``B×3×H×W`` ImageNet-normalised images → ``B×K×⌈H/s⌉×⌈W/s⌉`` segment logits.

    ``s`` (``output_stride``) is 8, or 4 with ``model.small_quarter_scale_logits``. A
    softmax over K gives the soft segment masks.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = build_backbone(
            cfg.backbone, cfg.small_width, cfg.small_centred_downsampling
        )
        self.head = FCNHead(
            self.backbone.out_channels,
            cfg.head_channels,
            cfg.num_segments,
            cfg.head_dilation,
            cfg.dropout,
        )
        self.refinement = (
            QuarterScaleRefinement(self.backbone.skip_channels, cfg.num_segments)
            if cfg.small_quarter_scale_logits
            else None
        )
        self.output_stride = 4 if self.refinement is not None else 8
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and max(module.padding) > 0:
                # the stored padding amounts stay; only how the border is filled changes
                module.padding_mode = cfg.appearance_padding
        self.init_weights(cfg.classifier_init_std)

    def init_weights(self, classifier_std: float = 0.05) -> None:
        """Kaiming-normal (fan-out) convs and unit BatchNorm as in the reference.

        The classifier's weights get std ``classifier_std`` (``model.classifier_init_std``,
        0.05 by default). The reference defines std 0.01 for it but never calls that init,
        so its classifier starts from PyTorch's default, std ≈ 0.036 for 256 inputs. With
        near-uniform initial masks all K segments pool the same feature and get the same
        flow, so the gradient that would separate them vanishes; measured here on synthetic
        video, std 0.01 left the masks uniform (entropy ≈ log K) for 100+ steps."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.head.conv_seg.weight, std=classifier_std)
        nn.init.zeros_(self.head.conv_seg.bias)
        if self.refinement is not None:
            nn.init.zeros_(self.refinement.conv_residual.weight)
            nn.init.zeros_(self.refinement.conv_residual.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.refinement is None:
            return self.head(self.backbone(images))
        features, skip = self.backbone.forward_with_skip(images)
        return self.refinement(self.head(features), skip)
