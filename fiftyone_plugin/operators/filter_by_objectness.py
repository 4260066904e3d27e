"""``filter_by_objectness``: show (and optionally save) the samples with clear objects."""

from __future__ import annotations

from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_plugin.views import SORT_ORDERS, objectness_view

DEFAULTS: dict[str, Any] = {
    "label_prefix": "amd",
    "level": "sample",
    "min_objectness": 0.5,
    "max_objectness": None,
    "top_k": 0,
    "sort": "descending",
    "saved_view_name": None,
}


def _param(ctx: Any, name: str) -> Any:
    return ctx.params.get(name, DEFAULTS[name])


class FilterByObjectness(foo.Operator):
    """Threshold / top-k / sort on ``<prefix>_objectness``; sets the App's view."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(
            name="filter_by_objectness",
            label="AMD: filter by objectness",
            description="Keep samples (or video frames) whose objectness is in a range",
            dynamic=True,
        )

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.view_target(ctx)
        inputs.str("label_prefix", default=DEFAULTS["label_prefix"], label="Label prefix")
        if ctx.dataset is not None and ctx.dataset.media_type == "video":
            levels = types.RadioGroup()
            levels.add_choice("sample", label="Videos", description="Video-level aggregate score")
            levels.add_choice("frame", label="Frames", description="Keep only frames in range")
            inputs.enum("level", levels.values(), default="sample", label="Level", view=levels)
        inputs.float(
            "min_objectness", default=DEFAULTS["min_objectness"], label="Minimum objectness"
        )
        inputs.float("max_objectness", label="Maximum objectness (optional)")
        inputs.int("top_k", default=0, label="Top k", description="Keep the first k (0 = all)")
        orders = types.Dropdown()
        for order in SORT_ORDERS:
            orders.add_choice(order, label=order)
        inputs.enum("sort", orders.values(), default="descending", label="Sort", view=orders)
        inputs.str(
            "saved_view_name",
            label="Save as view (optional)",
            description="Also save the result as a named view of the dataset",
        )
        return types.Property(inputs, view=types.View(label="AMD: filter by objectness"))

    def execute(self, ctx: Any) -> dict[str, Any]:
        view = objectness_view(
            ctx.target_view(),
            prefix=_param(ctx, "label_prefix"),
            level=_param(ctx, "level"),
            min_objectness=_param(ctx, "min_objectness"),
            max_objectness=_param(ctx, "max_objectness"),
            top_k=_param(ctx, "top_k"),
            sort=_param(ctx, "sort"),
        )
        name = _param(ctx, "saved_view_name") or None
        if name:
            ctx.dataset.save_view(name, view, overwrite=True)
        ctx.ops.set_view(view=view)
        return {"count": len(view), "saved_view": name}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.int("count", label="Matching samples")
        outputs.str("saved_view", label="Saved view")
        return types.Property(outputs)

    def __call__(self, sample_collection: Any, **params: Any) -> Any:
        """Run from Python; ``result.result`` holds ``{"count", "saved_view"}``.

        Params: ``label_prefix``, ``level`` ('sample'/'frame'), ``min_objectness``,
        ``max_objectness``, ``top_k``, ``sort``, ``saved_view_name``.
        """
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; expected {sorted(DEFAULTS)}")
        return foo.execute_operator(self.uri, {"view": sample_collection.view()}, params=params)
