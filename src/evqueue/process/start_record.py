"""The start journal: which task of which instance each tid was asked to start for.

At savepoint levels 2 and 3 a task must never run twice, even when the engine is killed right
after asking the forker for it, before any savepoint says so. Rather than writing the whole
instance to the store before each start (one transaction and one serialization of the
instance per task), the engine appends one line to ``<logs>/<node>.starts`` before the
request leaves: ``<tid> <instance id> <evqid>``. A restarted engine reads it once
(:meth:`StartJournal.read`) and asks the task's status file (:mod:`.status_file`) whether a
monitor started under that tid: then the task is re-attached, otherwise queued again.

Rules:

- One ``write`` of a few bytes on a file kept open in append mode: a kill cannot split it,
  and no file is created per task (creating one costs up to a millisecond of kernel time on
  some file systems, far more than the write). No fsync, as the store's own writes at level
  2 (an engine killed loses nothing the kernel holds).
- A tid's latest line is the one that counts: a tid is given again only once the task that
  had it is stored, and the status file that the reader asks belongs to the latest task.
- The journal keeps the lines of the tids still in use (:meth:`StartJournal.forget` once a
  result is stored): when it has grown to four times their size it is rewritten with them
  alone, into a new file renamed over it, so a kill leaves one journal or the other, both
  complete. A restarted engine keeps the lines of the tids it still knows
  (:meth:`StartJournal.keep_only`).
- Standard library only.
"""

from __future__ import annotations

import contextlib
import os

from evqueue.process.spec import node_file

__all__ = ["StartJournal"]

#: The journal is not rewritten below this size (bytes).
_MIN_REWRITE = 64 * 1024
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


class StartJournal:
    """The start journal of ``node`` in the logs ``directory``."""

    def __init__(self, directory: str, node: str) -> None:
        self.path = node_file(directory, node, "starts")
        self._fd: int | None = None
        self._live: dict[int, bytes] = {}  # tid → its latest line, while the tid is in use
        self._live_size = 0  # bytes of those lines
        self._size = 0  # bytes in the file

    def read(self) -> dict[tuple[int, str], list[int]]:
        """(instance id, evqid) → the tids recorded for it (lowest first), from each tid's
        latest line; incomplete or unreadable lines are left out. Those lines are kept."""
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except OSError:
            data = b""
        self._size = len(data)
        owners: dict[int, tuple[int, str]] = {}  # tid → (instance id, evqid), latest line
        for line in data.splitlines(keepends=True):
            fields = line.split()
            if not line.endswith(b"\n") or len(fields) != 3:
                continue
            try:
                tid, instance_id = int(fields[0]), int(fields[1])
            except ValueError:
                continue
            self._keep(tid, line)
            owners[tid] = (instance_id, fields[2].decode(errors="replace"))
        records: dict[tuple[int, str], list[int]] = {}
        for tid, owner in sorted(owners.items()):
            records.setdefault(owner, []).append(tid)
        return records

    def record(self, tid: int, instance_id: int, evqid: str) -> None:
        """Append the start of task *evqid* of instance *instance_id* under *tid* (raises
        OSError when it cannot be written: the task must not start then)."""
        line = b"%d %d %s\n" % (tid, instance_id, evqid.encode())
        if self._fd is None:
            self._fd = os.open(self.path, _APPEND, 0o600)
        os.write(self._fd, line)
        self._size += len(line)
        self._keep(tid, line)
        if self._size > max(_MIN_REWRITE, 4 * self._live_size):
            self._rewrite()

    def forget(self, tid: int) -> None:
        """Task *tid* is stored: its line may go at the next rewrite."""
        line = self._live.pop(tid, None)
        if line is not None:
            self._live_size -= len(line)

    def keep_only(self, tids: set[int]) -> None:
        """Keep the lines of these tids only (after a restart: those the engine knows), and
        rewrite the journal with them."""
        for tid in [tid for tid in self._live if tid not in tids]:
            self.forget(tid)
        with contextlib.suppress(OSError):
            self._rewrite()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _keep(self, tid: int, line: bytes) -> None:
        self.forget(tid)
        self._live[tid] = line
        self._live_size += len(line)

    def _rewrite(self) -> None:
        data = b"".join(self._live.values())
        temporary = self.path + ".new"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as file:  # writes it all, however the kernel splits it
            file.write(data)
        os.replace(temporary, self.path)
        self.close()
        self._size = len(data)
