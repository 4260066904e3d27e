"""The loss the trainer minimises: the paper's view-synthesis loss plus optional terms.

The optional terms (each off at weight 0, the paper's setting) are experiments recorded in
``docs/experiments.md``: the same loss on the dense flow, and the segment terms of
:mod:`amd_train.segment_terms`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from amd_train.losses import LossConfig, view_synthesis_loss
from amd_train.segment_terms import (
    mask_entropy,
    rotation_consistency,
    segment_flow_fit,
    segment_usage_penalty,
)


def training_objective(
    motion,
    frame_a: Tensor,
    frame_b: Tensor,
    cfg: LossConfig | None = None,
    masks: Tensor | None = None,
    rotated_logits: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss the trainer minimises for one :class:`~amd_plugin.modeling.motion.MotionOutput`.

    The view-synthesis loss of the segment flow (the paper's objective), plus
    ``cfg.dense_flow_weight`` × the same loss of the dense flow when that weight is
    positive (its terms are reported with a ``dense_`` prefix), plus ``cfg.usage_weight`` ×
    :func:`segment_usage_penalty` of ``masks``, plus ``cfg.flow_fit_weight`` ×
    :func:`segment_flow_fit` of ``masks`` against the motion pathway's mask-free pixel flow
    (or its finest dense flow, ``cfg.flow_fit_target``), plus ``cfg.mask_entropy_weight`` ×
    :func:`mask_entropy` of ``masks``, plus ``cfg.rotation_consistency_weight`` ×
    :func:`rotation_consistency` of ``rotated_logits``.

    Args:
        masks: ``N×K×h×w`` soft masks, frame A's stacked on frame B's (so they lie on the
            grids of the forward and backward flows); needed when a mask term's weight is
            positive.
        rotated_logits: (appearance logits of some images, logits of the same images
            turned by 180°); needed when ``cfg.rotation_consistency_weight`` is positive.
    """
    cfg = cfg or LossConfig()
    if cfg.needs_masks and masks is None:
        raise ValueError("a segment-mask term (usage, flow_fit, mask_entropy) needs the masks")
    if cfg.rotation_consistency_weight > 0 and rotated_logits is None:
        raise ValueError("loss.rotation_consistency_weight needs the logits of turned images")
    total, terms = view_synthesis_loss(motion.forward, motion.backward, frame_a, frame_b, cfg)
    if cfg.dense_flow_weight > 0:
        dense, dense_terms = view_synthesis_loss(
            motion.forward_dense, motion.backward_dense, frame_a, frame_b, cfg
        )
        total = total + cfg.dense_flow_weight * dense
        terms["dense_photometric"] = dense_terms["photometric"]
        terms["dense_flow_mag"] = dense_terms["flow_mag"]
    if cfg.usage_weight > 0:
        usage = segment_usage_penalty(masks, cfg.usage_floor)
        total = total + cfg.usage_weight * usage
        terms["usage_penalty"] = usage.detach()
    if cfg.flow_fit_weight > 0:
        if cfg.flow_fit_target == "dense":
            target = torch.cat([motion.forward_dense[0], motion.backward_dense[0]])
        elif motion.forward_pixel is None:
            raise ValueError("loss.flow_fit_target=pixel needs model.motion_soft_argmax=true")
        else:
            target = torch.cat([motion.forward_pixel, motion.backward_pixel])
        fit = segment_flow_fit(masks, target, cfg.flow_fit_noise)
        total = total + cfg.flow_fit_weight * fit
        terms["flow_fit"] = fit.detach()
    if cfg.mask_entropy_weight > 0:
        entropy = mask_entropy(masks)
        total = total + cfg.mask_entropy_weight * entropy
        terms["entropy_penalty"] = entropy.detach()
    if cfg.rotation_consistency_weight > 0:
        turn = rotation_consistency(*rotated_logits, form=cfg.rotation_consistency_form)
        total = total + cfg.rotation_consistency_weight * turn
        terms["rotation_consistency"] = turn.detach()
    return total, terms
