"""Run an iterator in a background thread, a few items ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order while a daemon thread produces up to ``depth`` ahead.

    Meant for decoding (PyAV and NumPy release the GIL) overlapping with inference. An
    exception raised by ``items`` is re-raised here at the position where it happened; when
    the consumer stops early, the producer stops after its current item.
    """
    slots: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            put((_DONE, err))
            return
        put((_DONE, None))

    thread = threading.Thread(target=produce, name="amd-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
