"""Appearance encoders with output stride 8.

ResNets follow the torchvision module layout (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0/1``, …) so the authors' checkpoint maps by name, but the stage
pattern is the reference's: strides (1, 2, 1, 1) and dilations (1, 1, 1, 2), with the
dilation applied to *every* block of layer4, the first included. torchvision's
``replace_stride_with_dilation`` would give dilations 2 and 4 instead, so it is not used.
"""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride, dilation) → 1×1 with a projection shortcut when shapes change."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class BasicBlock(nn.Module):
    """Two 3×3 convs (ResNet-18/34), dilation allowed (torchvision's refuses it)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class DilatedResNet(nn.Module):
    """ResNet body (no pooling/fc) with output stride 8.

    Input ``B×3×H×W`` → output ``B×C×⌈H/8⌉×⌈W/8⌉`` (C = 2048 for ResNet-50, 512 for -18).
    """

    def __init__(
        self,
        block: type[Bottleneck] | type[BasicBlock],
        depths: tuple[int, int, int, int],
        strides: tuple[int, int, int, int] = (1, 2, 1, 1),
        dilations: tuple[int, int, int, int] = (1, 1, 1, 2),
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (depth, stride, dilation) in enumerate(zip(depths, strides, dilations)):
            planes = 64 * 2**i
            blocks = []
            for j in range(depth):
                blocks.append(block(cin, planes, stride if j == 0 else 1, dilation))
                cin = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def conv_bn_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        conv3x3(cin, cout, stride, dilation), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def centred_down_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """A stride-2 4×4 conv (padding 1): output pixel ``i`` is centred on input pixels
    ``2i`` and ``2i+1``, where a bilinear ``align_corners=False`` upsample puts it. A 3×3
    stride-2 conv is centred on ``2i``, half an input pixel early."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, 2, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallEncoder(nn.Module):
    """A light stride-8 conv net for CPU training (not in the paper).

    Three stride-2 stages then two dilated 3×3 layers to widen the receptive field:
    ``B×3×H×W`` → ``B×(4·width)×⌈H/8⌉×⌈W/8⌉``.

    With 3×3 stride-2 convs each stage's grid sits half a pixel of its input early, so the
    stride-8 output is centred 3.5 px up and left of where upsampling places it (1.5 px
    for the stride-4 features) and training has to learn that shift back.
    ``centred_downsampling`` uses 4×4 stride-2 convs instead, whose grids are centred
    (output ``B×(4·width)×⌊H/8⌋×⌊W/8⌋``; not in the paper).
    """

    def __init__(self, width: int = 32, centred_downsampling: bool = False) -> None:
        super().__init__()
        w = width

        def down(cin: int, cout: int) -> nn.Sequential:
            if centred_downsampling:
                return centred_down_bn_relu(cin, cout)
            return conv_bn_relu(cin, cout, 2)

        self.stem = nn.Sequential(down(3, w), conv_bn_relu(w, w))
        self.stage2 = nn.Sequential(down(w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.stage3 = nn.Sequential(down(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.context = nn.Sequential(
            conv_bn_relu(4 * w, 4 * w, dilation=2), conv_bn_relu(4 * w, 4 * w, dilation=4)
        )
        self.out_channels = 4 * w

        self.skip_channels = 2 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_skip(x)[0]

    def forward_with_skip(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``B×3×H×W`` → (the stride-8 output, the ``B×(2·width)×⌈H/4⌉×⌈W/4⌉`` stage-2
        features it was computed from)."""
        skip = self.stage2(self.stem(x))
        return self.context(self.stage3(skip)), skip


def build_backbone(
    name: str, small_width: int = 32, small_centred_downsampling: bool = False
) -> nn.Module:
    """``resnet50`` (paper), ``resnet18`` or ``small``; all with output stride 8."""
    if name == "resnet50":
        return DilatedResNet(Bottleneck, (3, 4, 6, 3))
    if name == "resnet18":
        return DilatedResNet(BasicBlock, (2, 2, 2, 2))
    if name == "small":
        return SmallEncoder(small_width, small_centred_downsampling)
    raise ValueError(f"unknown backbone '{name}' (choose resnet50, resnet18 or small)")
