"""Cost volume of the motion pathway.

For every displacement (dy, dx) in [-r, r]² the value is the channel mean of
``f1[:, :, y, x] · f2[:, :, y + dy, x + dx]`` (zero outside ``f2``). Channels are ordered
with dy as the outer and dx as the inner index: channel ``(dy + r)·(2r + 1) + (dx + r)``.

Why a custom autograd function: with plain autograd every shifted slice of the padded ``f2``
gets its own zero-filled gradient buffer in the backward pass, (2r+1)² full-size
allocations per call. Here the forward writes each displacement straight into a
preallocated output and the backward accumulates both gradients in place. Measured on 2 CPU
cores (B=2, C=32, 96×160, forward+backward): 0.07 s vs 0.26 s for the plain loop. A
"vectorised" variant (one strided ``unfold`` view per row of offsets, reduced with einsum or
a broadcast multiply) was exact but 3–10× slower than the plain loop on CPU because it
materialises (2r+1)× the feature map, so it is not used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _CostVolume(torch.autograd.Function):
    @staticmethod
    def forward(ctx, f1: torch.Tensor, f2: torch.Tensor, radius: int) -> torch.Tensor:
        b, c, h, w = f1.shape
        d = 2 * radius + 1
        f2p = F.pad(f2, (radius, radius, radius, radius))
        out = f1.new_empty(b, d * d, h, w)
        for dy in range(d):
            for dx in range(d):
                torch.sum(f1 * f2p[:, :, dy : dy + h, dx : dx + w], 1, out=out[:, dy * d + dx])
        ctx.save_for_backward(f1, f2p)
        ctx.radius = radius
        return out.div_(c)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        f1, f2p = ctx.saved_tensors
        r = ctx.radius
        _, c, h, w = f1.shape
        d = 2 * r + 1
        grad = grad / c
        grad_f1 = torch.zeros_like(f1)
        grad_f2p = torch.zeros_like(f2p)
        for dy in range(d):
            for dx in range(d):
                g = grad[:, dy * d + dx : dy * d + dx + 1]
                grad_f1.addcmul_(g, f2p[:, :, dy : dy + h, dx : dx + w])
                grad_f2p[:, :, dy : dy + h, dx : dx + w].addcmul_(g, f1)
        return grad_f1, grad_f2p[:, :, r : r + h, r : r + w], None


def cost_volume(f1: torch.Tensor, f2: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """``B×C×H×W`` × ``B×C×H×W`` → ``B×(2r+1)²×H×W`` (channel-mean correlation)."""
    if f1.shape != f2.shape:
        raise ValueError(
            f"cost_volume needs equal shapes, got {tuple(f1.shape)} and {tuple(f2.shape)}"
        )
    if f2.dtype != f1.dtype:  # autocast can hand us mixed precision
        f2 = f2.to(f1.dtype)
    return _CostVolume.apply(f1.contiguous(), f2.contiguous(), radius)


def cost_volume_reference(f1: torch.Tensor, f2: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """The plain (2r+1)² loop under autograd; the definition the fast version is tested against."""
    _, _, h, w = f1.shape
    f2 = F.pad(f2, (radius, radius, radius, radius))
    out = []
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out.append((f1 * f2[:, :, dy : dy + h, dx : dx + w]).mean(1, keepdim=True))
    return torch.cat(out, dim=1)
