"""Synchronised BatchNorm that also works on CPU (gloo).

``torch.nn.SyncBatchNorm`` only runs on CUDA; DDP on CPU would otherwise normalise each
process's half-batch separately and train a different model than one process with the whole
batch. This module all-reduces per-channel sums with the differentiable
``torch.distributed.nn.functional.all_reduce``, so gradients through the statistics are
exact too. State-dict keys are those of ``BatchNorm2d``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class DistributedBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), count])
        stats = all_reduce(stats)
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c : 2 * c] / total - mean * mean).clamp_min(0)
        with torch.no_grad():
            momentum = self.momentum if self.momentum is not None else 0.1
            self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
            unbiased = var.detach() * total / max(float(total) - 1, 1.0)
            self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
            self.num_batches_tracked.add_(1)
        y = (x - mean.view(1, c, 1, 1)) * torch.rsqrt(var.view(1, c, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` by :class:`DistributedBatchNorm2d` (weights kept)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = DistributedBatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module
