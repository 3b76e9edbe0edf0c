"""The asynchronous engine: owns the running instances and does what their actions say.

One asyncio loop, no threads. The engine:

* creates instances (launch, debug-resume, migrate, restart recovery) and keeps them until they
  end; instance ids come from the store at savepoint level ≥ 2, from a sequence otherwise;
* applies the actions an instance returns: queue tasks in the :class:`QueuePool`, arm retries
  in the :class:`Retrier` (one ``loop.call_later`` timer for the earliest), kill processes,
  publish events on the :class:`EventBus`, finish instances;
* starts queued tasks as queues free up (``TaskLauncher.spawn``), under a tid of its
  :class:`TaskSlots`, and feeds exits and progress back to their instance;
* writes savepoints through :class:`~evqueue.engine.persistence.Persistence`, as
  ``workflowinstance.savepoint.level`` says (semantics.md §2.5).

Only this module reads the clock (its :class:`~evqueue.engine.ports.Clock`); the awaiting is done
here and in the writers it drives (:mod:`~evqueue.engine.persistence`,
:mod:`~evqueue.engine.savepoints`), which also keep their own timers (the level-2 window,
retried writes). :mod:`evqueue.engine.instance` decides, with the time passed in.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
from collections.abc import Callable, Coroutine, Iterable

from lxml import etree

from evqueue.engine.actions import (
    Action,
    ArmRetry,
    AttachTask,
    CancelQueued,
    CancelRetries,
    Emit,
    EnqueueTask,
    InstanceEnded,
    KillTask,
)
from evqueue.engine.events import EventBus, EventType
from evqueue.engine.instance import Instance, Parameters
from evqueue.engine.pending_retries import PendingRetry, Retrier
from evqueue.engine.persistence import Persistence
from evqueue.engine.ports import (
    Clock,
    InstanceStore,
    LaunchError,
    LaunchTurn,
    StoredInstance,
    SystemClock,
    TaskLauncher,
    WorkflowSource,
)
from evqueue.engine.queues import QueueDefinition, QueuedTask, QueueFigures, QueuePool
from evqueue.engine.settings import EngineSettings
from evqueue.engine.slots import Slot, TaskSlots
from evqueue.engine.statistics import EndedInstance, EngineStatistics
from evqueue.engine.statuses import Status
from evqueue.errors import (
    ApiError,
    TooManyInstances,
    UnknownInstance,
    UnknownObjectName,
)

__all__ = ["Engine"]

logger = logging.getLogger(__name__)

_RECENTLY_ENDED = 1024  # ids remembered so that wait() after a fast end still succeeds


class Engine:
    """The workflow engine of one node.

    Args:
        settings: engine configuration.
        launcher: the process layer.
        store: instance storage.
        source: workflow definitions and retry schedules.
        queues: the queues of ``t_queue``.
        clock: the wall clock (default: the system's).
        events: the event bus to publish on (default: a new one, see :attr:`events`).
    """

    def __init__(
        self,
        *,
        settings: EngineSettings,
        launcher: TaskLauncher,
        store: InstanceStore,
        source: WorkflowSource,
        queues: Iterable[QueueDefinition] = (),
        clock: Clock | None = None,
        events: EventBus | None = None,
        batch_rows: Callable[[], int | None] | None = None,
    ) -> None:
        self.settings = settings
        self.events = events or EventBus()
        self.pool = QueuePool(queues, settings.default_scheduler)
        self.retrier = Retrier()
        self.stats = EngineStatistics()
        self._launcher, self._store, self._source = launcher, store, source
        self._clock = clock or SystemClock()
        self._instances: dict[int, Instance] = {}
        # Launched and answered, started in the loop's next turn (launch(start_later=True)).
        self._starting: dict[int, datetime.datetime] = {}
        self._done: dict[int, asyncio.Future[bool]] = {}  # instances someone waits for
        self._shut_down = False
        self._recent: collections.OrderedDict[int, bool] = collections.OrderedDict()
        self._slots = TaskSlots(settings.tid_max)
        self._persistence = Persistence(store, settings, release=self._result_stored,
                                        batch_rows=batch_rows)
        self._batch_rows = batch_rows
        self._timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._end_listeners: list[Callable[[EndedInstance], None]] = []
        self._stopping = False

    # -- queries ------------------------------------------------------------------------------

    def instance(self, instance_id: int) -> Instance | None:
        """The running instance *instance_id*, or None."""
        self._start_launched()
        return self._instances.get(instance_id)

    def instances(self) -> list[Instance]:
        """The running instances, by id."""
        self._start_launched()
        return [self._instances[i] for i in sorted(self._instances)]

    def query(self, instance_id: int) -> str | None:
        """The live XML of a running instance, or None (the caller then reads the store)."""
        self.stats.workflow_status_queries += 1
        instance = self.instance(instance_id)
        return instance.to_xml() if instance is not None else None

    def status(self, limit: int = 0) -> tuple[int, list[etree._Element]]:
        """``status type=workflows``: (count, shallow ``<workflow>`` of each instance)."""
        shown = self.instances()
        if limit:  # only the shown ones are summarised: a poll of the count stays cheap
            shown = shown[:limit]
        return len(self._instances), [i.summary() for i in shown]

    def queue_statistics(self) -> list[QueueFigures]:
        """``statistics type=queue``."""
        return self.pool.statistics()

    def reload_queues(self, definitions: Iterable[QueueDefinition]) -> None:
        """Apply new queue definitions, then start what they allow."""
        self.pool.reload(definitions)
        self._dispatch()

    def add_end_listener(self, listener: Callable[[EndedInstance], None]) -> None:
        """Call *listener* when an instance ends (not at shutdown)."""
        self._end_listeners.append(listener)

    # -- launch, wait -------------------------------------------------------------------------

    async def launch(
        self,
        workflow: str | int,
        parameters: Parameters = (),
        *,
        host: str = "",
        user: str = "",
        comment: str = "",
        schedule_id: int | None = None,
        turn: LaunchTurn | None = None,
        start_later: bool = False,
    ) -> int:
        """Launch a workflow (by name or id); return the new instance id.

        With a ``turn``, the instance asks for its id (its row) only once the launches before
        it in that order did, and then lets the next one go: launches that run at the same
        time wait for the store together and still get their ids in order.

        With ``start_later``, the instance starts (its tasks are queued and handed to the
        forker) in the loop's next turn, so that a caller that answers at once answers first.
        Whatever asks the engine about its instances meanwhile starts it then.

        Raises:
            UnknownObjectName: unknown workflow or retry schedule.
            InvalidWorkflowParameters: the parameters do not match the workflow's.
            InvalidXml: the stored definition does not parse (or has a DOCTYPE).
            TooManyInstances: ``workflowinstance.max`` instances already run here.
        """
        self.stats.workflow_queries += 1
        limit = self.settings.max_instances
        if limit and len(self._instances) >= limit:
            self.stats.workflow_exceptions += 1
            raise TooManyInstances(f"Max workflow instances reached ({limit} running on this "
                                   "node, workflowinstance.max)")
        try:
            definition = await self._source.get_workflow(workflow)
            schedules: dict[str, str] = {}
            for name in sorted(Instance.required_schedules(definition.xml)):
                xml = await self._source.get_retry_schedule(name)
                if xml is None:
                    raise UnknownObjectName.by_name("RetrySchedule", name)
                schedules[name] = xml
            instance = Instance.create(
                definition.xml, name=definition.name, parameters=parameters,
                retry_schedules=schedules, workflow_id=definition.id, schedule_id=schedule_id,
                host=host, user=user, comment=comment, queues=self.pool,
                settings=self.settings.instance_settings(),
            )
        except ApiError:
            self.stats.workflow_exceptions += 1
            raise
        now = self._clock.now()
        if turn is None:
            instance.id = await self._persistence.request_id(instance, now)
        else:
            await turn.wait()
            pending_id = self._persistence.request_id(instance, now, alone=False)
            turn.taken()
            instance.id = await pending_id
        self.stats.workflow_instance_launched += 1
        self._register(instance)
        # Level ≥ 2: the row holds the unstarted instance, so an engine killed from now on
        # starts it again (a task that started meanwhile is found in the start journal and
        # attached, not started twice: _started_before).
        if start_later:
            if not self._starting:
                asyncio.get_running_loop().call_soon(self._start_launched_in_turn)
            self._starting[instance.id] = now
        else:
            self._apply(instance, instance.start(now))
        return instance.id

    def _start_launched_in_turn(self) -> None:
        """:meth:`_start_launched`, ``batch_rows()`` instances a loop turn while it gives a
        number (a client waits in turn for the reply of its launch: its read and reply come
        between starts, not after a burst's tens of them)."""
        limit = self._batch_rows() if self._batch_rows is not None else None
        self._start_launched(limit)
        if self._starting:
            asyncio.get_running_loop().call_soon(self._start_launched_in_turn)

    def _start_launched(self, limit: int | None = None) -> None:
        """Start the instances launched with ``start_later`` (in the order of their launch),
        at most *limit* of them."""
        while self._starting and (limit is None or (limit := limit - 1) >= 0):
            instance_id, now = next(iter(self._starting.items()))
            del self._starting[instance_id]
            instance = self._instances.get(instance_id)
            if instance is not None:
                self._step(instance, instance.start, now)

    async def wait(self, instance_id: int, timeout: float | None = None) -> bool:
        """Wait for an instance to end: True when it ended, False on timeout or shutdown.

        Raises:
            UnknownInstance: no such instance runs here (nor ended just now).
        """
        if instance_id in self._recent:
            return True
        if instance_id not in self._instances:
            raise UnknownInstance("Unknown instance ID")
        if self._shut_down:
            return False
        # Made when someone waits: most instances are never waited for.
        done = self._done.get(instance_id)
        if done is None:
            done = self._done[instance_id] = asyncio.get_running_loop().create_future()
        self.stats.waiting_threads += 1
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout or None)
        except TimeoutError:
            return False
        finally:
            self.stats.waiting_threads -= 1

    # -- control ------------------------------------------------------------------------------

    def cancel(self, instance_id: int) -> None:
        """``instance cancel``: no new task; retries and queued tasks end ABORTED."""
        self.stats.workflow_cancel_queries += 1
        instance = self._running(instance_id)
        self._apply(instance, instance.cancel(self._clock.now()))

    def kill(self, instance_id: int) -> None:
        """Cancel the instance and kill its running tasks."""
        self.stats.workflow_cancel_queries += 1
        instance = self._running(instance_id)
        self._apply(instance, instance.kill(self._clock.now()))

    def killtask(self, instance_id: int, pid: int) -> None:
        """``instance killtask``: kill the running task whose monitor is *pid* (if any)."""
        instance = self._running(instance_id)
        self._apply(instance, instance.killtask(pid))

    def flush_retries(self) -> int:
        """Run every pending retry now (SIGUSR1, ``control retry``); return how many."""
        return self._run_retries(self.retrier.flush())

    def retry_due(self) -> int:
        """Run the retries due at the clock's current time; return how many."""
        return self._run_retries(self.retrier.due(self._clock.now()))

    async def debug_resume(self, instance_id: int) -> int:
        """``instance debugresume``: run a TERMINATED instance's failed tasks in a new one.

        Raises:
            ApiError: the instance is unknown or not terminated (no code, as in evQueue).
        """
        stored = await self._store.load_instance(instance_id)
        if stored is None or stored.status != Status.TERMINATED or not stored.savepoint:
            raise ApiError("Unable to find instance to resume, or instance is not terminated")
        new_id = await self._persistence.debug_copy(stored)
        instance = self._load(stored, new_id, schedule_id=None)
        self._register(instance)
        self._apply(instance, instance.debug_resume(self._clock.now()))
        return new_id

    async def migrate(self, instance_id: int) -> None:
        """``instance migrate``: adopt an EXECUTING instance of another node.

        Raises:
            ApiError: unknown, not executing, or already ours (no code, as in evQueue).
        """
        stored = await self._store.load_instance(instance_id)
        if (stored is None or stored.status != Status.EXECUTING
                or stored.node_name == self.settings.node_name or not stored.savepoint):
            raise ApiError("Workflow ID not found or already belongs to this node")
        instance = self._load(stored, instance_id, schedule_id=stored.schedule_id)
        await self._store.set_node(instance_id, self.settings.node_name)
        self._register(instance)
        self._apply(instance, instance.migrate(self._clock.now()))

    # -- start-up and shutdown ----------------------------------------------------------------

    async def resume(self, busy_tids: Iterable[int] = ()) -> list[int]:
        """Take over this node's EXECUTING instances after a restart (§2.6); return their ids.

        Args:
            busy_tids: tids task processes of the previous run may still use (their output
                files exist); new tasks get tids after them.
        """
        self._slots.skip_past(busy_tids)
        now = self._clock.now()
        resumed: list[int] = []
        for stored in await self._store.load_executing(self.settings.node_name):
            if not stored.savepoint:
                await self._store.mark_terminated(stored.instance_id)
                continue
            try:
                instance = self._load(stored, stored.instance_id, schedule_id=stored.schedule_id)
            except Exception:
                logger.exception("instance %d: cannot resume", stored.instance_id)
                continue
            self._register(instance)
            resumed.append(instance.id)
            if instance.started:
                actions = instance.resume(now, self._launcher.started_monitor)
            else:  # launched, then the engine died before anything else was stored
                actions = instance.start(now)
            self._apply(instance, actions, dispatch=False)
        if self.settings.savepoint_level <= 1:
            await self._persistence.prime(self._instances)
            await self._store.delete_executing()  # rows of levels 0/1 exist only while stopped
        self._dispatch()
        return resumed

    async def idle(self) -> None:
        """Wait until no start, finalisation or savepoint write is in progress."""
        while self._background:
            await asyncio.wait(set(self._background))
        await self._persistence.flush()

    def hold(self) -> None:
        """Start no task and run no retry from now on (the process layer is about to stop).

        Exits still reported are recorded; what they unblock stays queued in the savepoints.
        """
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def stop(self) -> None:
        """Shut down: start nothing more, save every running instance, release waiters.

        Call it once the process layer has stopped reporting exits: tasks still running then
        are found again by :meth:`resume` at the next start.
        """
        self.hold()
        if self._background:
            await asyncio.wait(self._background, timeout=10)
        await self._persistence.shutdown(self.instances())
        self._shut_down = True
        for done in self._done.values():
            if not done.done():
                done.set_result(False)

    # -- task processes -----------------------------------------------------------------------

    def report_exit(
        self, tid: int, retcode: int, stdout: str, stderr: str | None, log: str | None
    ) -> None:
        """:meth:`task_exited` from a synchronous callback; :meth:`stop` waits for it."""
        self._background_task(self.task_exited(tid, retcode, stdout, stderr, log))

    def attached_tasks(self) -> list[tuple[int, int]]:
        """(tid, monitor pid) of the running tasks re-attached by :meth:`resume` and not
        ended since."""
        return [(tid, slot.pid) for tid, slot in self._slots.items() if slot.resumed]

    def known_tids(self) -> set[int]:
        """The tids of running tasks and of ended ones whose result is not stored yet (the
        process layer keeps their files)."""
        return self._slots.known()

    def is_attached(self, tid: int) -> bool:
        """True while *tid* is a re-attached task that has not ended."""
        slot = self._slots.get(tid)
        return slot is not None and slot.resumed

    async def task_exited(
        self, tid: int, retcode: int, stdout: str, stderr: str | None, log: str | None
    ) -> None:
        """A task process ended (from the process layer's exit message)."""
        slot = self._slots.get(tid)
        if slot is None:
            logger.warning("exit of unknown task id %d ignored", tid)
            if tid not in self._slots.known():
                self._launcher.release(tid)
            return
        if slot.pid == 0:  # the start is still being processed
            slot.early_exit = (retcode, stdout, stderr, log)
            return
        self._slots.release(tid)
        self._slots.hold(tid)  # its files stay until the result is stored
        self.pool.task_finished(slot.queue)
        self.events.emit(EventType.QUEUE_TERMINATE, 0)
        instance = self._instances.get(slot.instance_id)
        if instance is not None:
            result = await self._persistence.task_result(instance, slot.evqid, _signed(retcode),
                                                         stdout, stderr, log)
        if instance is None or slot.instance_id not in self._instances:
            self._result_stored(tid)  # no instance to store it in
            return
        # No await between hold and the step: the next write of the instance holds the result.
        self._persistence.hold(instance, tid)
        self._step(instance, instance.task_ended, slot.evqid, result, self._clock.now())

    def _result_stored(self, tid: int) -> None:
        self._slots.unhold(tid)
        self._launcher.release(tid)

    def task_progress(self, tid: int, percent: int) -> None:
        """A running task reported progress (``%NN`` on its log channel)."""
        slot = self._slots.get(tid)
        instance = self._instances.get(slot.instance_id) if slot else None
        if slot is None or instance is None:
            return
        if slot.pid == 0:
            # The task reported before the forker's reply was read (a task may write its
            # progress at once, and the two arrive by different ways): kept for its start.
            slot.early_progress = percent
            return
        self._step(instance, instance.task_progress, slot.evqid, percent, save=False)

    def _dispatch(self) -> None:
        """Start queued tasks while their queues allow it."""
        while not self._stopping and (item := self.pool.next_runnable()) is not None:
            queue, queued = item
            self.events.emit(EventType.QUEUE_DEQUEUE, 0)
            tid = self._slots.allocate(Slot(queued.instance_id, queued.evqid, queue))
            self.events.emit(EventType.QUEUE_EXECUTE, 0)
            self._background_task(self._spawn(tid, queued))

    async def _spawn(self, tid: int, queued: QueuedTask) -> None:
        instance = self._instances.get(queued.instance_id)
        if instance is None or self._stopping:
            # Not started: it stays QUEUED in the shutdown savepoint.
            slot = self._slots.release(tid)
            if slot is not None:
                self.pool.task_finished(slot.queue)
            return
        # At levels 2 and 3 the start is recorded before the process starts, by the process
        # layer (a line of its start journal, not a savepoint): a restarted engine then asks
        # whether it started instead of starting it a second time (_started_before).
        record = self._persistence.level >= 2
        if record:
            instance.task_starting(queued.evqid, tid)
        try:
            pid = await self._launcher.spawn(tid, queued.payload, record)
        except Exception as exc:
            message = str(exc) if isinstance(exc, LaunchError) else f"{type(exc).__name__}: {exc}"
            self._start_failed(tid, message or "Unable to execute task")
            return
        slot = self._slots.get(tid)
        instance = self._instances.get(queued.instance_id)
        if slot is None or instance is None:
            return
        # pid 0: no monitor was forked (fork failure, forker gone) and the exit saying so is
        # already waiting in early_exit; the slot must not look "still starting" any more.
        slot.pid = pid or -1
        self._step(instance, instance.task_running, queued.evqid, tid, pid, self._clock.now())
        if slot.early_progress is not None and slot.early_exit is None:
            self.task_progress(tid, slot.early_progress)
        if slot.early_exit is not None:
            await self.task_exited(tid, *slot.early_exit)

    def _start_failed(self, tid: int, message: str) -> None:
        slot = self._slots.release(tid)
        if slot is None:
            return
        self.pool.task_finished(slot.queue)
        instance = self._instances.get(slot.instance_id)
        if instance is not None:
            self._step(instance, instance.task_failed_to_start, slot.evqid, message,
                       self._clock.now())

    # -- actions ------------------------------------------------------------------------------

    def _apply(
        self, instance: Instance, actions: list[Action], *, save: bool = True,
        dispatch: bool = True,
    ) -> None:
        """Perform an instance's actions in order (a cancel's ``CancelQueued`` produces
        more), save it if the level asks for it, then start what the queues allow."""
        pending = collections.deque(actions)
        while pending:
            pending.extend(self._perform(pending.popleft()))
        if save and instance.status == Status.EXECUTING and instance.id in self._instances:
            self._persistence.changed(instance)
        if dispatch:
            self._dispatch()

    def _step(
        self, instance: Instance, method: Callable[..., list[Action]], *args: object,
        save: bool = True,
    ) -> None:
        """Feed a process-layer report or a timer to an instance. A failure there is a bug;
        it is logged and leaves the other instances running."""
        try:
            actions = method(*args)
        except Exception:
            logger.exception("instance %d: %s failed", instance.id, method.__name__)
            return
        self._apply(instance, actions, save=save)

    def _started_before(self, instance_id: int, evqid: str) -> tuple[int, int] | None:
        """(tid, monitor pid) if the previous run started this task: it recorded the start
        (``spawn``'s *record*) and a monitor started under that tid. The savepoint may not
        say so: nothing is stored as a task starts, and its instance may even be stored as
        launched, or the task not created yet (a sub-job's, started by an exit the previous
        run had received)."""
        for tid in self._launcher.recorded_tids(instance_id, evqid):
            if (pid := self._launcher.started_monitor(tid)) is not None:
                return tid, pid
        return None

    def _adopt(self, instance_id: int, evqid: str, queue: str, tid: int,
               pid: int) -> list[Action]:
        """Take a task about to be queued as running under *tid*, started by the previous
        run (its exit comes as a resumed task's)."""
        if queue:
            self.pool.attach(queue)
        self._slots.attach(tid, Slot(instance_id, evqid, queue, pid, resumed=True))
        instance = self._instances[instance_id]
        return instance.task_running(evqid, tid, pid, self._clock.now())

    def _perform(self, action: Action) -> list[Action]:
        match action:
            case EnqueueTask(instance_id=iid, evqid=evqid, queue=queue, command=command):
                if (started := self._started_before(iid, evqid)) is not None:
                    return self._adopt(iid, evqid, queue, *started)
                self.pool.enqueue(queue, QueuedTask(iid, evqid, command))
                self.events.emit(EventType.QUEUE_ENQUEUE, 0)
            case AttachTask(instance_id=iid, evqid=evqid, queue=queue, tid=tid, pid=pid):
                if queue:
                    self.pool.attach(queue)
                # pid 0 would mean "still starting"; a resumed task has started long ago.
                self._slots.attach(tid, Slot(iid, evqid, queue, pid or -1, resumed=True))
            case ArmRetry(instance_id=iid, evqid=evqid, at=at):
                self.retrier.add(at, iid, evqid)
                self._arm_timer()
            case CancelRetries(instance_id=iid):
                self.retrier.cancel_instance(iid)
                self._arm_timer()
            case CancelQueued(instance_id=iid):
                now, instance = self._clock.now(), self._instances[iid]
                return [a for t in self.pool.cancel_instance(iid)
                        for a in instance.task_cancelled(t.evqid, now)]
            case KillTask(tid=tid, pid=pid):
                self._launcher.kill(tid, pid)
            case InstanceEnded(instance_id=iid):
                self._ended(self._instances[iid])
            case Emit(event=event, object_id=object_id):
                self.events.emit(event, object_id)
        return []

    def _ended(self, instance: Instance) -> None:
        self._background_task(self._finish(instance, self._persistence.ended(instance)))

    async def _finish(self, instance: Instance, written: asyncio.Future[bool]) -> None:
        await written
        ended = EndedInstance(instance.id, instance.workflow_id, instance.schedule_id,
                              instance.errors, instance.to_xml())
        for listener in list(self._end_listeners):
            try:
                listener(ended)
            except Exception:
                logger.exception("end listener failed for instance %d", instance.id)
        del self._instances[instance.id]
        self._recent[instance.id] = True
        while len(self._recent) > _RECENTLY_ENDED:
            self._recent.popitem(last=False)
        done = self._done.pop(instance.id, None)
        if done is not None and not done.done():
            done.set_result(True)
        self.stats.workflow_instance_executing -= 1
        if instance.errors:
            self.stats.workflow_instance_errors += 1
        self.events.emit(EventType.INSTANCE_TERMINATED, instance.id)

    # -- retries ------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.retrier.next_due()
        if at is None or self._stopping:
            return
        delay = max(0.0, (at - self._clock.now()).total_seconds())
        self._timer = asyncio.get_running_loop().call_later(delay, self.retry_due)

    def _run_retries(self, retries: list[PendingRetry]) -> int:
        now = self._clock.now()
        for retry in retries:
            instance = self._instances.get(retry.instance_id)
            if instance is not None:
                self._step(instance, instance.retry_now, retry.evqid, now)
        self._arm_timer()
        return len(retries)

    # -- helpers ------------------------------------------------------------------------------

    def _running(self, instance_id: int) -> Instance:
        instance = self.instance(instance_id)
        if instance is None or instance.status != Status.EXECUTING:
            raise UnknownInstance("Unknown workflow instance")
        return instance

    def _register(self, instance: Instance) -> None:
        self._instances[instance.id] = instance
        self.stats.workflow_instance_executing += 1

    def _load(self, stored: StoredInstance, instance_id: int, *, schedule_id: int | None
              ) -> Instance:
        return Instance.from_savepoint(
            stored.savepoint, instance_id=instance_id, workflow_id=stored.workflow_id,
            schedule_id=schedule_id, queues=self.pool,
            settings=self.settings.instance_settings())

    def _background_task(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _signed(retcode: int) -> int:
    """The exit status as evQueue reports it: a signed char (255 → -1)."""
    return ((retcode + 128) % 256) - 128


