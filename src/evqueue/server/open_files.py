"""The engine's own limit of open files, raised to what its listeners may hold.

A node serves up to ``network.connections.max`` API connections plus the websocket/HTTP port's
connections, the store, the task files it reads and the SysV queue. The usual soft limit
(1,024) is below that with the default settings, so the engine raises its soft limit to the
hard one at start-up, as servers commonly do. It is done after the forker has started: tasks are
children of the forker and keep the limit the node was started with.
"""

from __future__ import annotations

import logging
import resource

__all__ = ["raise_open_files_limit"]

log = logging.getLogger(__name__)

#: Never ask for more than this, even when the hard limit is unlimited.
_CEILING = 1 << 20


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` of this process to its hard limit.

    Returns:
        The soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _CEILING if hard == resource.RLIM_INFINITY else min(hard, _CEILING)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, wanted, exc)
            return soft
        log.info("open files limit raised from %d to %d", soft, wanted)
        return wanted
    return soft
