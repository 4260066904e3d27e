"""``adapt_amd`` (delegated only): test-time adaptation per video, then segmentation."""

from __future__ import annotations

from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_plugin import params as P
from fiftyone_plugin.adapt import adapt_and_apply, load_adapt, tta_config
from fiftyone_plugin.operators.forms import existing_policy, model_inputs, output_inputs

DEFAULT_PREFIX = "amd_tta"  # a separate prefix, so adapted and plain results sit side by side
# where adaptation starts, as for amd-adapt: 8 minutes from real-small lowered DAVIS J
# (benchmarks/README.md, real video), from synthetic-small they raised it
DEFAULT_START = "synthetic-small"


class AdaptAMD(foo.Operator):
    """Fine-tune a copy of the model on each video's own frames, then segment that video."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(
            name="adapt_amd",
            label="AMD: test-time adaptation (delegated)",
            description="Adapt the model to each video (minutes per video), then segment it",
            dynamic=True,
            allow_immediate_execution=False,
            allow_delegated_execution=True,
            default_choice_to_delegated=True,
        )

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        if ctx.dataset is not None and ctx.dataset.media_type != "video":
            inputs.view(
                "not_video",
                types.Warning(label="Videos only", description="Adaptation learns from motion"),
            )
            return types.Property(inputs)
        inputs.view_target(ctx)
        model_inputs(inputs, checkpoint=DEFAULT_START)
        inputs.int("steps", label="Adaptation steps", description="Default: configs/tta.yaml")
        inputs.float("lr", label="Learning rate", description="Default: configs/tta.yaml")
        output_inputs(ctx, inputs, DEFAULT_PREFIX)
        return types.Property(inputs, view=types.View(label="AMD: test-time adaptation"))

    def resolve_delegation(self, ctx: Any) -> bool:
        return True

    def execute(self, ctx: Any) -> dict[str, Any]:
        adapt = load_adapt()  # fail before any work when the training package is missing
        params = {
            "label_prefix": DEFAULT_PREFIX,
            "checkpoint": DEFAULT_START,
            **{k: v for k, v in ctx.params.items() if v is not None},
            **existing_policy(ctx.params),
        }
        cfg = tta_config(
            ctx.params.get("steps", None),
            ctx.params.get("lr", None),
            ctx.params.get("overrides", ()),
        )
        target = ctx.target_view()

        def on_video(index: int, total: int, sample_id: str) -> None:
            ctx.set_progress(
                progress=index / max(total, 1), label=f"adapting video {index + 1}/{total}"
            )

        summaries = adapt_and_apply(
            target,
            str(P.get(params, "checkpoint")),
            P.apply_options(params),
            cfg,
            segmenter_kwargs=P.segmenter_kwargs(params),
            adapt=adapt,
            on_video=on_video,
        )
        return {
            "videos": len(summaries),
            "frames": sum(s.frames for s in summaries),
            "failed": {k: v for s in summaries for k, v in s.failed.items()},
        }

    def __call__(self, sample_collection: Any, **params: Any) -> Any:
        """Queue from Python (always delegated); run the queue with ``fiftyone delegated launch``.

        Params as for ``apply_amd`` (``label_prefix`` defaults to ``amd_tta``) plus ``steps``,
        ``lr`` and ``overrides`` (a list of ``key.path=value`` config overrides).
        """
        return foo.execute_operator(
            self.uri, {"view": sample_collection.view()}, params=params, request_delegation=True
        )
