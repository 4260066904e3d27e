"""``apply_amd``: zero-shot foreground masks + objectness for images and video frames."""

from __future__ import annotations

import copy
from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_plugin import params as P
from fiftyone_plugin.apply import iter_apply
from fiftyone_plugin.operators.forms import (
    delegation_choice,
    execution_mode,
    existing_policy,
    model_inputs,
    output_inputs,
    report_progress,
)

# request-level keys that belong to one execution, not to the shards it queues
_TRANSIENT_KEYS = ("run_doc", "results", "target", "delegated", "request_delegation")


class ApplyAMD(foo.Operator):
    """Segment the target view with an AMD checkpoint and store masks, heatmaps and scores."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(
            name="apply_amd",
            label="AMD: segment objects (zero-shot)",
            description="Foreground masks, heatmaps and an objectness score per image or frame",
            dynamic=True,
            execute_as_generator=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
        )

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.view_target(ctx)
        model_inputs(inputs)
        output_inputs(ctx, inputs, P.DEFAULTS["label_prefix"])
        inputs.int(
            "shards",
            default=1,
            label="Shards",
            description="Above 1: queue this many delegated runs over disjoint parts of the "
            "view, for several `fiftyone delegated launch` workers",
        )
        if int(P.get(ctx.params, "shards")) <= 1:
            execution_mode(ctx, inputs)
        return types.Property(inputs, view=types.View(label="AMD: segment objects"))

    def resolve_delegation(self, ctx: Any) -> bool:
        if int(P.get(ctx.params, "shards")) > 1 and int(P.get(ctx.params, "num_shards")) <= 1:
            return False  # queuing the shards is quick; the shards themselves are delegated
        return delegation_choice(ctx)

    def execute(self, ctx: Any):
        params = {**ctx.params, **existing_policy(ctx.params)}
        shards = int(P.get(params, "shards"))
        if shards > 1 and int(P.get(params, "num_shards")) <= 1:
            queued = self._queue_shards(ctx, shards)
            if not ctx.delegated:
                yield ctx.ops.notify(f"Queued {len(queued)} AMD shards", variant="success")
            return
        options = P.apply_options(params)
        segmenter = P.build_segmenter(params)
        events = iter_apply(ctx.target_view(), segmenter, options)
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                summary = stop.value
                break
            message = report_progress(ctx, event)
            if message is not None:
                yield message
        if not ctx.delegated:
            yield ctx.ops.reload_dataset()
            failed = f", {len(summary.failed)} failed" if summary.failed else ""
            ran = f" ({summary.backend})" if summary.backend else ""
            yield ctx.ops.notify(
                f"AMD{ran}: {len(summary.processed)} processed, {len(summary.skipped)} "
                f"skipped{failed}",
                variant="warning" if summary.failed else "success",
            )

    def _queue_shards(self, ctx: Any, shards: int) -> list[str]:
        """Queue one delegated ``apply_amd`` per shard of the same target view."""
        from fiftyone.operators.delegated import DelegatedOperationService

        service = DelegatedOperationService()
        ids = []
        for index in range(shards):
            request = copy.deepcopy(ctx.request_params)
            for key in _TRANSIENT_KEYS:
                request.pop(key, None)
            request["delegated"] = True
            request["params"] = {
                **copy.deepcopy(ctx.params),
                "shards": 1,
                "shard_index": index,
                "num_shards": shards,
            }
            op = service.queue_operation(
                operator=self.uri,
                label=f"{self.name} shard {index + 1}/{shards}",
                delegation_target=ctx.delegation_target,
                context={"request_params": request},
                metadata={"inputs_schema": None, "outputs_schema": None},
                rerunnable=True,
            )
            ids.append(str(op.id))
        return ids

    def __call__(
        self,
        sample_collection: Any,
        checkpoint: str = P.DEFAULTS["checkpoint"],
        backend: str = P.DEFAULTS["backend"],
        device: str = P.DEFAULTS["device"],
        batch_size: int = P.DEFAULTS["batch_size"],
        short_side: int | None = P.DEFAULTS["short_side"],
        label_prefix: str = P.DEFAULTS["label_prefix"],
        output_dir: str | None = None,
        skip_existing: bool = True,
        overwrite: bool = False,
        detections: bool = False,
        frame_stride: int = 1,
        shards: int = 1,
        delegate: bool = False,
        **extra: Any,
    ) -> Any:
        """Run on a dataset or view from Python; returns FiftyOne's ``ExecutionResult``.

        ``delegate=True`` (or ``shards > 1``) queues the work for delegated workers
        (``fiftyone delegated launch``) instead of running it here. ``extra`` may hold
        ``engine``, ``threshold``, ``min_component_area``, ``write_batch``, ``heatmap_bits``.
        """
        params = {
            "checkpoint": checkpoint,
            "backend": backend,
            "device": device,
            "batch_size": batch_size,
            "short_side": short_side,
            "label_prefix": label_prefix,
            "output_dir": str(output_dir) if output_dir else None,
            "skip_existing": skip_existing,
            "overwrite": overwrite,
            "detections": detections,
            "frame_stride": frame_stride,
            "shards": shards,
            "delegate": delegate,
            **extra,
        }
        return foo.execute_operator(
            self.uri,
            {"view": sample_collection.view()},
            params=params,
            request_delegation=delegate,
        )
