"""Start-up of a node, in evQueue's order (semantics.md §6.5).

Rules:
- Everything that can fail because of the configuration or the database is done BEFORE
  daemonizing, so the person starting the node sees the error on the terminal.
- Order: identity (chdir ``core.wd``, gid, uid) → checks (incl. the IPC key) and logging →
  database schema → pidfile lock → forker → daemonize → write pid → serve (``Runner``). The
  pidfile is removed on a clean exit.
- The forker is started before daemonizing (it is a child of the start-up process, in a session
  of its own): forking it later, from the big engine process, would cost more per task. A
  forker that dies is replaced by the process manager with a fresh interpreter (vfork + exec,
  :meth:`~evqueue.process.forker_handle.ForkerHandle.restart`), as lean as this one.
"""

from __future__ import annotations

import asyncio
import gc
import locale
import logging
import os
import subprocess

from evqueue.cluster.registry import NodeNameInUse
from evqueue.config import Config, ConfigError, check, warnings
from evqueue.process.errors import IpcKeyError
from evqueue.process.forker_handle import start_forker
from evqueue.process.spec import ProcessSettings
from evqueue.server.api_server import ListenError
from evqueue.server.daemon import Readiness, daemonize
from evqueue.server.logs import setup_logging
from evqueue.server.open_files import raise_open_files_limit
from evqueue.server.pidfile import AlreadyRunning, PidFile

__all__ = ["StartupError", "apply_identity", "prepare_database", "start_node"]

log = logging.getLogger("evqueue.server")


class StartupError(Exception):
    """The node cannot start; the message says why, for a person."""


def apply_identity(cfg: Config) -> None:
    """chdir to ``core.wd``, then switch to ``core.gid`` / ``core.uid`` when they are not 0."""
    wd = cfg.wd if cfg["core.wd"] else ""
    if wd:
        try:
            os.chdir(wd)
        except OSError as exc:
            raise StartupError(f"core.wd: cannot change directory to '{wd}': "
                               f"{exc.strerror}") from None
    try:
        if cfg["core.gid"]:
            os.setregid(cfg["core.gid"], cfg["core.gid"])
        if cfg["core.uid"]:
            os.setreuid(cfg["core.uid"], cfg["core.uid"])
    except PermissionError as exc:
        raise StartupError(f"core.uid/core.gid: cannot switch identity: {exc.strerror}") from None


async def prepare_database(cfg: Config, wait_db: bool) -> None:
    """Connect, create or upgrade the schema, and disconnect (errors stop start-up)."""
    from evqueue.storage.database import Database
    from evqueue.storage.schema import create_schema

    db = await Database.from_config(cfg)
    try:
        if wait_db:
            await db.wait_for_db(timeout=float("inf"))
        await create_schema(db)
    finally:
        await db.close()


def start_node(cfg: Config, *, daemon: bool, wait_db: bool = False) -> int:
    """Start a node and serve until it is stopped; returns the process exit code.

    Raises:
        StartupError: a problem found before the node could serve.
    """
    apply_identity(cfg)
    try:
        check(cfg)
        settings = ProcessSettings.from_config(cfg)
    except (ConfigError, IpcKeyError) as exc:
        raise StartupError(str(exc)) from None
    db_log = setup_logging(cfg, to_stderr=not daemon)
    for warning in warnings(cfg):
        log.warning("%s", warning)
    try:
        locale.setlocale(locale.LC_ALL, cfg["core.locale"])
    except locale.Error:
        log.warning("core.locale: locale '%s' is not available, keeping the default",
                    cfg["core.locale"])
    try:
        asyncio.run(prepare_database(cfg, wait_db))
    except Exception as exc:
        raise StartupError(f"database: {exc}") from None

    pidfile = PidFile(cfg.path("core.pidfile"))
    try:
        pidfile.acquire()
    except AlreadyRunning as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"core.pidfile: cannot open '{pidfile.path}': {exc.strerror}") from None

    try:
        # a daemon's forker must not hold the starting terminal's stderr open
        forker = start_forker(cfg.path("forker.pidfile"),
                              stderr=subprocess.DEVNULL if daemon else None)
    except OSError as exc:
        pidfile.release()
        raise StartupError(f"cannot start the forker: {exc}") from None

    raise_open_files_limit()  # after the forker: tasks keep the limit the node was started with
    readiness = daemonize(pidfile.close_without_removing) if daemon else Readiness(None)
    pidfile.write()
    try:
        from evqueue.server.runner import Runner

        runner = Runner(cfg, db_log=db_log, on_ready=readiness.ready, forker=forker,
                        process_settings=settings)
        _tune_garbage_collector()
        asyncio.run(runner.run())
    except (ListenError, NodeNameInUse) as exc:
        # a known start-up refusal: the message says it all, no traceback
        log.critical("node could not start: %s", exc)
        pidfile.release()  # before the starting terminal is told: it may look for the file
        readiness.failed(str(exc))
        return 1
    except Exception as exc:
        log.critical("node stopped on an error: %s", exc, exc_info=True)
        pidfile.release()
        readiness.failed(str(exc))
        return 1
    finally:
        pidfile.release()
    return 0


#: Allocations between two collections of the youngest generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def _tune_garbage_collector() -> None:
    """Collect less often what a busy engine allocates and drops at once (futures, rows,
    events: cyclic garbage is rare), and never again the ~120,000 objects of the imports and
    the start-up: about 5 % of the engine's CPU per instance under load."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
