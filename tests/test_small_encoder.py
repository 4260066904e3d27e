"""Where the small encoder's output grids sit on the image (model.small_centred_downsampling)."""

import pytest
import torch
from torch import nn

from amd_plugin import AMD, ModelConfig
from amd_plugin.modeling.backbone import SmallEncoder


def receptive_field_centre(encoder: SmallEncoder, size: int, use_skip: bool) -> tuple[float, int]:
    """Centre (in pixels, pixel centres at ``i + 0.5``) of the middle output cell's
    receptive field along y, and that cell's index. All conv weights are 1 and the input
    is 1, so every path counts equally and the centre is the input gradient's centroid."""
    encoder = encoder.eval()
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 1.0)
    x = torch.ones(1, 3, size, size, requires_grad=True)
    out, skip = encoder.forward_with_skip(x)
    grid = skip if use_skip else out
    cell = grid.shape[-1] // 2
    (grad,) = torch.autograd.grad(grid[0, :, cell, cell].sum(), x)
    weight = grad[0].abs().sum(dim=(0, 2)).double()
    pixel_centres = torch.arange(size, dtype=torch.float64) + 0.5
    return float((weight * pixel_centres).sum() / weight.sum()), cell


@pytest.mark.parametrize(("use_skip", "stride", "early_by"), [(False, 8, 3.5), (True, 4, 1.5)])
def test_3x3_stride_2_grids_sit_early_and_centred_ones_do_not(use_skip, stride, early_by):
    # 512 px keeps the middle cell's receptive field clear of the image border
    centre, cell = receptive_field_centre(SmallEncoder(4), 512, use_skip)
    assert centre == pytest.approx((cell + 0.5) * stride - early_by, abs=1e-3)
    centre, cell = receptive_field_centre(SmallEncoder(4, centred_downsampling=True), 512, use_skip)
    assert centre == pytest.approx((cell + 0.5) * stride, abs=1e-3)


@pytest.mark.parametrize("quarter", [False, True])
@pytest.mark.parametrize("size", [(64, 64), (72, 104), (97, 131), (128, 228), (131, 230)])
def test_centred_downsampling_output_shapes(quarter, size):
    cfg = ModelConfig(
        backbone="small",
        small_width=8,
        num_segments=2,
        small_quarter_scale_logits=quarter,
        small_centred_downsampling=True,
    )
    model = AMD(cfg).eval()
    with torch.no_grad():
        logits = model.appearance(torch.randn(1, 3, *size))
    # ⌊H/8⌋ cells at 1/8 scale, twice that at 1/4 (⌊H/4⌋ can be one more: 228 px → 57)
    scale = 2 if quarter else 1
    assert logits.shape == (1, 2, scale * (size[0] // 8), scale * (size[1] // 8))


def test_centred_downsampling_is_off_by_default_and_needs_the_small_backbone():
    assert not ModelConfig().small_centred_downsampling
    stem_conv = AMD(ModelConfig(backbone="small")).appearance.backbone.stem[0][0]
    assert stem_conv.kernel_size == (3, 3)
    with pytest.raises(ValueError, match="small_centred_downsampling needs"):
        ModelConfig(backbone="resnet18", small_centred_downsampling=True)
