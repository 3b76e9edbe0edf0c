"""Giving freed memory back to the system after large requests.

A parsed message costs some 40 times its bytes in lxml elements. Once they are freed, glibc
keeps the pages in its heaps for reuse, so a node that has read a few large (or hostile)
messages stays large: four connections sending messages of 4 MB left an engine at 655 MB
where it started at 76 MB, a plateau, not a leak (``malloc_trim`` brought it back to about
300 MB). So once :data:`TRIM_AFTER` bytes have been received since the last time, the node
asks the allocator to return its free pages (``malloc_trim(0)``), :data:`TRIM_DELAY` seconds
later, when the burst is over. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

__all__ = ["TRIM_AFTER", "TRIM_DELAY", "MemoryTrimmer"]

log = logging.getLogger(__name__)

#: Bytes received between two trims.
TRIM_AFTER = 8 * 1024 * 1024
#: Seconds from the byte that crossed :data:`TRIM_AFTER` to the trim.
TRIM_DELAY = 1.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


class MemoryTrimmer:
    """Counts received bytes and trims the heap after every :data:`TRIM_AFTER` of them."""

    def __init__(self, threshold: int = TRIM_AFTER, delay: float = TRIM_DELAY) -> None:
        self.threshold = threshold
        self.delay = delay
        self.trims = 0  # for tests and metrics
        self._received = 0
        self._handle: asyncio.TimerHandle | None = None
        self._malloc_trim = _find_malloc_trim()

    def received(self, size: int) -> None:
        """``size`` bytes were read from a client."""
        self._received += size
        if self._received >= self.threshold and self._handle is None and self._malloc_trim:
            self._handle = asyncio.get_running_loop().call_later(self.delay, self._trim)

    def _trim(self) -> None:
        self._handle = None
        self._received = 0
        assert self._malloc_trim is not None
        self._malloc_trim(0)
        self.trims += 1

    def close(self) -> None:
        """Cancel a pending trim."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
