"""Every event a node publishes, received on a real ``events`` websocket (protocol.md §6.1).

For each case of :data:`CASES`: a client logs in on the node's websocket port with the
``events`` subprotocol, subscribes to one event type (``<ping/>`` as the command to run), the
change is made through the XML API on the unix socket, and the push that comes back carries the
object id evQueue gives that event (``object-id`` absent for 0). Pushes are acknowledged, as
throttling wants. A last test fails when an event type of evQueue's table has no case here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from lxml import etree

from evqueue.engine.events import EventType
from evqueue.plugins import plugin_zip
from evqueue.protocol import ApiError, compute_response, password_key
from tests.e2e.enginekit import EngineNode, one_job, started
from tests.e2e.nodes import free_port

E = EventType

#: The elogs module's events: this build has no elogs module (see test_elogs_is_not_served).
ELOGS_EVENTS = frozenset({
    E.CHANNEL_CREATED, E.CHANNEL_MODIFIED, E.CHANNEL_REMOVED, E.CHANNELGROUP_CREATED,
    E.CHANNELGROUP_MODIFIED, E.CHANNELGROUP_REMOVED, E.ALERT_CREATED, E.ALERT_MODIFIED,
    E.ALERT_REMOVED, E.ALERT_TRIGGER, E.LOG_ELOG,
})

#: Seconds a push may take: instance events wait for a short task.
PUSH_TIMEOUT = 20.0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- the node and what the cases build on it -------------------------------------------------


@dataclass
class Lab:
    """The node under test, and helpers that build what a change needs, under unique names."""

    node: EngineNode
    names: Iterator[int] = field(default_factory=itertools.count)
    #: run after the case (a schedule that would fire on through the next cases)
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self.names)}"

    def exec(self, xml: str) -> etree._Element:
        return self.node.exec(xml)

    def workflow(self, body: str | None = None) -> tuple[int, str]:
        """A new workflow (one task, /bin/true unless told); returns (id, name)."""
        name = self.name("wf")
        xml = body or one_job("<task path='/bin/true' queue='default'/>")
        root = self.exec(f"<workflow action='create' name='{name}' content='{b64(xml)}'/>")
        return int(root.get("workflow-id")), name

    def launch(self, name: str) -> int:
        return self.node.start_instance(name)

    def ended_instance(self) -> int:
        _, name = self.workflow()
        instance_id = self.launch(name)
        self.node.wait(instance_id)
        return instance_id

    def tag(self) -> int:
        return int(self.exec(f"<tag action='create' label='{self.name('tag')}'/>").get("tag-id"))

    def notification_type(self, plugin: str) -> int | None:
        """The id of the registered type named ``plugin`` (None when not registered)."""
        for node in self.exec("<notification_types action='list'/>"):
            if node.get("name") == plugin:
                return int(node.get("id"))
        return None

    def register(self, plugin: str) -> int:
        found = self.notification_type(plugin)
        if found is not None:
            return found
        zip_data = base64.b64encode(plugin_zip(plugin)).decode()
        root = self.exec(f"<notification_type action='register' zip='{zip_data}'/>")
        return int(root.get("notification-type-id"))

    def unregister(self, plugin: str) -> None:
        found = self.notification_type(plugin)
        if found is not None:
            self.exec(f"<notification_type action='unregister' id='{found}'/>")

    def notification(self, url: str = "http://127.0.0.1:9/") -> int:
        """A webhook notification no workflow is subscribed to."""
        type_id = self.register("webhook")
        parameters = b64(json.dumps({"url": url}))
        root = self.exec(f"<notification action='create' type_id='{type_id}' "
                         f"name='{self.name('n')}' subscribe_all='no' "
                         f"parameters='{parameters}'/>")
        return int(root.get("notification-id"))

    def schedule(self, workflow_id: int, *, every_second: bool = False) -> int:
        schedule = ",".join(map(str, range(60))) + ";;;;;" if every_second else "0;0;0;1;1;"
        root = self.exec(f"<workflow_schedule action='create' workflow_id='{workflow_id}' "
                         f"node='{self.node.name}' schedule='{schedule}' onfailure='CONTINUE' "
                         f"active='no'/>")
        schedule_id = int(root.get("schedule-id"))
        self.cleanups.append(lambda: self.forget_schedule(schedule_id))
        return schedule_id

    def forget_schedule(self, schedule_id: int) -> None:
        """Delete a schedule, if a case has not done it."""
        with contextlib.suppress(ApiError):
            self.exec(f"<workflow_schedule action='delete' id='{schedule_id}'/>")

    def user(self) -> int:
        root = self.exec(f"<user action='create' name='{self.name('u')}' password='pw' "
                         "profile='USER'/>")
        return int(root.get("user-id"))

    def variable(self) -> tuple[str, str]:
        path, name = "lab", self.name("v")
        self.exec(f"<storage action='set' path='{path}' name='{name}' type='INT' "
                  "structure='NONE' value='1'/>")
        return path, name

    def variable_id(self, path: str, name: str) -> int:
        return int(self.exec(f"<storage action='get' path='{path}' name='{name}'/>").get("id"))

    def launcher(self, workflow_id: int | None = None) -> int:
        if workflow_id is None:
            workflow_id, _ = self.workflow()
        root = self.exec(f"<launcher action='create' name='{self.name('l')}' user='' host='' "
                         f"parameters='{{}}' workflow_id='{workflow_id}'/>")
        return int(root.get("launcher-id"))

    def display(self) -> int:
        root = self.exec(f"<display action='create' name='{self.name('d')}' path='lab' "
                         "order='ASC' item_title='{name}' item_content='{value}'/>")
        return int(root.get("display-id"))

    def queue(self) -> tuple[int, str]:
        name = self.name("q")
        root = self.exec(f"<queue action='create' name='{name}' concurrency='1' "
                         "scheduler='fifo' dynamic='no'/>")
        return int(root.get("queue-id")), name

    def retry_schedule(self) -> tuple[int, str]:
        name = self.name("r")
        root = self.exec(f"<retry_schedule action='create' name='{name}' "
                         f"content='{b64(RETRY)}'/>")
        return int(root.get("retry-schedule-id")), name


RETRY = '<schedule><level retry_delay="1" retry_times="1"/></schedule>'

#: What a case does: set up (before the subscription), then return the change to make, which
#: returns the object id its event must carry.
Prepare = Callable[[Lab], Callable[[], int]]


@dataclass(frozen=True)
class Case:
    event: EventType
    what: str
    prepare: Prepare

    @property
    def id(self) -> str:
        return f"{self.event.value}-{self.what}"


def _zero(action: Callable[[], object]) -> int:
    action()
    return 0


# -- the changes, one per way an event is published ------------------------------------------


def _launch(lab: Lab) -> Callable[[], int]:
    _, name = lab.workflow()
    return lambda: lab.launch(name)


def _launch_of_no_object(lab: Lab) -> Callable[[], int]:
    launch = _launch(lab)
    return lambda: _zero(launch)


def _progress(lab: Lab) -> Callable[[], int]:
    script = lab.node.task(lab.name("progress"), "echo %50 >&3")
    _, name = lab.workflow(one_job(f"<task path='{script}' queue='default'/>"))
    return lambda: lab.launch(name)


def _tagged(lab: Lab) -> Callable[[], int]:
    instance_id, tag_id = lab.ended_instance(), lab.tag()

    def change() -> int:
        lab.exec(f"<instance action='tag' id='{instance_id}' tag_id='{tag_id}'/>")
        return instance_id

    return change


def _untagged(lab: Lab) -> Callable[[], int]:
    instance_id, tag_id = lab.ended_instance(), lab.tag()
    lab.exec(f"<instance action='tag' id='{instance_id}' tag_id='{tag_id}'/>")

    def change() -> int:
        lab.exec(f"<instance action='untag' id='{instance_id}' tag_id='{tag_id}'/>")
        return instance_id

    return change


def _instance_removed(lab: Lab) -> Callable[[], int]:
    instance_id = lab.ended_instance()

    def change() -> int:
        lab.exec(f"<instance action='delete' id='{instance_id}'/>")
        return instance_id

    return change


def _queue_created(lab: Lab) -> Callable[[], int]:
    return lambda: _zero(lab.queue)


def _queue_modified(lab: Lab) -> Callable[[], int]:
    queue_id, name = lab.queue()
    return lambda: _zero(lambda: lab.exec(
        f"<queue action='edit' id='{queue_id}' name='{name}' concurrency='2' scheduler='prio' "
        "dynamic='no'/>"))


def _queue_removed(lab: Lab) -> Callable[[], int]:
    queue_id, _ = lab.queue()
    return lambda: _zero(lambda: lab.exec(f"<queue action='delete' id='{queue_id}'/>"))


def _workflow_created(lab: Lab) -> Callable[[], int]:
    return lambda: lab.workflow()[0]


def _workflow_modified(lab: Lab) -> Callable[[], int]:
    workflow_id, name = lab.workflow()
    xml = b64(one_job("<task path='/bin/false' queue='default'/>"))

    def change() -> int:
        lab.exec(f"<workflow action='edit' id='{workflow_id}' name='{name}' content='{xml}'/>")
        return workflow_id

    return change


def _workflow_removed_by_name(lab: Lab) -> Callable[[], int]:
    workflow_id, name = lab.workflow()

    def change() -> int:
        lab.exec(f"<workflow action='delete' name='{name}'/>")
        return workflow_id

    return change


def _workflow_subscribed(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    notification_id = lab.notification()

    def change() -> int:
        lab.exec(f"<workflow action='subscribe_notification' id='{workflow_id}' "
                 f"notification_id='{notification_id}'/>")
        return workflow_id

    return change


def _workflow_unsubscribed(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    notification_id = lab.notification()
    lab.exec(f"<workflow action='subscribe_notification' id='{workflow_id}' "
             f"notification_id='{notification_id}'/>")

    def change() -> int:
        lab.exec(f"<workflow action='unsubscribe_notification' id='{workflow_id}' "
                 f"notification_id='{notification_id}'/>")
        return workflow_id

    return change


def _notifications_cleared(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()

    def change() -> int:
        lab.exec(f"<workflow action='clear_notifications' id='{workflow_id}'/>")
        return workflow_id

    return change


def _type_unregistered(lab: Lab) -> Callable[[], int]:
    lab.register("email")
    return lambda: _zero(lambda: lab.unregister("email"))


def _type_registered(lab: Lab) -> Callable[[], int]:
    lab.unregister("email")
    return lambda: _zero(lambda: lab.register("email"))


def _schedule_created(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    return lambda: lab.schedule(workflow_id)


def _schedule_edited(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    schedule_id = lab.schedule(workflow_id)

    def change() -> int:
        lab.exec(f"<workflow_schedule action='edit' id='{schedule_id}' "
                 f"workflow_id='{workflow_id}' node='any' schedule='0;0;0;2;1;' "
                 "onfailure='SUSPEND' active='no'/>")
        return schedule_id

    return change


def _schedule_action(action: str, *, every_second: bool = False) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        workflow_id, _ = lab.workflow()
        schedule_id = lab.schedule(workflow_id, every_second=every_second)
        if action == "lock":
            lab.exec(f"<workflow_schedule action='unlock' id='{schedule_id}'/>")

        def change() -> int:
            lab.exec(f"<workflow_schedule action='{action}' id='{schedule_id}'/>")
            return schedule_id

        return change

    return prepare


def _retry_schedule_created(lab: Lab) -> Callable[[], int]:
    return lambda: _zero(lab.retry_schedule)


def _retry_schedule_modified(lab: Lab) -> Callable[[], int]:
    schedule_id, name = lab.retry_schedule()
    return lambda: _zero(lambda: lab.exec(
        f"<retry_schedule action='edit' id='{schedule_id}' name='{name}' "
        f"content='{b64(RETRY)}'/>"))


def _retry_schedule_removed(lab: Lab) -> Callable[[], int]:
    schedule_id, _ = lab.retry_schedule()
    return lambda: _zero(lambda: lab.exec(
        f"<retry_schedule action='delete' id='{schedule_id}'/>"))


def _user_created(lab: Lab) -> Callable[[], int]:
    return lab.user


def _user_command(command: str) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        user_id = lab.user()
        workflow_id, _ = lab.workflow()
        if command == "revoke":
            lab.exec(f"<user action='grant' id='{user_id}' workflow_id='{workflow_id}' "
                     "edit='no' read='yes' exec='no' kill='no'/>")
        xml = {
            "edit": f"<user action='edit' id='{user_id}' name='{lab.name('u')}' password='' "
                    "profile='ADMIN'/>",
            "change_password": f"<user action='change_password' id='{user_id}' password='x'/>",
            "update_preferences": f"<user action='update_preferences' id='{user_id}' "
                                  "preferences='{}'/>",
            "clear_rights": f"<user action='clear_rights' id='{user_id}'/>",
            "grant": f"<user action='grant' id='{user_id}' workflow_id='{workflow_id}' "
                     "edit='no' read='yes' exec='yes' kill='no'/>",
            "revoke": f"<user action='revoke' id='{user_id}' workflow_id='{workflow_id}'/>",
            "delete": f"<user action='delete' id='{user_id}'/>",
        }[command]

        def change() -> int:
            lab.exec(xml)
            return user_id

        return change

    return prepare


def _launcher_grant(action: str) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        user_id, launcher_id = lab.user(), lab.launcher()
        if action == "revoke":
            lab.exec(f"<launcher action='grant' user_id='{user_id}' "
                     f"launcher_id='{launcher_id}'/>")

        def change() -> int:
            lab.exec(f"<launcher action='{action}' user_id='{user_id}' "
                     f"launcher_id='{launcher_id}'/>")
            return user_id

        return change

    return prepare


def _tag_created(lab: Lab) -> Callable[[], int]:
    return lambda: _zero(lab.tag)


def _tag_created_by_an_automatic_tag(lab: Lab) -> Callable[[], int]:
    label = lab.name("auto")
    xml = ("<workflow><automatic-tags>"
           f"<automatic-tag name='{label}' condition='true()'/></automatic-tags>"
           "<subjobs><job name='j'><tasks><task path='/bin/true' queue='default'/></tasks>"
           "</job></subjobs></workflow>")
    _, name = lab.workflow(xml)
    return lambda: _zero(lambda: lab.node.run_workflow(name))


def _tag_modified(lab: Lab) -> Callable[[], int]:
    tag_id = lab.tag()
    return lambda: _zero(lambda: lab.exec(
        f"<tag action='edit' id='{tag_id}' label='{lab.name('renamed')}'/>"))


def _tag_removed(lab: Lab) -> Callable[[], int]:
    tag_id = lab.tag()
    return lambda: _zero(lambda: lab.exec(f"<tag action='delete' id='{tag_id}'/>"))


def _notification_created(lab: Lab) -> Callable[[], int]:
    lab.register("webhook")
    return lambda: _zero(lab.notification)


def _notification_modified(lab: Lab) -> Callable[[], int]:
    notification_id = lab.notification()
    type_id = lab.register("webhook")
    parameters = b64(json.dumps({"url": "http://127.0.0.1:9/other"}))
    return lambda: _zero(lambda: lab.exec(
        f"<notification action='edit' id='{notification_id}' type_id='{type_id}' "
        f"name='{lab.name('n')}' parameters='{parameters}'/>"))


def _notification_removed(lab: Lab) -> Callable[[], int]:
    notification_id = lab.notification()
    return lambda: _zero(lambda: lab.exec(
        f"<notification action='delete' id='{notification_id}'/>"))


def _failing_notification(lab: Lab) -> Callable[[], int]:
    """An instance whose notification fails: t_log_notifications and a warning in t_log."""
    workflow_id, name = lab.workflow()
    notification_id = lab.notification(f"http://127.0.0.1:{free_port()}/refused")
    lab.exec(f"<workflow action='subscribe_notification' id='{workflow_id}' "
             f"notification_id='{notification_id}'/>")
    return lambda: _zero(lambda: lab.launch(name))


def _git(action: str) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        _, name = lab.workflow()
        if action in ("load_workflow", "remove_workflow"):
            lab.exec(f"<git action='save_workflow' name='{name}' commit_log='first'/>")
        xml = {
            "pull": "<git action='pull'/>",
            "save_workflow": f"<git action='save_workflow' name='{name}' commit_log='save'/>",
            "load_workflow": f"<git action='load_workflow' name='{name}'/>",
            "remove_workflow": f"<git action='remove_workflow' name='{name}' "
                               "commit_log='gone'/>",
        }[action]
        return lambda: _zero(lambda: lab.exec(xml))

    return prepare


def _variable_set(lab: Lab) -> Callable[[], int]:
    def change() -> int:
        path, name = lab.variable()
        return lab.variable_id(path, name)

    return change


def _variable_command(action: str) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        path, name = lab.variable()
        variable_id = lab.variable_id(path, name)

        def change() -> int:
            lab.exec(f"<storage action='{action}' path='{path}' name='{name}'/>")
            return variable_id

        return change

    return prepare


def _launcher_created(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    return lambda: lab.launcher(workflow_id)


def _launcher_edited(lab: Lab) -> Callable[[], int]:
    workflow_id, _ = lab.workflow()
    launcher_id = lab.launcher(workflow_id)

    def change() -> int:
        lab.exec(f"<launcher action='edit' id='{launcher_id}' name='{lab.name('l')}' user='' "
                 f"host='' parameters='{{}}' workflow_id='{workflow_id}'/>")
        return launcher_id

    return change


def _display_edited(lab: Lab) -> Callable[[], int]:
    display_id = lab.display()

    def change() -> int:
        lab.exec(f"<display action='edit' id='{display_id}' name='{lab.name('d')}' path='lab' "
                 "order='DESC' item_title='t' item_content='c'/>")
        return display_id

    return change


def _deleted(group: str, make: Callable[[Lab], int]) -> Prepare:
    def prepare(lab: Lab) -> Callable[[], int]:
        object_id = make(lab)

        def change() -> int:
            lab.exec(f"<{group} action='delete' id='{object_id}'/>")
            return object_id

        return change

    return prepare


def _api_logged(lab: Lab) -> Callable[[], int]:
    return lambda: _zero(lab.tag)


CASES: tuple[Case, ...] = (
    Case(E.INSTANCE_STARTED, "launch", _launch),
    Case(E.INSTANCE_TERMINATED, "launch", _launch),
    Case(E.INSTANCE_TAGGED, "tag", _tagged),
    Case(E.INSTANCE_UNTAGGED, "untag", _untagged),
    Case(E.INSTANCE_REMOVED, "delete", _instance_removed),
    Case(E.TASK_ENQUEUE, "launch", _launch),
    Case(E.TASK_EXECUTE, "launch", _launch),
    Case(E.TASK_TERMINATE, "launch", _launch),
    Case(E.TASK_PROGRESS, "percent", _progress),
    Case(E.QUEUE_ENQUEUE, "launch", _launch_of_no_object),
    Case(E.QUEUE_DEQUEUE, "launch", _launch_of_no_object),
    Case(E.QUEUE_EXECUTE, "launch", _launch_of_no_object),
    Case(E.QUEUE_TERMINATE, "launch", _launch_of_no_object),
    Case(E.QUEUE_CREATED, "create", _queue_created),
    Case(E.QUEUE_MODIFIED, "edit", _queue_modified),
    Case(E.QUEUE_REMOVED, "delete", _queue_removed),
    Case(E.WORKFLOW_CREATED, "create", _workflow_created),
    Case(E.WORKFLOW_MODIFIED, "edit", _workflow_modified),
    Case(E.WORKFLOW_MODIFIED, "notification_type-unregister", _type_unregistered),
    Case(E.WORKFLOW_REMOVED, "delete-by-name", _workflow_removed_by_name),
    Case(E.WORKFLOW_SUBSCRIBED, "create", _workflow_created),
    Case(E.WORKFLOW_SUBSCRIBED, "subscribe_notification", _workflow_subscribed),
    Case(E.WORKFLOW_UNSUBSCRIBED, "unsubscribe_notification", _workflow_unsubscribed),
    Case(E.WORKFLOW_UNSUBSCRIBED, "clear_notifications", _notifications_cleared),
    Case(E.WORKFLOWSCHEDULE_CREATED, "create", _schedule_created),
    Case(E.WORKFLOWSCHEDULE_MODIFIED, "edit", _schedule_edited),
    Case(E.WORKFLOWSCHEDULE_MODIFIED, "lock", _schedule_action("lock")),
    Case(E.WORKFLOWSCHEDULE_MODIFIED, "unlock", _schedule_action("unlock")),
    Case(E.WORKFLOWSCHEDULE_REMOVED, "delete", _schedule_action("delete")),
    Case(E.WORKFLOWSCHEDULE_STARTED, "fire", _schedule_action("unlock", every_second=True)),
    Case(E.WORKFLOWSCHEDULE_STOPPED, "fire", _schedule_action("unlock", every_second=True)),
    Case(E.RETRYSCHEDULE_CREATED, "create", _retry_schedule_created),
    Case(E.RETRYSCHEDULE_MODIFIED, "edit", _retry_schedule_modified),
    Case(E.RETRYSCHEDULE_REMOVED, "delete", _retry_schedule_removed),
    Case(E.USER_CREATED, "create", _user_created),
    *(Case(E.USER_MODIFIED, command, _user_command(command))
      for command in ("edit", "change_password", "update_preferences", "clear_rights", "grant",
                      "revoke")),
    Case(E.USER_MODIFIED, "launcher-grant", _launcher_grant("grant")),
    Case(E.USER_MODIFIED, "launcher-revoke", _launcher_grant("revoke")),
    Case(E.USER_REMOVED, "delete", _user_command("delete")),
    Case(E.TAG_CREATED, "create", _tag_created),
    Case(E.TAG_CREATED, "automatic-tag", _tag_created_by_an_automatic_tag),
    Case(E.TAG_MODIFIED, "edit", _tag_modified),
    Case(E.TAG_REMOVED, "delete", _tag_removed),
    Case(E.NOTIFICATION_CREATED, "create", _notification_created),
    Case(E.NOTIFICATION_MODIFIED, "edit", _notification_modified),
    Case(E.NOTIFICATION_REMOVED, "delete", _notification_removed),
    Case(E.NOTIFICATION_TYPE_CREATED, "register", _type_registered),
    Case(E.NOTIFICATION_TYPE_REMOVED, "unregister", _type_unregistered),
    Case(E.GIT_PULLED, "pull", _git("pull")),
    Case(E.GIT_SAVED, "save_workflow", _git("save_workflow")),
    Case(E.GIT_LOADED, "load_workflow", _git("load_workflow")),
    Case(E.GIT_REMOVED, "remove_workflow", _git("remove_workflow")),
    Case(E.LOG_ENGINE, "notification-failed", _failing_notification),
    Case(E.LOG_API, "tag-create", _api_logged),
    Case(E.LOG_NOTIFICATION, "notification-failed", _failing_notification),
    Case(E.VARIABLE_SET, "set", _variable_set),
    *(Case(E.VARIABLE_SET, action, _variable_command(action))
      for action in ("inc", "dec")),
    Case(E.VARIABLE_UNSET, "unset", _variable_command("unset")),
    Case(E.LAUNCHER_CREATED, "create", _launcher_created),
    Case(E.LAUNCHER_MODIFIED, "edit", _launcher_edited),
    Case(E.LAUNCHER_REMOVED, "delete", _deleted("launcher", lambda lab: lab.launcher())),
    Case(E.DISPLAY_CREATED, "create", lambda lab: lab.display),
    Case(E.DISPLAY_MODIFIED, "edit", _display_edited),
    Case(E.DISPLAY_REMOVED, "delete", _deleted("display", Lab.display)),
)


# -- the events websocket --------------------------------------------------------------------


class EventsSocket:
    """A logged-in ``events`` websocket that acknowledges every push it reads."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, node: EngineNode) -> EventsSocket:
        ws = await session.ws_connect(f"http://127.0.0.1:{node.ws_port}/", protocols=("events",))
        challenge = etree.fromstring((await ws.receive_str(timeout=10)).encode()).get("challenge")
        response = compute_response(challenge, password_key("admin"))
        await ws.send_str(f"<auth response='{response}' user='admin' />")
        greeting = await ws.receive_str(timeout=10)
        assert greeting.startswith("<ready "), greeting
        return cls(ws)

    async def subscribe(self, type: EventType, *, object_id: int = 0,
                        external_id: int = 1) -> None:
        """Subscribe, with ``send_now``: once its first push is read, the subscription is in
        place before any change the test makes."""
        await self.ws.send_str(f"<event action='subscribe' type='{type.value}' "
                               f"api_cmd='{b64('<ping/>')}' send_now='yes' "
                               f"external_id='{external_id}' object_id='{object_id}'/>")
        first = await self.push()
        assert first.get("object-id", "0") == str(object_id), first

    async def push(self, timeout: float = PUSH_TIMEOUT) -> dict[str, str]:
        """The next push's root attributes (acknowledged)."""
        attrs = dict(etree.fromstring((await self.ws.receive_str(timeout=timeout)).encode())
                     .attrib)
        await self.ws.send_str(f"<event action='ack' event_id='{attrs['event-id']}'/>")
        return attrs

    async def push_about(self, object_id: int) -> dict[str, str]:
        """The first push about ``object_id`` (for 0: the first push, which has no
        ``object-id``); pushes about other objects (earlier cases' instances) are skipped."""
        try:
            async with asyncio.timeout(PUSH_TIMEOUT):
                while True:
                    attrs = await self.push()
                    if object_id == 0 or str(object_id) in attrs.get("object-id", "").split(","):
                        return attrs
        except TimeoutError:
            pytest.fail(f"no push about object {object_id} within {PUSH_TIMEOUT:g} s")


# -- fixtures and tests ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineNode]:
    directory = tmp_path_factory.mktemp("events")
    repository = directory / "repository"
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    for key, value in (("user.name", "evqueue"), ("user.email", "evqueue@example.org")):
        subprocess.run(["git", "-C", str(repository), "config", key, value], check=True)
    node = EngineNode(directory / "node1", settings={"git.repository": str(repository)})
    started(node)
    yield node
    node.close()


@pytest.fixture
def lab(node: EngineNode) -> Iterator[Lab]:
    lab = Lab(node, names=itertools.count(_next_batch()))
    yield lab
    for cleanup in lab.cleanups:
        cleanup()


_BATCHES = itertools.count(0, 1000)


def _next_batch() -> int:
    return next(_BATCHES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_the_change_is_pushed_with_its_object_id(case: Case, lab: Lab) -> None:
    change = await asyncio.to_thread(case.prepare, lab)
    async with aiohttp.ClientSession() as session:
        events = await EventsSocket.open(session, lab.node)
        await events.subscribe(case.event)
        object_id = await asyncio.to_thread(change)
        push = await events.push_about(object_id)
    assert (push["status"], push["external-id"]) == ("OK", "1")
    if object_id == 0:
        assert "object-id" not in push, push


async def test_a_subscription_to_one_object_is_told_of_that_object_only(lab: Lab) -> None:
    watched, other = lab.user(), lab.user()
    async with aiohttp.ClientSession() as session:
        events = await EventsSocket.open(session, lab.node)
        await events.subscribe(E.USER_MODIFIED, object_id=watched, external_id=7)
        for user_id in (other, watched):
            await asyncio.to_thread(
                lab.exec, f"<user action='change_password' id='{user_id}' password='x'/>")
        push = await events.push()
    assert (push["object-id"], push["external-id"]) == (str(watched), "7")


def test_elogs_is_not_served(lab: Lab) -> None:
    assert "elogs" not in [m.get("name") for m in lab.node.api.greeting.iter("module")]
    with pytest.raises(ApiError, match="UNKNOWN_COMMAND|Unknown command"):
        lab.exec("<channel action='list'/>")


def test_every_event_type_has_a_case() -> None:
    covered = {case.event for case in CASES}
    assert set(EventType) - ELOGS_EVENTS - covered == set()
    assert len({case.id for case in CASES}) == len(CASES)

