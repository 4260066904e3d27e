"""``evaluate_amd``: score AMD masks against ground-truth Segmentation masks."""

from __future__ import annotations

from typing import Any

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_plugin.evaluation import evaluate_masks
from fiftyone_plugin.operators.forms import delegation_choice

DEFAULTS: dict[str, Any] = {
    "gt_field": None,
    "label_prefix": "amd",
    "pred_field": None,
    "eval_key": "amd_eval",
    "overwrite": True,
}


def _param(ctx: Any, name: str) -> Any:
    return ctx.params.get(name, DEFAULTS[name])


def segmentation_fields(dataset: Any) -> list[str]:
    """Segmentation fields of a dataset (frame fields for videos, without ``frames.``)."""
    if dataset is None:
        return []
    if dataset.media_type == "video":
        schema = dataset.get_frame_field_schema(embedded_doc_type=fo.Segmentation)
    else:
        schema = dataset.get_field_schema(embedded_doc_type=fo.Segmentation)
    return sorted(schema or {})


class EvaluateAMD(foo.Operator):
    """Run ``evaluate_segmentations`` + binary IoU; results under an evaluation key."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(
            name="evaluate_amd",
            label="AMD: evaluate against ground truth",
            description="Per-sample IoU / accuracy / precision / recall of AMD masks",
            dynamic=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
        )

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.view_target(ctx)
        prefix = _param(ctx, "label_prefix")
        fields = [f for f in segmentation_fields(ctx.dataset) if f != f"{prefix}_mask"]
        if not fields:
            inputs.view(
                "no_gt",
                types.Warning(
                    label="No ground truth",
                    description="This dataset has no Segmentation field to compare with",
                ),
            )
            return types.Property(inputs)
        # a free string with suggestions, so programmatic callers may write "frames.gt" too
        choices = types.AutocompleteView()
        for name in fields:
            choices.add_choice(name, label=name)
        inputs.str("gt_field", required=True, label="Ground truth field", view=choices)
        inputs.str("label_prefix", default=DEFAULTS["label_prefix"], label="AMD label prefix")
        inputs.str("eval_key", default=DEFAULTS["eval_key"], label="Evaluation key")
        inputs.bool("overwrite", default=True, label="Replace an evaluation with this key")
        return types.Property(inputs, view=types.View(label="AMD: evaluate"))

    def resolve_delegation(self, ctx: Any) -> bool:
        return delegation_choice(ctx)

    def execute(self, ctx: Any) -> dict[str, Any]:
        gt_field = _param(ctx, "gt_field")
        if not gt_field:
            raise ValueError("evaluate_amd needs 'gt_field', the ground-truth Segmentation field")
        result = evaluate_masks(
            ctx.target_view(),
            gt_field=gt_field,
            prefix=_param(ctx, "label_prefix"),
            pred_field=_param(ctx, "pred_field"),
            eval_key=_param(ctx, "eval_key"),
            overwrite=bool(_param(ctx, "overwrite")),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.str("eval_key", label="Evaluation key")
        outputs.float("mean_iou", label="Mean IoU")
        outputs.int("evaluated", label="Samples evaluated")
        return types.Property(outputs)

    def __call__(
        self, sample_collection: Any, gt_field: str, delegate: bool = False, **params: Any
    ) -> Any:
        """Run from Python; ``result.result`` holds ``{"eval_key", "mean_iou", ...}``."""
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; expected {sorted(DEFAULTS)}")
        return foo.execute_operator(
            self.uri,
            {"view": sample_collection.view()},
            params={"gt_field": gt_field, "delegate": delegate, **params},
            request_delegation=delegate,
        )
