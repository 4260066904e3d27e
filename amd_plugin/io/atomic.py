"""The one atomic file writer: a reader sees the old file or the new one, never half of one.

Checkpoints, exported graphs, engines and their metadata, mask/heatmap PNGs and pictures
all go through :func:`atomic_write_bytes`, so an interrupted run (Ctrl-C, SIGKILL, a full
disk) never leaves a truncated file under a name that something else trusts.

How: the bytes go to a temp file in the destination's folder (same file system, so the
final ``os.replace`` is an atomic rename on POSIX and Windows), optionally fsync'ed, then
renamed over the destination. On any failure the temp file is removed and the destination
is untouched.

Temp names are ``.NAME.UNIQUE.PID.tmp``: hidden, next to the destination, unique per call
(threads of one process never share one) and ending with the writer's process id, so that
cleanup code can tell a temp file left by a killed writer from one still being written
(:func:`temp_writer_pid`; used by ``amd_train.checkpointing.remove_stale_temp_files``).
Nothing here imports anything from the project: every floor may use it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_path(path: Path) -> Path:
    """A fresh temp name next to ``path`` (see the module docstring for its shape)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.{os.getpid()}{TEMP_SUFFIX}")


def temp_writer_pid(tmp: Path) -> int | None:
    """The process id a temp file name ends with, or ``None`` if it is not such a name.

    Also reads the older ``.NAME.PID.tmp`` names, which end the same way.
    """
    if not (tmp.name.startswith(".") and tmp.name.endswith(TEMP_SUFFIX)):
        return None
    pid = tmp.name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[-1]
    return int(pid) if pid.isdigit() else None


def atomic_write_bytes(data: bytes, path: str | Path, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; parent folders are created.

    Args:
        data: the file's bytes.
        path: destination; replaced as a whole if it exists.
        fsync: flush to stable storage before the rename. The rename alone already protects
            against an interrupted *process*; fsync protects against power loss too, at a
            cost of milliseconds per file. Worth it for a checkpoint, not for each of
            thousands of mask PNGs (their writers pass ``False``).

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        # open() rather than tempfile: the file gets the usual umask permissions, not 0600;
        # "x" refuses to reuse a name that somehow exists instead of writing into it
        with open(tmp, "xb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
