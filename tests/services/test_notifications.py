"""Notifications at the end of instances: which plugins run, with what, and what is logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evqueue.engine import EndedInstance, EventBus, EventType
from evqueue.services.notifications import Notifications, NotificationSettings
from evqueue.storage.logs import list_notification_logs
from evqueue.storage.notifications import (
    create_notification,
    create_notification_type,
    set_notification_type_conf,
    subscribe_notification,
)
from evqueue.storage.workflows import create_workflow

pytestmark = pytest.mark.backends

RECORD = b"""#!/bin/sh
echo "$@" > "args.$1.$$"
cat > "stdin.$1.$$"
"""
INSTANCE = '<workflow name="wf" id="5" status="TERMINATED" errors="2"><subjobs/></workflow>'


def _settings(directory: Path, **changes) -> NotificationSettings:
    values = {"node_name": "node1", "directory": str(directory), "timeout": 10.0,
              "concurrency": 4, "max_output": 1024, "socket_path": "/run/evq.sock"}
    values.update(changes)
    return NotificationSettings(**values)


async def _plugin(db, name: str, binary: bytes, conf: bytes = b"") -> int:
    type_id = await create_notification_type(db, name, "", "<plugin/>", binary)
    if conf:
        await set_notification_type_conf(db, type_id, conf)
    return type_id


def _outputs(directory: Path, prefix: str) -> list[str]:
    return sorted(p.read_text() for p in directory.glob(f"{prefix}.*"))


async def _notifier(db, directory: Path, events: EventBus | None = None, **changes):
    notifications = Notifications(db, _settings(directory, **changes), events)
    await notifications.sync()
    await notifications.reload()
    return notifications


async def test_a_plugin_gets_evqueues_arguments_and_json(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    type_id = await _plugin(db, "record", RECORD, b'{"host": "smtp.local"}')
    notification_id = await create_notification(db, type_id, "mail ops", False,
                                                '{"to": "ops@example.org"}')
    await subscribe_notification(db, workflow_id, notification_id)
    notifications = await _notifier(db, tmp_path)
    notifications.instance_ended(EndedInstance(5, workflow_id, None, 2, INSTANCE))
    await notifications.idle()
    assert _outputs(tmp_path, "args.5") == ["5 2 /run/evq.sock\n"]
    [stdin] = _outputs(tmp_path, "stdin.5")
    assert json.loads(stdin) == {"pluginconf": {"host": "smtp.local"},
                                 "notificationconf": {"to": "ops@example.org"},
                                 "instance": INSTANCE}
    assert await list_notification_logs(db) == []


async def test_subscribed_and_subscribe_all_notifications_run_once_each(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    other_id = await create_workflow(db, "other", "<workflow/>")
    type_id = await _plugin(db, "record", RECORD)
    bound = await create_notification(db, type_id, "bound", False, '{"n": "bound"}')
    await create_notification(db, type_id, "unbound", False, '{"n": "unbound"}')
    await create_notification(db, type_id, "everyone", True, '{"n": "everyone"}')
    await subscribe_notification(db, workflow_id, bound)
    notifications = await _notifier(db, tmp_path)
    assert [t.name for t in notifications.targets_for(workflow_id)] == ["bound", "everyone"]
    assert [t.name for t in notifications.targets_for(other_id)] == ["everyone"]
    notifications.instance_ended(EndedInstance(8, workflow_id, None, 0, INSTANCE))
    await notifications.idle()
    called = sorted(json.loads(s)["notificationconf"]["n"] for s in _outputs(tmp_path, "stdin.8"))
    assert called == ["bound", "everyone"]


async def test_a_hanging_plugin_is_killed_at_the_timeout_and_logged(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    type_id = await _plugin(db, "hang", b"#!/bin/sh\necho 'about to hang' >&2\nexec sleep 30\n")
    await create_notification(db, type_id, "slow", True, "{}")
    events = EventBus()
    seen = []
    events.subscribe(seen.append, [EventType.LOG_NOTIFICATION])
    notifications = await _notifier(db, tmp_path, events, timeout=0.5)
    notifications.instance_ended(EndedInstance(9, workflow_id, None, 0, INSTANCE))
    await notifications.idle()
    [row] = await list_notification_logs(db)
    assert row.node_name == "node1" and row.pid > 0
    assert row.message == "slow: killed after the 0.5 s timeout\nabout to hang\n"
    assert [e.type for e in seen] == [EventType.LOG_NOTIFICATION]


async def test_a_failing_plugin_is_logged_with_its_stderr_within_the_limit(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    type_id = await _plugin(db, "fail", b"#!/bin/sh\necho 'smtp refused' >&2\nexit 4\n")
    await create_notification(db, type_id, "mailer", True, "{}")
    notifications = await _notifier(db, tmp_path, max_output=33)
    notifications.instance_ended(EndedInstance(9, workflow_id, None, 0, INSTANCE))
    await notifications.idle()
    [row] = await list_notification_logs(db)
    assert row.message == "mailer: exited with status 4\nsmtp"


async def test_a_plugin_that_cannot_start_is_logged(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    type_id = await _plugin(db, "gone", b"#!/bin/sh\n")
    await create_notification(db, type_id, "gone", True, "{}")
    notifications = await _notifier(db, tmp_path)
    (tmp_path / str(type_id)).unlink()
    notifications.instance_ended(EndedInstance(9, workflow_id, None, 0, INSTANCE))
    await notifications.idle()
    [row] = await list_notification_logs(db)
    assert row.pid == 0 and row.message.startswith("gone: cannot execute")


async def test_resumed_instances_and_ends_during_shutdown_are_not_notified(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    type_id = await _plugin(db, "record", RECORD)
    await create_notification(db, type_id, "n", True, "{}")
    notifications = Notifications(db, _settings(tmp_path), skip={3})
    await notifications.sync()
    await notifications.reload()
    notifications.instance_ended(EndedInstance(3, workflow_id, None, 0, INSTANCE))
    assert notifications.running == 0
    notifications.instance_ended(EndedInstance(5, workflow_id, None, 0, INSTANCE))
    assert notifications.running == 1
    await notifications.stop()  # 5 was still waiting for a slot: dropped
    notifications.instance_ended(EndedInstance(4, workflow_id, None, 0, INSTANCE))
    assert notifications.running == 0
    assert _outputs(tmp_path, "args") == []


async def test_at_most_concurrency_plugins_run_at_once(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    # Each run appends "+" when it starts and "-" when it ends, under a lock of the shell.
    plugin = (b"#!/bin/sh\nflock log.lock sh -c 'printf + >> log'\nsleep 0.2\n"
              b"flock log.lock sh -c 'printf - >> log'\n")
    type_id = await _plugin(db, "serial", plugin)
    await create_notification(db, type_id, "n", True, "{}")
    notifications = await _notifier(db, tmp_path, concurrency=1)
    for instance_id in (1, 2, 3):
        notifications.instance_ended(EndedInstance(instance_id, workflow_id, None, 0, INSTANCE))
    assert notifications.running == 3
    await notifications.idle()
    assert (tmp_path / "log").read_text() == "+-+-+-"


async def test_a_reload_picks_up_new_notifications_and_plugins(db, tmp_path) -> None:
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    notifications = await _notifier(db, tmp_path)
    assert notifications.targets_for(workflow_id) == []
    type_id = await _plugin(db, "record", RECORD)
    await create_notification(db, type_id, "late", True, "{}")
    await notifications.sync()
    await notifications.reload()
    assert [t.name for t in notifications.targets_for(workflow_id)] == ["late"]
    assert (tmp_path / str(type_id)).read_bytes() == RECORD
