"""A catalogue of bad inputs for the public entry points, each with the outcome we promise.

Every :class:`Case` builds its input under a temporary folder, names the entry point that
reads it and says what must happen: ``"ok"`` (the input is usable; ``check`` verifies the
result), ``"skipped"`` (a batch entry point keeps the good items and logs a warning naming
the bad one) or an error class name (raised with a message that names the input and
matches ``match``). Nothing else is acceptable: no other exception, no hang.

The cases live in ``cases_media.py`` and ``cases_training.py``, the file builders in
``input_builders.py``. Used by ``test_bad_inputs.py``; run as a script it executes every case and prints what
happened as the markdown table of ``benchmarks/reliability.md``:

    python tests/reliability/bad_inputs.py [--fast]
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from cases_media import IMAGE_CASES, VIDEO_CASES
from cases_training import (
    CHECKPOINT_CASES,
    CONFIG_CASES,
    DATA_CASES,
    ENGINE_CASES,
    SPLIT_CASES,
)
from catalogue import Case, Outcome
from input_builders import (  # re-exported: the tests build inputs with them too
    audio_only,
    bomb_png,
    fifo,
    fifo_reason,
    frame_folder,
    permission_reason,
    rgb,
    save,
    symlink_loop,
    truncated,
    unreadable,
    write_bytes,
    write_video,
    zero_frame_video,
)

__all__ = [
    "CASES",
    "Case",
    "Outcome",
    "audio_only",
    "bomb_png",
    "fifo",
    "fifo_reason",
    "frame_folder",
    "permission_reason",
    "rgb",
    "run",
    "save",
    "symlink_loop",
    "truncated",
    "unreadable",
    "verdict",
    "write_bytes",
    "write_video",
    "zero_frame_video",
]


CASES = IMAGE_CASES + VIDEO_CASES + DATA_CASES + SPLIT_CASES + CONFIG_CASES + CHECKPOINT_CASES
CASES += ENGINE_CASES

# --------------------------------------------------------------------------- running


class _Collect(logging.Handler):
    """Keeps the warnings logged during one call."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def _call(target: str, arg: Any, outcome: Outcome) -> Any:
    if target == "read_image":
        from amd_plugin.io.images import read_image

        return read_image(arg)
    if target == "iter_frames":
        from amd_plugin.io.video import iter_frames

        frames = []
        for _, frame in iter_frames(arg):
            frames.append(frame)
            outcome.frames = len(frames)
        return frames
    if target == "discover_sources":
        from amd_train.data.sources import discover_sources

        return discover_sources(arg)
    if target == "parse_split_file":
        from amd_train.data.frames import parse_split_file

        return parse_split_file(*arg)
    if target == "load_train_config":
        from amd_train.config import load_train_config

        return load_train_config(arg[0], list(arg[1]))
    if target == "load_model":
        from amd_plugin import load_model

        return load_model(arg)
    if target == "check_engine_metadata":
        from trt.metadata import check_engine_metadata

        return check_engine_metadata(*arg)
    raise ValueError(f"unknown target {target}")


def run(case: Case, tmp: Path) -> tuple[Outcome, Any]:
    """Build the case's input under ``tmp`` and call its entry point; never raises."""
    arg = case.build(tmp)
    outcome = Outcome("ok")
    handler = _Collect()
    logger = logging.getLogger("amd_train")
    logger.addHandler(handler)
    try:
        outcome.value = _call(case.target, arg, outcome)
    except Exception as err:  # the catalogue records whatever happens, tracebacks included
        outcome.kind, outcome.message = type(err).__name__, str(err)
    finally:
        logger.removeHandler(handler)
    outcome.log = "\n".join(handler.records)
    return outcome, arg


def input_name(arg: Any) -> str:
    """The name an error message must contain when the case does not say."""
    if isinstance(arg, tuple):
        arg = arg[0]
    if isinstance(arg, Path):
        return arg.name
    return Path(getattr(arg, "root", "")).name


def verdict(case: Case, outcome: Outcome, arg: Any) -> str:
    """'' when the outcome is the promised one, else what went wrong."""
    named = case.named or input_name(arg)
    if case.expect in ("ok", "skipped"):
        if outcome.kind != "ok":
            return f"expected {case.expect}, got {outcome.kind}: {outcome.message}"
        if case.check is not None and not case.check(outcome.value):
            return "result failed its check"
        if case.expect == "skipped" and named not in outcome.log:
            return f"no warning naming {named!r} (log: {outcome.log!r})"
        return ""
    if outcome.kind != case.expect:
        return f"expected {case.expect}, got {outcome.kind}: {outcome.message}"
    if named not in outcome.message:
        return f"message does not name {named!r}: {outcome.message}"
    if case.match and not re.search(case.match, outcome.message, re.IGNORECASE | re.DOTALL):
        return f"message does not match {case.match!r}: {outcome.message}"
    return ""


def _cell(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp) + "/", "").replace(str(tmp), ".").replace("\n", "; ")
    text = text.replace("|", "\\|")
    return text if len(text) <= 150 else text[:147] + "…"


def main(argv: list[str] | None = None) -> int:
    """Run every case; print a markdown table of what happened; exit 1 if any broke."""
    import argparse
    import tempfile
    import time

    p = argparse.ArgumentParser(description="run the bad-input catalogue, print a table")
    p.add_argument("--fast", action="store_true", help="leave out the slow cases")
    args = p.parse_args(argv)
    broken = 0
    print("| # | input | entry point | promised | observed | |")
    print("|---|---|---|---|---|---|")
    for number, case in enumerate(CASES, start=1):
        if case.slow and args.fast:
            continue
        reason = case.skip() if case.skip else ""
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            if reason:
                observed, mark = f"not run: {reason}", "skip"
            else:
                start = time.monotonic()
                outcome, arg = run(case, tmp)
                seconds = time.monotonic() - start
                problem = verdict(case, outcome, arg)
                broken += bool(problem)
                mark = "**FAIL**: " + _cell(problem, tmp) if problem else "✓"
                if outcome.kind == "ok":
                    observed = "ok" + (
                        f" (warning: {_cell(outcome.log, tmp)})" if outcome.log else ""
                    )
                else:
                    observed = f"{outcome.kind}: {_cell(outcome.message, tmp)}"
                if seconds > 2:
                    observed += f" [{seconds:.1f} s]"
            if case.note:
                observed += f" — *{case.note}*"
            promised = case.expect + (f" /{case.match}/" if case.match else "")
            print(f"| {number} | {case.name} | `{case.target}` | {_cell(promised, tmp)} | "
                  f"{observed} | {mark} |")  # fmt: skip
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
