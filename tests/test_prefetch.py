"""The background-thread prefetcher used to overlap decoding with inference."""

import threading
import time

import pytest

from amd_plugin.io.prefetch import prefetched


def test_items_arrive_in_order():
    assert list(prefetched(range(100), depth=3)) == list(range(100))


def test_an_error_is_raised_where_it_happened():
    def items():
        yield 1
        yield 2
        raise ValueError("frame 3 is broken")

    got = []
    with pytest.raises(ValueError, match="frame 3"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_producer():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    for item in prefetched(items(), depth=2):
        if item == 5:
            break
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count < 20  # at most a few items ahead, then it stopped
    assert not [t for t in threading.enumerate() if t.name == "amd-prefetch"]
