"""The heap is trimmed once a burst of large requests is over, not per request."""

from __future__ import annotations

import asyncio

from evqueue.server.memory import MemoryTrimmer


async def test_one_trim_after_each_threshold_of_received_bytes():
    trimmer = MemoryTrimmer(threshold=1000, delay=0.05)
    trimmer.received(600)
    await asyncio.sleep(0.1)
    assert trimmer.trims == 0  # below the threshold
    for _ in range(10):  # a burst crossing it: one trim, once the burst is over
        trimmer.received(600)
    await asyncio.sleep(0.1)
    assert trimmer.trims == 1
    trimmer.received(999)
    await asyncio.sleep(0.1)
    assert trimmer.trims == 1  # the count starts again after a trim
    trimmer.received(1)
    await asyncio.sleep(0.1)
    assert trimmer.trims == 2


async def test_close_cancels_a_pending_trim():
    trimmer = MemoryTrimmer(threshold=10, delay=0.05)
    trimmer.received(100)
    trimmer.close()
    await asyncio.sleep(0.1)
    assert trimmer.trims == 0
