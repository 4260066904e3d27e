"""Exponential moving average of a model's weights, for evaluation and export.

On the built-in synthetic world the held-out IoU of the raw weights swings by ±0.05 from one
evaluation to the next while the learning rate is high; an average over the last few
hundred steps removes most of that swing without slowing training down
(``benchmarks/README.md``, emergence). Training itself always steps the raw weights.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """An EMA copy of ``model`` (parameters and buffers, e.g. BatchNorm statistics).

    The effective decay is ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the
    average does not drag the random initial weights along for its whole horizon.

    Args:
        model: the model being trained (not modified).
        decay: per-step decay in [0, 1); the horizon is about ``1 / (1 - decay)`` steps.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for param in self.model.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards ``model``'s current weights by one step."""
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = model.state_dict()
        for name, average in self.model.state_dict().items():
            value = current[name].detach()
            if average.is_floating_point():
                average.lerp_(value.to(average.dtype), 1.0 - decay)
            else:  # integer buffers (BatchNorm's num_batches_tracked): take the latest
                average.copy_(value)
        self.updates += 1

    def state(self) -> dict:
        """What a training checkpoint stores to resume the average exactly."""
        return {"updates": self.updates, "decay": self.decay}

    def restore(self, weights: dict[str, torch.Tensor], state: dict) -> None:
        """Load averaged ``weights`` and the :meth:`state` written with them."""
        self.model.load_state_dict(weights)
        self.updates = int(state["updates"])
