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

Small maps (the coarse pyramid levels, and every level of a 64×64 motion pathway) go another
way: one batched matrix product gives the correlation of every pixel with every pixel
(``B×HW×HW``), and a gather picks the (2r+1)² displacements of each pixel: a few large
kernels instead of (2r+1)² small ones, whose per-call overhead dominates small maps. The
all-pairs work grows as (HW)², so it is used only up to :data:`DENSE_MAX_PIXELS`. Measured on
2 CPU cores (forward+backward, B=8): 16×16×96 2.7 ms vs 7.4 ms for the loop, 20×20 5.8 vs
11.4, 24×24 10.7 vs 9.5, 32×32 69 vs 16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# largest H·W for the all-pairs path (the two paths cost the same near 24×24 on a CPU)
DENSE_MAX_PIXELS = 400


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


def displacement_index(h: int, w: int, radius: int, device: torch.device) -> torch.Tensor:
    """``HW×(2r+1)²`` flat index of pixel (y + dy, x + dx) for every pixel (y, x) and
    displacement, in the cost volume's channel order; ``HW`` where it falls outside."""
    offsets = torch.arange(-radius, radius + 1, device=device)
    ys = torch.arange(h, device=device).view(h, 1, 1, 1) + offsets.view(1, 1, -1, 1)
    xs = torch.arange(w, device=device).view(1, w, 1, 1) + offsets.view(1, 1, 1, -1)
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)  # h×w×d×d
    flat = torch.where(inside, ys * w + xs, h * w)
    return flat.reshape(h * w, -1)


def cost_volume_dense(f1: torch.Tensor, f2: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """:func:`cost_volume` through the all-pairs correlation matrix (for small maps)."""
    b, c, h, w = f1.shape
    pairs = torch.bmm(f1.flatten(2).transpose(1, 2), f2.flatten(2)) / c  # B×HW×HW
    pairs = F.pad(pairs, (0, 1))  # column HW: the zero of displacements outside f2
    index = displacement_index(h, w, radius, f1.device)
    picked = pairs.gather(2, index.unsqueeze(0).expand(b, -1, -1))  # B×HW×(2r+1)²
    return picked.transpose(1, 2).reshape(b, -1, h, w)


def cost_volume(f1: torch.Tensor, f2: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """``B×C×H×W`` × ``B×C×H×W`` → ``B×(2r+1)²×H×W`` (channel-mean correlation)."""
    if f1.shape != f2.shape:
        raise ValueError(
            f"cost_volume needs equal shapes, got {tuple(f1.shape)} and {tuple(f2.shape)}"
        )
    if f2.dtype != f1.dtype:  # autocast can hand us mixed precision
        f2 = f2.to(f1.dtype)
    if f1.shape[-2] * f1.shape[-1] <= DENSE_MAX_PIXELS:
        return cost_volume_dense(f1, f2, radius)
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
