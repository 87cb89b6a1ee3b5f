"""The COPY fast path's read-ahead: every batch in order, errors surface, a failed consumer stops it."""

from __future__ import annotations

import threading

import pytest

from fieldbooks.ops.copystream import _prefetched


def test_every_batch_arrives_in_order():
    assert list(_prefetched(iter(range(50)))) == list(range(50))


def test_an_error_while_reading_reaches_the_consumer():
    def batches():
        yield 1
        raise ValueError("COPY broke")

    with pytest.raises(ValueError, match="COPY broke"):
        list(_prefetched(batches()))


def test_a_consumer_that_fails_stops_the_reader_before_it_returns():
    read = []

    def batches():
        for n in range(1_000):
            read.append(n)
            yield n

    stream = _prefetched(batches(), depth=2)
    next(stream)
    stream.close()  # what a raised exception in the loop body does
    assert not any(t.name == "copy-prefetch" for t in threading.enumerate())
    assert len(read) < 10
