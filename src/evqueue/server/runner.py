"""The runner: wires the parts of a node together, and takes them down in reverse order.

Rules:
- Start-up follows evQueue's order (semantics.md §6.5): storage, process manager, engine (resume),
  then the listeners (the XML API on TCP and the unix socket, then the websocket/HTTP
  listener, before ``on_ready``); shutdown
  stops the listeners first, then the engine (force-savepoint of running instances), then
  storage. Every part is entered on one ``AsyncExitStack``.
- Signals arrive only through ``loop.add_signal_handler``: SIGTERM/SIGINT stop, SIGHUP reloads
  the database-backed definitions, SIGUSR1 runs pending retries now.
- The runner holds no logic of its own beyond wiring; each part owns its behaviour.
- The node joins the cluster's registry before the engine resumes anything (a running node of
  the same name stops start-up); every definition change reloads this node, then notifies the
  other nodes in the background (``_start_cluster``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace

from evqueue.api.audit import record_change
from evqueue.api.change_events import publishing
from evqueue.api.context import ApiContext, Services
from evqueue.api.dispatch import Dispatcher
from evqueue.api.git import open_repository, served_groups
from evqueue.api.git import routes as git_routes
from evqueue.api.login import Authenticator, load_secret, modules_served
from evqueue.api.modules import all_tables
from evqueue.cluster import Elector, NodeRegistry, Notifier
from evqueue.config import Config
from evqueue.engine.engine import Engine
from evqueue.engine.events import EventBus, EventType
from evqueue.engine.settings import EngineSettings
from evqueue.process.forker_handle import ForkerHandle
from evqueue.process.manager import ProcessManager
from evqueue.process.spec import ProcessSettings, tids_with_output
from evqueue.server.api_server import ApiServer
from evqueue.server.clock_offset import scheduler_clock
from evqueue.server.engine_ports import (
    DbInstanceStore,
    DbWorkflowSource,
    ProcessLauncher,
    collect_exits_after_restart,
    deliver_exit,
    load_queue_definitions,
    remove_stale_task_files,
)
from evqueue.server.logs import DbLogHandler
from evqueue.server.metrics import EngineFigures
from evqueue.server.metrics import QueueFigures as QueueLoad
from evqueue.server.turns import Turns
from evqueue.server.ws_server import WsServer
from evqueue.services.gc import GC_ACTION, GarbageCollector, GcSettings
from evqueue.services.notifications import Notifications, NotificationSettings
from evqueue.services.scheduler import Scheduler
from evqueue.storage.database import Database
from evqueue.storage.logs import LogRow, add_logs
from evqueue.storage.schema import create_schema
from evqueue.storage.timeutil import local_now

__all__ = ["Runner"]

log = logging.getLogger("evqueue.server")

DB_LOG_FLUSH_INTERVAL = 0.5


class Runner:
    """One node: ``await Runner(cfg).run()`` serves until a stop signal."""

    def __init__(self, cfg: Config, *, db_log: DbLogHandler | None = None,
                 on_ready: Callable[[], None] = lambda: None,
                 forker: ForkerHandle | None = None,
                 process_settings: ProcessSettings | None = None) -> None:
        self.cfg = cfg
        self.db_log = db_log
        self.on_ready = on_ready
        self.forker = forker
        self.process_settings = process_settings or ProcessSettings.from_config(cfg)
        self.db: Database | None = None
        self.api: ApiServer | None = None
        self.ws: WsServer | None = None
        self.engine: Engine | None = None
        self.workflow_source: DbWorkflowSource | None = None
        self.scheduler: Scheduler | None = None
        self.notifications: Notifications | None = None
        self.notifier: Notifier | None = None
        self._stop = asyncio.Event()
        self.turns = Turns()  # the API server's clients that launch one at a time
        self._reload_hooks: list[Callable[[], Awaitable[None]]] = []
        self._retry_hooks: list[Callable[[], None]] = []

    def stop(self) -> None:
        """Ask the node to shut down (what SIGTERM does)."""
        self._stop.set()

    def on_reload(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` on SIGHUP (reload of the database-backed definitions)."""
        self._reload_hooks.append(hook)

    def on_retry_flush(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on SIGUSR1 (pending retries run now)."""
        self._retry_hooks.append(hook)

    async def run(self) -> None:
        """Start every part, serve until stopped, then shut down in reverse order."""
        loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            self._install_signals(loop, stack)
            if self.forker is not None:
                # after the tasks' monitors are detached from it, the forker just exits on EOF
                stack.push_async_callback(self.forker.aclose)
            self.db = await Database.from_config(self.cfg)
            stack.push_async_callback(self.db.close)
            await create_schema(self.db)
            if self.db_log is not None:
                stack.enter_context(self._background(self._flush_db_log()))
                stack.push_async_callback(self._write_db_log)
            if await self.db.admin_password_is_default():
                log.warning("user 'admin' still has the default password 'admin': change it "
                            "(<user action=\"change_password\" …/>)")
            self.api = self._build_api(self.db)
            registry = await self._start_cluster(self.api.ctx, stack)
            await self._start_engine(self.api.ctx, stack)
            await self._start_notifications(self.api.ctx, stack)
            await self._start_scheduler(self.api.ctx, stack)
            self._start_gc(stack)
            await self.api.start()
            stack.push_async_callback(self.api.stop)
            self.ws = WsServer(self.api.ctx, self.api.dispatcher, authenticator=self.api.auth,
                               events=self.engine.events if self.engine else None,
                               metrics_source=self._engine_figures, turns=self.turns)
            await self.ws.start()
            stack.push_async_callback(self.ws.stop)
            await registry.publish(self.api, self.ws)
            log.log(25, "node %s started", self.cfg.node_name)
            self.on_ready()
            await self._stop.wait()
            log.log(25, "node %s stopping", self.cfg.node_name)
            if self.scheduler is not None:
                # First: while the listeners close (a busy connection may take
                # api_server.SHUTDOWN_GRACE), a stopping node launches nothing new; another
                # node fires the due times of an "any" schedule meanwhile.
                await self.scheduler.stop()

    async def _start_engine(self, ctx: ApiContext, stack: contextlib.AsyncExitStack) -> None:
        """The engine, resumed, then the process manager that feeds it task exits."""
        assert self.db is not None
        launcher = ProcessLauncher(self.process_settings)
        self.workflow_source = DbWorkflowSource(self.db)
        events = EventBus()  # the engine's, also told of the tags its instances create
        engine = Engine(settings=EngineSettings.from_config(self.cfg), launcher=launcher,
                        store=DbInstanceStore(self.db, events, self.turns.batch_rows),
                        source=self.workflow_source, events=events,
                        queues=await load_queue_definitions(self.db),
                        batch_rows=self.turns.batch_rows)
        self.engine = engine
        stack.push_async_callback(engine.stop)
        resumed = await engine.resume(busy_tids=tids_with_output(
            self.process_settings.logs_directory, self.process_settings.node))
        if resumed:
            log.log(25, "resumed %d instance(s): %s", len(resumed),
                    ", ".join(map(str, resumed)))
        manager = ProcessManager(
            self.process_settings,
            on_exit=lambda item: deliver_exit(launcher, engine, item),
            on_progress=engine.task_progress, on_started=launcher.started,
            forker=self.forker)  # a forker that dies is replaced; task starts wait for it
        await manager.start()
        stack.push_async_callback(manager.stop)
        stack.callback(engine.hold)  # no task starts once the process manager stops
        launcher.bind(manager)
        await collect_exits_after_restart(engine, manager)
        remove_stale_task_files(engine, self.process_settings)
        launcher.keep_records(engine.known_tids())
        stack.callback(launcher.journal.close)
        ctx.services = replace(ctx.services, engine=engine, events=engine.events,
                               processes=manager)
        ctx.reload = self._reload_module
        self.on_reload(lambda: self._reload_module("all"))
        self.on_retry_flush(engine.flush_retries)

    async def _start_cluster(self, ctx: ApiContext,
                             stack: contextlib.AsyncExitStack) -> NodeRegistry:
        """Join the node registry (refused when a live node has our name), then make every
        definition change (``ctx.changed``) reload this node and notify the others."""
        assert self.db is not None
        registry = NodeRegistry(self.db, self.cfg)
        await registry.join()
        stack.push_async_callback(registry.leave)
        notifier = Notifier.from_config(self.cfg)
        stack.push_async_callback(notifier.aclose)
        self.notifier = notifier

        async def changed(module: str) -> None:
            await ctx.reload(module)  # late-bound: the engine's reload once it runs
            notifier.notify(module)

        ctx.changed = changed
        return registry

    async def _reload_module(self, module: str) -> None:
        """Bring this node's caches in line with the store after a definition change."""
        if module in ("all", "workflows", "retry_schedules") and self.workflow_source is not None:
            self.workflow_source.forget()
        if module in ("all", "queuepool") and self.engine is not None and self.db is not None:
            self.engine.reload_queues(await load_queue_definitions(self.db))
        if module in ("all", "scheduler") and self.scheduler is not None:
            await self.scheduler.reload()
        if module in ("all", "notifications") and self.notifications is not None:
            await self.notifications.sync()
        if module in ("all", "notifications", "workflows") and self.notifications is not None:
            await self.notifications.reload()
        if module in ("all", "users") and self.api is not None:
            await self.api.ctx.sessions.reload()  # open sessions get the rights just changed

    async def _start_notifications(self, ctx: ApiContext,
                                   stack: contextlib.AsyncExitStack) -> None:
        """Plugins installed from the store, called at each instance end (not for the
        instances just resumed); ``control syncnotifications`` re-installs them."""
        assert self.db is not None and self.engine is not None
        notifications = Notifications(self.db, NotificationSettings.from_config(self.cfg),
                                      self.engine.events,
                                      skip={i.id for i in self.engine.instances()})
        await notifications.sync()
        await notifications.reload()
        self.engine.add_end_listener(notifications.instance_ended)
        stack.push_async_callback(notifications.stop)
        self.notifications = notifications

        async def sync(notify: bool) -> None:
            await notifications.sync()
            if notify and self.notifier is not None:
                self.notifier.sync_notifications()

        ctx.services = replace(ctx.services, sync_notifications=sync)

    async def _start_scheduler(self, ctx: ApiContext,
                               stack: contextlib.AsyncExitStack) -> None:
        """The workflow scheduler of this node, answering ``status type=scheduler``; its clock is
        the wall clock, unless a test shifts it (:mod:`evqueue.server.clock_offset`)."""
        assert self.db is not None and self.engine is not None
        scheduler = Scheduler(self.db, self.engine, self.cfg.node_name,
                              changed=lambda module: ctx.changed(module),
                              clock=scheduler_clock(os.environ))
        await scheduler.start()
        stack.push_async_callback(scheduler.stop)
        ctx.services = replace(ctx.services, scheduler=scheduler)
        self.scheduler = scheduler

    def _start_gc(self, stack: contextlib.AsyncExitStack) -> None:
        """The garbage collector, run by one elected node per ``gc.interval``."""
        assert self.db is not None
        settings = GcSettings.from_config(self.cfg)
        if not settings.enable:
            return
        collector = GarbageCollector(self.db, settings)
        duty = Elector(self.db, self.cfg.node_name).periodic(
            GC_ACTION, max(1.0, settings.interval), lambda: collector.collect(local_now()))
        duty.start()
        stack.push_async_callback(duty.stop)

    def _engine_figures(self) -> EngineFigures:
        engine = self.engine
        if engine is None:
            return EngineFigures()
        queues = tuple(QueueLoad(q.name, q.running_tasks, q.size, q.concurrency)
                       for q in engine.queue_statistics())
        return EngineFigures(instances={"EXECUTING": len(engine.instances())}, queues=queues)

    def _build_api(self, db: Database) -> ApiServer:
        """The XML API: handlers' context, dispatcher, login and listeners."""
        secret = load_secret(self.cfg)
        # every command of api.change_events publishes its events once it succeeded
        dispatcher = Dispatcher(publishing([*all_tables(), git_routes]),
                                on_change=[record_change])
        modules = modules_served(served_groups(dispatcher.groups, self.cfg))
        ctx = ApiContext(cfg=self.cfg, db=db, modules=tuple(modules),
                         services=Services(git=open_repository(self.cfg)))
        auth = Authenticator(self.cfg, db, secret=secret, modules=modules)
        return ApiServer(ctx, dispatcher, auth, self.turns)

    def _install_signals(self, loop: asyncio.AbstractEventLoop,
                         stack: contextlib.AsyncExitStack) -> None:
        handlers = {
            signal.SIGTERM: self.stop,
            signal.SIGINT: self.stop,
            signal.SIGHUP: lambda: loop.create_task(self._reload()),
            signal.SIGUSR1: self._flush_retries,
        }
        for signum, handler in handlers.items():
            loop.add_signal_handler(signum, handler)
            stack.callback(loop.remove_signal_handler, signum)

    async def _reload(self) -> None:
        log.log(25, "SIGHUP: reloading definitions")
        for hook in self._reload_hooks:
            await hook()

    def _flush_retries(self) -> None:
        log.log(25, "SIGUSR1: running pending retries now")
        for hook in self._retry_hooks:
            hook()

    @contextlib.contextmanager
    def _background(self, coro: Awaitable[None]):  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coro)
        try:
            yield task
        finally:
            task.cancel()

    async def _flush_db_log(self) -> None:
        while True:
            await asyncio.sleep(DB_LOG_FLUSH_INTERVAL)
            await self._write_db_log()

    async def _write_db_log(self) -> None:
        assert self.db_log is not None and self.db is not None
        records = self.db_log.take()
        if not records:
            return
        try:
            await add_logs(self.db, [LogRow(self.cfg.node_name, r.level, r.message, r.timestamp)
                                     for r in records])
        except Exception as exc:  # a DB outage must not stop the node; the lines go to syslog
            logging.getLogger("evqueue.server.dblog").debug("could not write logs: %s", exc)
            return
        if self.engine is not None:  # one event per batch written: the log page reloads once
            self.engine.events.emit(EventType.LOG_ENGINE)
