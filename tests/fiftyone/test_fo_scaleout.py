"""Scale-out: ``apply_amd(shards=2)`` run by two real ``fiftyone delegated launch`` workers.

``fiftyone delegated launch`` (FiftyOne 1.x, ``-t local``, the only type) never exits on its
own: it polls the queue for one operation at a time forever. So the test starts both
workers *before* queuing (each claims an operation atomically: QUEUED → RUNNING only if it
is still QUEUED), polls the database for completion with a deadline, then stops them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fo_process import stop

pytestmark = pytest.mark.fiftyone

URI = "@amd/objectness/apply_amd"
READY = "Delegated operation service running"
DEADLINE_S = 240.0  # two cold workers on a busy 2-core machine; typically far less


def _launch(log: Path) -> subprocess.Popen:
    """One ``fiftyone delegated launch`` worker (inherits the private-database environment)."""
    cli = Path(sys.executable).parent / "fiftyone"  # the console script next to this Python
    if not cli.exists():
        pytest.skip(f"no fiftyone command at {cli}")
    with log.open("wb") as out:
        # unbuffered: the "service running" banner must reach the log before we wait on it
        return subprocess.Popen(
            [str(cli), "delegated", "launch", "-t", "local"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _wait_for(predicate, what: str, workers: list[subprocess.Popen], logs: list[Path]) -> None:
    """Poll ``predicate`` until true; fail with the workers' logs on timeout or early exit."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return
        if any(w.poll() is not None for w in workers):
            break
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"timed out or a worker exited while waiting for {what}\n{tails}")


def _shutdown(workers: list[subprocess.Popen]) -> None:
    """Stop the (by now idle) workers: SIGTERM, then kill; all signalled before any wait.

    Not Ctrl+C: on KeyboardInterrupt the launcher runs FiftyOne's exit hooks, which take
    seconds, and an idle worker has nothing to clean up.
    """
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        stop(worker)


def test_two_launch_workers_run_the_shards(fo, image_dataset, checkpoint, tmp_path):
    import fiftyone.operators as foo
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_plugin.options import shard_of

    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [_launch(log) for log in logs]
    started = time.monotonic()
    try:
        _wait_for(lambda: all(READY in log.read_text() for log in logs), "startup", workers, logs)
        out = tmp_path / "out"
        result = foo.get_operator(URI)(
            image_dataset,
            checkpoint=str(checkpoint),
            device="cpu",
            short_side=48,
            output_dir=str(out),
            shards=2,
        )
        assert result.error is None and not result.delegated
        service = DelegatedOperationService()
        ops = service.list_operations(operator=URI, dataset_name=image_dataset.name)
        assert sorted(op.context.params["shard_index"] for op in ops) == [0, 1]
        ids = [op.id for op in ops]

        def finished() -> bool:
            states = [service.get(i).run_state for i in ids]
            return all(s in ("completed", "failed") for s in states)

        _wait_for(finished, "both shards to finish", workers, logs)
        elapsed = time.monotonic() - started
    finally:
        _shutdown(workers)

    docs = [service.get(i) for i in ids]
    assert [d.run_state for d in docs] == ["completed", "completed"], [
        d.run_result.error if d.run_result else None for d in docs
    ]
    image_dataset.reload()  # the workers added fields this process has not seen yet
    # every sample labelled, each mask in its own folder, nothing else written
    samples = image_dataset.values("id")
    assert None not in image_dataset.values("amd_objectness")
    assert all(Path(p).is_file() for p in image_dataset.values("amd_mask.mask_path"))
    assert sorted(p.name for p in out.iterdir()) == sorted(samples)
    # exactly once: each shard saw exactly its own part (the final progress label counts
    # the images it was given), and the parts add up to the dataset
    for doc in docs:
        index = doc.context.params["shard_index"]
        size = sum(shard_of(s, 2) == index for s in samples)
        assert doc.status.label == f"AMD: {size}/{size} images"
    # both workers took part: each logged running exactly one of the two shards. (Each
    # claims one operation per poll, every 0.5 s; a shard in a cold worker takes seconds
    # (plugin import, model load), so the idle worker always claims the other one first.)
    ran = [[str(i) for i in ids if f"Running operation {i}" in log.read_text()] for log in logs]
    assert sorted(i for r in ran for i in r) == sorted(map(str, ids)), ran
    assert [len(r) for r in ran] == [1, 1], ran
    print(f"2 shards on 2 launch workers: {elapsed:.1f} s from worker start")
