"""The model's own config: what is needed to rebuild the network from a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Backbone = Literal["resnet50", "resnet18", "small"]
Padding = Literal["zeros", "reflect", "replicate"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs. Defaults are the paper's setting (DESIGN.md §2).

    Attributes:
        backbone: appearance encoder; ``resnet50`` as in the paper, ``resnet18`` or the
            ``small`` stride-8 conv net for CPU runs.
        num_segments: K, the number of soft masks.
        head_channels: width of the FCN head's two 3×3 convs.
        head_dilation: dilation (and padding) of those convs.
        dropout: Dropout2d rate before the 1×1 classifier (training only).
        small_width: base width of the ``small`` backbone.
        small_quarter_scale_logits: ``small`` backbone only: refine the 1/8-scale logits to
            1/4 scale with the backbone's stride-4 features
            (:class:`~amd_plugin.modeling.appearance.QuarterScaleRefinement`; not in the paper).
        small_centred_downsampling: ``small`` backbone only: 4×4 stride-2 convs whose
            grids are centred where the upsampling of the logits puts them, instead of
            3×3 ones, whose stride-8 grid sits 3.5 px early and must be learned back
            (:class:`~amd_plugin.modeling.backbone.SmallEncoder`; not in the paper).
        classifier_init_std: std of the 1×1 classifier's initial weights (bias 0). Larger
            values start from sharper, more varied masks.
        appearance_padding: padding mode of every conv in the appearance pathway.
            ``zeros`` is the paper's (and the released weights'). Zero padding tells a
            conv net where the image border is, and with dilated convs on a small feature
            map (16×16 for 128 px crops, dilation 6 in the head) nearly every position
            sees a different padding pattern: a random-init net can then output segments
            by position before it learns appearance. ``reflect`` / ``replicate`` remove
            most of that cue (not in the paper).
        motion_size: (H, W) the motion pathway runs at; multiples of 64.
        pair_masks_with_other_frame: reference behaviour: flow on frame A's grid is
            composed with frame B's masks (and vice versa).
        motion_center_input: feed the motion pathway ``(rgb - 0.45) / 0.25`` instead of
            RGB in [0, 1] (the reference, and the released weights). Not in the paper: with
            [0, 1] inputs the random-init features are mostly positive, so the correlation of
            matching and non-matching positions differs by ~1% at the start and flow is slow
            to learn; centred inputs raise that margin ~10× (measured at the 1/4 level). The
            photometric loss still sees [0, 1] frames.
        motion_normalize_features: before each correlation, centre and scale every channel
            of both feature maps by its joint mean and std over the positions of both, so
            the cost volume holds correlation coefficients rather than products dominated
            by each channel's positive offset (not in the reference, whose released
            weights expect it off). Earlier versions took one mean and std per sample
            (over channels and positions), which left those offsets in; the experiments
            in ``docs/experiments.md`` before the normalised-readout grid used that version.
        motion_soft_argmax: add to each level's segment flow the soft-argmax of the
            segment's mask-averaged cost volume (the displacement where that segment's
            pixels correlate best, with a learned temperature). A flow read directly off
            the correlation, so segment flows follow the visible motion from the first
            step instead of after the estimator has learned to read the cost volume; not
            in the reference. Needs ``motion_normalize_features``.
        motion_min_level_size: skip pyramid levels whose grid is smaller than this on a
            side (their flow stays zero). 0 processes all five levels, as the reference
            does at 384×640, where the coarsest grid is 6×10; at 128×128 the coarsest two
            are 2×2 and 4×4, mostly padding, and their residuals are scaled ×64 and ×32.
        motion_full_resolution_masks: hand the motion pathway masks at its own resolution,
            the softmax of the appearance logits upsampled bilinearly (rather than the
            softmax upsampled), and compose each scale's segment flow from them rather than
            upsampling the 1/4-scale flow ×4 (not in the reference). Upsampled
            probabilities and flows blur the change from the object's motion to the
            scene's over a cell of the 1/8 grid (8 px of the crop); a wrong flow costs
            more inside a finely textured object than on a smooth scene, so the loss then
            pays the object mask to grow until that blur lies on the scene.
        motion_align_paired_masks: with the reference pairing (frame A's flow composed
            with frame B's masks), first warp B's masks onto A's grid with the flow
            estimated so far (each level with the coarser level's flow, each output scale
            with its level's own; not in the reference, the flow is not differentiated
            through). Unaligned, a mask grown by the objects' displacement fits both
            directions best once the flow is right; aligned, measured, the late fall of
            the IoU stays (the warp reads the scene's flow at the object's leading edge).
    """

    backbone: Backbone = "resnet50"
    num_segments: int = 5
    head_channels: int = 256
    head_dilation: int = 6
    dropout: float = 0.1
    small_width: int = 32
    small_quarter_scale_logits: bool = False
    small_centred_downsampling: bool = False
    classifier_init_std: float = 0.05
    appearance_padding: Padding = "zeros"
    motion_size: tuple[int, int] = (384, 640)
    pair_masks_with_other_frame: bool = True
    motion_center_input: bool = False
    motion_normalize_features: bool = False
    motion_soft_argmax: bool = False
    motion_min_level_size: int = 0
    motion_full_resolution_masks: bool = False
    motion_align_paired_masks: bool = False

    def __post_init__(self) -> None:
        h, w = self.motion_size
        if h % 64 or w % 64 or h <= 0 or w <= 0:
            raise ValueError(
                f"model.motion_size must be positive multiples of 64, got {self.motion_size}"
            )
        if self.motion_soft_argmax and not self.motion_normalize_features:
            raise ValueError(
                "model.motion_soft_argmax needs model.motion_normalize_features=true "
                "(the soft-argmax reads correlation coefficients)"
            )
        if self.motion_min_level_size > min(h, w) // 4:
            raise ValueError(
                f"model.motion_min_level_size={self.motion_min_level_size} would skip every "
                f"level: the finest grid is {h // 4}×{w // 4} at motion_size {self.motion_size}"
            )
        if self.small_quarter_scale_logits and self.backbone != "small":
            raise ValueError(
                "model.small_quarter_scale_logits needs model.backbone=small "
                f"(got {self.backbone!r})"
            )
        if self.small_centred_downsampling and self.backbone != "small":
            raise ValueError(
                "model.small_centred_downsampling needs model.backbone=small "
                f"(got {self.backbone!r})"
            )
        if self.num_segments < 2:
            raise ValueError(f"model.num_segments must be >= 2, got {self.num_segments}")
