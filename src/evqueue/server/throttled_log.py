"""A log line for a condition that can repeat thousands of times a second.

Rules:

- :class:`ThrottledLog` writes at most one line per ``interval`` seconds; the occurrences it
  kept quiet are counted and the next line it writes says how many there were, so a flood of
  refused connections costs one line a second, not one per connection, and nothing is hidden.
- The clock is a callable, so tests pass time in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["ThrottledLog"]


class ThrottledLog:
    """Logs one recurring condition at most once per ``interval`` seconds.

    Args:
        logger: where the lines go.
        level: their level.
        interval: seconds between two lines at least.
        clock: monotonic seconds.
    """

    def __init__(self, logger: logging.Logger, level: int, interval: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.level = level
        self.interval = interval
        self.clock = clock
        self._quiet = 0
        self._next: float | None = None

    def __call__(self, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a line was written less than ``interval`` ago.

        Returns:
            Whether the line was written.
        """
        now = self.clock()
        if self._next is not None and now < self._next:
            self._quiet += 1
            return False
        self._next = now + self.interval
        if self._quiet:
            message += " (%d more like this since the last line)"
            args = (*args, self._quiet)
            self._quiet = 0
        self.logger.log(self.level, message, *args)
        return True
