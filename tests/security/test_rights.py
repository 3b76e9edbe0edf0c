"""USER rights on every command group, through a real node.

``alice`` is a USER with one right: ``read`` on workflow ``visible``. Every (group, action) the
node serves is listed in :data:`TABLE` with what alice must get, aimed at objects she holds no
right on (workflow ``secret``, its instances, the queue, users, …):

- ``DENIED``: KO ``INSUFFICIENT_RIGHTS``;
- ``FILTERED``: OK, and the answer lists only what she may read;
- ``SELF``: OK, on her own account only;
- ``OPEN``: OK for every user by design (read-only views that evQueue serves to everyone;
  see docs/security.md for the ones worth restricting).

Whatever the answer, the store is unchanged (every table but logs and heartbeats is compared)
and the running instance of ``secret`` is still running. A route missing from the table fails
:func:`test_every_served_command_is_in_the_table`, so new commands get a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from lxml import etree

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.e2e.nodes import Node, wait_for
from tests.security.kit import b64, client, served_routes, snapshot, task_script

DENIED, FILTERED, SELF, OPEN = "denied", "filtered", "self", "open"


@dataclass(frozen=True)
class Ids:
    """The objects alice aims at."""

    secret: int  # workflow, no right
    visible: int  # workflow, read right
    done: int  # TERMINATED instance of secret
    running: int  # EXECUTING instance of secret (its task waits for a file)
    seen: int  # TERMINATED instance of visible
    alice: int
    bob: int
    queue: int
    retry: int
    schedule: int
    tag: int
    launcher: int
    display: int
    variable: int


WAIT_TASK = 'while [ ! -e "$1" ]; do sleep 0.05; done\nhead -c 3000 /dev/zero | tr "\\0" x\n'


def _workflow(task: str) -> str:
    return ("<workflow><parameters><parameter name='gate'/></parameters><subjobs><job name='j'>"
            f"<tasks><task name='t' path='{task}' queue='default'><input>"
            "<value select=\"evqGetWorkflowParameter('gate')\"/></input></task></tasks></job>"
            "</subjobs></workflow>")


def _launch(admin: Client, workflow: str, gate: str) -> int:
    answer = admin.exec(f"<instance action='launch' name='{workflow}'>"
                        f"<parameter name='gate' value='{gate}'/></instance>")
    return int(answer.get("workflow-instance-id"))


def _status(admin: Client, instance_id: int) -> str:
    return admin.exec(f"<instance action='query' id='{instance_id}'/>")[0].get("status")


def _create(admin: Client, xml: str, attribute: str) -> int:
    return int(admin.exec(xml).get(attribute))


def _variable(admin: Client) -> int:
    admin.exec("<storage action='set' path='app/v' type='INT' structure='ARRAY' value='[1,2]'/>")
    return int(admin.exec("<storage action='get' path='app/v'/>").get("id"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A node with alice, bob and one object of every kind; yields (node, ids, alice)."""
    directory = tmp_path_factory.mktemp("rights")
    task = task_script(directory, "wait.sh", WAIT_TASK)
    node = Node(directory, settings={"datastore.dom.maxsize": "1K", "gc.enable": "no"}).start()
    gate = directory / "gate"
    try:
        with client(node) as admin:
            secret = _create(admin, f"<workflow action='create' name='secret' "
                                    f"content='{b64(_workflow(str(task)))}'/>", "workflow-id")
            visible = _create(admin, f"<workflow action='create' name='visible' "
                                     f"content='{b64(_workflow(str(task)))}'/>", "workflow-id")
            gate.write_text("")
            done, seen = _launch(admin, "secret", str(gate)), _launch(admin, "visible", str(gate))
            running = _launch(admin, "secret", str(directory / "never"))
            assert wait_for(lambda: _status(admin, done) == "TERMINATED"
                            and _status(admin, seen) == "TERMINATED", 30)
            ids = Ids(
                secret=secret, visible=visible, done=done, running=running, seen=seen,
                alice=_create(admin, "<user action='create' name='alice' password='alice-pw'"
                                     " profile='USER'/>", "user-id"),
                bob=_create(admin, "<user action='create' name='bob' password='bob-pw'"
                                   " profile='USER'/>", "user-id"),
                queue=_create(admin, "<queue action='create' name='q1' concurrency='1'"
                                     " scheduler='fifo' dynamic='no'/>", "queue-id"),
                retry=_create(admin, "<retry_schedule action='create' name='r1' content='"
                                     + b64("<schedule><level retry_delay='1' retry_times='1'/>"
                                           "</schedule>") + "'/>", "retry-schedule-id"),
                schedule=_create(admin, f"<workflow_schedule action='create' workflow_id="
                                        f"'{secret}' node='node1' schedule='0;0;0;1;0;'"
                                        " onfailure='CONTINUE' active='no'>"
                                        "<parameter name='gate' value='x'/></workflow_schedule>",
                                 "schedule-id"),
                tag=_create(admin, "<tag action='create' label='t1'/>", "tag-id"),
                launcher=_create(admin, f"<launcher action='create' name='l1' workflow_id="
                                        f"'{secret}' user='' host='' parameters='{{}}'/>",
                                 "launcher-id"),
                display=_create(admin, "<display action='create' name='d1' path='a/b'"
                                       " order='ASC' item_title='t' item_content='c'/>",
                                "display-id"),
                variable=_variable(admin),
            )
            admin.exec(f"<instance action='tag' id='{done}' tag_id='{ids.tag}'/>")
            admin.exec(f"<user action='grant' id='{ids.alice}' workflow_id='{visible}'"
                       " read='yes' exec='no' edit='no' kill='no'/>")
        with client(node, "alice", "alice-pw") as alice:
            assert alice.profile == "USER"
            yield node, ids, alice
        with client(node) as admin:
            assert _status(admin, running) == "EXECUTING", "alice changed the running instance"
    finally:
        (directory / "never").write_text("")
        node.stop()
        node.remove_ipc_queue()


def _ids_listed(response: etree._Element, tag: str = "workflow") -> set[int]:
    return {int(e.get("id")) for e in response.iter(tag) if e.get("id")}


def _only_visible_workflows(response: etree._Element, ids: Ids) -> None:
    assert _ids_listed(response) == {ids.visible}


def _only_visible_instances(response: etree._Element, ids: Ids) -> None:
    assert _ids_listed(response) == {ids.seen}


def _no_running_instance_listed(response: etree._Element, ids: Ids) -> None:
    assert ids.running not in _ids_listed(response)


def _nothing_listed(response: etree._Element, ids: Ids) -> None:
    assert len(response) == 0


Check = Callable[[etree._Element, Ids], None]
#: (group, action) -> [(request template, expectation, check of an OK answer)]; templates are
#: formatted with the :class:`Ids` fields.
TABLE: dict[tuple[str, str | None], list[tuple[str, str, Check | None]]] = {
    ("ping", None): [("<ping/>", OPEN, None)],
    ("status", "query"): [
        ("<status action='query' type='configuration'/>", DENIED, None),
        ("<status action='query' type='scheduler'/>", DENIED, None),
        ("<status action='query' type='workflows'/>", FILTERED, _no_running_instance_listed)],
    ("statistics", "query"): [("<statistics action='query' type='global'/>", OPEN, None),
                              ("<statistics action='query' type='queue'/>", OPEN, None)],
    ("statistics", "reset"): [("<statistics action='reset' type='global'/>", DENIED, None)],
    ("control", "reload"): [("<control action='reload' module='all' notify='no'/>", DENIED,
                             None)],
    ("control", "retry"): [("<control action='retry'/>", DENIED, None)],
    ("control", "syncnotifications"): [("<control action='syncnotifications'/>", DENIED, None)],
    ("control", "shutdown"): [("<control action='shutdown'/>", DENIED, None)],
    ("xpath", "parse"): [("<xpath action='parse' expression='1 + 1'/>", OPEN, None)],
    ("cluster", "list"): [("<cluster action='list'/>", OPEN, None)],
    ("filesystem", "list"): [("<filesystem action='list' path='/'/>", DENIED, None)],
    ("processmanager", "tail"): [("<processmanager action='tail' tid='1'/>", DENIED, None)],
    # evQueue serves these to every user (protocol.md §10.9); docs/security.md says why they
    # deserve a right of their own.
    ("logs", "list"): [("<logs action='list'/>", OPEN, None)],
    ("logsapi", "list"): [("<logsapi action='list'/>", OPEN, None)],
    ("logsnotifications", "list"): [("<logsnotifications action='list'/>", OPEN, None)],
    ("datastore", "get"): [("<datastore action='get' id='1'/>", OPEN, None)],
    # definitions every user's UI needs to show (launch dialog, storage module)
    ("queuepool", "list"): [("<queuepool action='list'/>", OPEN, None)],
    ("retry_schedules", "list"): [("<retry_schedules action='list'/>", OPEN, None)],
    ("displays", "list"): [("<displays action='list'/>", OPEN, None)],
    ("displays", "listgroups"): [("<displays action='listgroups'/>", OPEN, None)],
    ("display", "get"): [("<display action='get' id='{display}'/>", OPEN, None)],
    ("storage", "get"): [("<storage action='get' id='{variable}'/>", OPEN, None)],
    ("storage", "head"): [("<storage action='head' id='{variable}'/>", OPEN, None)],
    ("storage", "tail"): [("<storage action='tail' id='{variable}'/>", OPEN, None)],
    ("storage", "list"): [("<storage action='list' path='app'/>", OPEN, None)],
    ("storage", "set"): [("<storage action='set' id='{variable}' value='[3]'/>", DENIED,
                          None)],
    ("storage", "append"): [("<storage action='append' id='{variable}' value='2'/>", DENIED,
                             None)],
    ("storage", "inc"): [("<storage action='inc' id='{variable}'/>", DENIED, None)],
    ("storage", "dec"): [("<storage action='dec' id='{variable}'/>", DENIED, None)],
    ("storage", "add"): [("<storage action='add' id='{variable}' value='5'/>", DENIED, None)],
    ("storage", "unset"): [("<storage action='unset' id='{variable}'/>", DENIED, None)],
    ("workflow", "get"): [("<workflow action='get' id='{secret}'/>", DENIED, None),
                          ("<workflow action='get' name='secret'/>", DENIED, None),
                          ("<workflow action='get' id='{visible}'/>", OPEN, None)],
    ("workflow", "create"): [(f"<workflow action='create' name='mine' content='"
                              f"{b64(_workflow('x'))}'/>", DENIED, None)],
    ("workflow", "edit"): [(f"<workflow action='edit' id='{{visible}}' name='visible' "
                            f"content='{b64(_workflow('x'))}'/>", DENIED, None),
                           (f"<workflow action='edit' id='{{secret}}' name='secret' "
                            f"content='{b64(_workflow('x'))}'/>", DENIED, None)],
    ("workflow", "delete"): [("<workflow action='delete' id='{secret}'/>", DENIED, None)],
    ("workflow", "subscribe_notification"): [
        ("<workflow action='subscribe_notification' id='{secret}' notification_id='1'/>",
         DENIED, None)],
    ("workflow", "unsubscribe_notification"): [
        ("<workflow action='unsubscribe_notification' id='{secret}' notification_id='1'/>",
         DENIED, None)],
    ("workflow", "clear_notifications"): [
        ("<workflow action='clear_notifications' id='{secret}'/>", DENIED, None)],
    ("workflow", "list_notifications"): [
        ("<workflow action='list_notifications' id='{secret}'/>", DENIED, None)],
    ("workflows", "list"): [("<workflows action='list' full='yes'/>", FILTERED,
                             _only_visible_workflows)],
    ("instance", "launch"): [
        ("<instance action='launch' name='secret'><parameter name='gate' value='g'/>"
         "</instance>", DENIED, None),
        ("<instance action='launch' name='visible'><parameter name='gate' value='g'/>"
         "</instance>", DENIED, None)],
    ("instance", "query"): [("<instance action='query' id='{done}'/>", DENIED, None),
                            ("<instance action='query' id='{running}'/>", DENIED, None),
                            ("<instance action='query' id='{seen}'/>", OPEN, None)],
    ("instance", "wait"): [("<instance action='wait' id='{running}' timeout='1'/>", DENIED,
                            None)],
    ("instance", "cancel"): [("<instance action='cancel' id='{running}'/>", DENIED, None)],
    ("instance", "kill"): [("<instance action='kill' id='{running}'/>", DENIED, None)],
    ("instance", "killtask"): [("<instance action='killtask' id='{running}' pid='1'/>",
                                DENIED, None)],
    ("instance", "delete"): [("<instance action='delete' id='{done}'/>", DENIED, None),
                             ("<instance action='delete' id='{seen}'/>", DENIED, None)],
    ("instance", "tag"): [("<instance action='tag' id='{done}' tag_id='{tag}'/>", DENIED,
                           None)],
    ("instance", "untag"): [("<instance action='untag' id='{done}' tag_id='{tag}'/>", DENIED,
                             None)],
    ("instance", "debugresume"): [("<instance action='debugresume' id='{done}'/>", DENIED,
                                   None)],
    ("instance", "migrate"): [("<instance action='migrate' id='{running}'/>", DENIED, None)],
    ("instances", "list"): [("<instances action='list'/>", FILTERED, _only_visible_instances),
                            ("<instances action='list' filter_workflow='secret'/>", FILTERED,
                             _nothing_listed)],
    ("queue", "get"): [("<queue action='get' id='{queue}'/>", DENIED, None)],
    ("queue", "create"): [("<queue action='create' name='q2' concurrency='1' scheduler='fifo'"
                           " dynamic='no'/>", DENIED, None)],
    ("queue", "edit"): [("<queue action='edit' id='{queue}' name='q1' concurrency='9'"
                         " scheduler='fifo' dynamic='no'/>", DENIED, None)],
    ("queue", "delete"): [("<queue action='delete' id='{queue}'/>", DENIED, None)],
    ("retry_schedule", "get"): [("<retry_schedule action='get' id='{retry}'/>", DENIED, None)],
    ("retry_schedule", "create"): [
        ("<retry_schedule action='create' name='r2' content='"
         + b64("<schedule><level retry_delay='1' retry_times='1'/></schedule>") + "'/>",
         DENIED, None)],
    ("retry_schedule", "edit"): [
        ("<retry_schedule action='edit' id='{retry}' name='r1' content='"
         + b64("<schedule><level retry_delay='9' retry_times='9'/></schedule>") + "'/>",
         DENIED, None)],
    ("retry_schedule", "delete"): [("<retry_schedule action='delete' id='{retry}'/>", DENIED,
                                    None)],
    ("workflow_schedule", "get"): [("<workflow_schedule action='get' id='{schedule}'/>",
                                    DENIED, None)],
    ("workflow_schedule", "create"): [
        ("<workflow_schedule action='create' workflow_id='{secret}' node='node1' schedule="
         "'0;0;0;1;0;' onfailure='CONTINUE' active='yes'><parameter name='gate' value='x'/>"
         "</workflow_schedule>", DENIED, None)],
    ("workflow_schedule", "edit"): [
        ("<workflow_schedule action='edit' id='{schedule}' workflow_id='{secret}' node='node1'"
         " schedule='0;0;0;1;0;' onfailure='CONTINUE' active='yes'><parameter name='gate'"
         " value='x'/></workflow_schedule>", DENIED, None)],
    ("workflow_schedule", "delete"): [("<workflow_schedule action='delete' id='{schedule}'/>",
                                       DENIED, None)],
    ("workflow_schedule", "lock"): [("<workflow_schedule action='lock' id='{schedule}'/>",
                                     DENIED, None)],
    ("workflow_schedule", "unlock"): [("<workflow_schedule action='unlock' id='{schedule}'/>",
                                       DENIED, None)],
    ("workflow_schedules", "list"): [("<workflow_schedules action='list'/>", DENIED, None)],
    ("user", "get"): [("<user action='get' id='{bob}'/>", DENIED, None),
                      ("<user action='get' name='admin'/>", DENIED, None),
                      # no probing: an unknown login gets the same answer as a known one
                      ("<user action='get' name='nobody'/>", DENIED, None),
                      ("<user action='get' id='99999'/>", DENIED, None),
                      ("<user action='get' id='{alice}'/>", SELF, None)],
    ("user", "create"): [("<user action='create' name='eve' password='x' profile='ADMIN'/>",
                          DENIED, None)],
    ("user", "edit"): [("<user action='edit' id='{alice}' name='alice' password='x'"
                        " profile='ADMIN'/>", DENIED, None),
                       ("<user action='edit' id='{bob}' name='bob' password='x'"
                        " profile='USER'/>", DENIED, None)],
    ("user", "delete"): [("<user action='delete' id='{bob}'/>", DENIED, None)],
    ("user", "change_password"): [("<user action='change_password' id='{bob}' password='x'/>",
                                   DENIED, None),
                                  ("<user action='change_password' name='admin'"
                                   " password='x'/>", DENIED, None),
                                  ("<user action='change_password' name='nobody'/>", DENIED,
                                   None)],
    ("user", "update_preferences"): [
        ("<user action='update_preferences' id='{bob}' preferences='x'/>", DENIED, None),
        ("<user action='update_preferences' name='nobody' preferences='x'/>", DENIED, None),
        ("<user action='update_preferences' id='{alice}' preferences='dark'/>", SELF, None)],
    ("user", "clear_rights"): [("<user action='clear_rights' id='{alice}'/>", DENIED, None)],
    ("user", "list_rights"): [("<user action='list_rights' id='{bob}'/>", DENIED, None)],
    ("user", "list_module_rights"): [("<user action='list_module_rights' id='{alice}'"
                                      " module='storage' type='launcher'/>", DENIED, None)],
    ("user", "grant"): [("<user action='grant' id='{alice}' workflow_id='{secret}' read='yes'"
                         " exec='yes' edit='yes' kill='yes'/>", DENIED, None)],
    ("user", "revoke"): [("<user action='revoke' id='{alice}' workflow_id='{visible}'/>",
                          DENIED, None)],
    ("users", "list"): [("<users action='list'/>", DENIED, None)],
    ("tag", "get"): [("<tag action='get' id='{tag}'/>", DENIED, None)],
    ("tag", "create"): [("<tag action='create' label='t2'/>", DENIED, None)],
    ("tag", "edit"): [("<tag action='edit' id='{tag}' label='t9'/>", DENIED, None)],
    ("tag", "delete"): [("<tag action='delete' id='{tag}'/>", DENIED, None)],
    ("tags", "list"): [("<tags action='list'/>", DENIED, None)],
    ("notification_type", "get"): [("<notification_type action='get' id='1'/>", DENIED, None)],
    ("notification_type", "register"): [("<notification_type action='register' zip='AAAA'/>",
                                         DENIED, None)],
    ("notification_type", "unregister"): [("<notification_type action='unregister' id='1'/>",
                                           DENIED, None)],
    ("notification_type", "get_conf"): [("<notification_type action='get_conf' id='1'/>",
                                         DENIED, None)],
    ("notification_type", "set_conf"): [("<notification_type action='set_conf' id='1'"
                                         " content='e30='/>", DENIED, None)],
    ("notification_types", "list"): [("<notification_types action='list'/>", DENIED, None)],
    ("notification", "get"): [("<notification action='get' id='1'/>", DENIED, None)],
    ("notification", "create"): [("<notification action='create' type_id='1' name='n'"
                                  " parameters='e30='/>", DENIED, None)],
    ("notification", "edit"): [("<notification action='edit' id='1' type_id='1' name='n'"
                                " parameters='e30='/>", DENIED, None)],
    ("notification", "delete"): [("<notification action='delete' id='1'/>", DENIED, None)],
    # names only (no parameters): the workflow editor shows them to editors
    ("notifications", "list"): [("<notifications action='list'/>", OPEN, None)],
    ("launcher", "get"): [("<launcher action='get' id='{launcher}'/>", DENIED, None)],
    ("launcher", "create"): [("<launcher action='create' name='l2' workflow_id='{secret}'"
                              " user='' host='' parameters='{{}}'/>", DENIED, None)],
    ("launcher", "edit"): [("<launcher action='edit' id='{launcher}' name='l1' workflow_id="
                            "'{secret}' user='' host='' parameters='{{}}'/>", DENIED, None)],
    ("launcher", "delete"): [("<launcher action='delete' id='{launcher}'/>", DENIED, None)],
    ("launcher", "grant"): [("<launcher action='grant' user_id='{alice}'"
                             " launcher_id='{launcher}'/>", DENIED, None)],
    ("launcher", "revoke"): [("<launcher action='revoke' user_id='{alice}'"
                              " launcher_id='{launcher}'/>", DENIED, None)],
    ("launchers", "list"): [("<launchers action='list'/>", FILTERED, _nothing_listed)],
    ("display", "create"): [("<display action='create' name='d2' path='x' order='ASC'"
                             " item_title='t' item_content='c'/>", DENIED, None)],
    ("display", "edit"): [("<display action='edit' id='{display}' name='d1' path='x'"
                           " order='ASC' item_title='t' item_content='c'/>", DENIED, None)],
    ("display", "delete"): [("<display action='delete' id='{display}'/>", DENIED, None)],
    ("git", "pull"): [("<git action='pull'/>", DENIED, None)],
    ("git", "save_workflow"): [("<git action='save_workflow' name='secret'/>", DENIED, None)],
    ("git", "load_workflow"): [("<git action='load_workflow' name='secret'/>", DENIED, None)],
    ("git", "get_workflow"): [("<git action='get_workflow' name='secret'/>", DENIED, None)],
    ("git", "remove_workflow"): [("<git action='remove_workflow' name='secret'/>", DENIED,
                                  None)],
    ("git", "list_workflows"): [("<git action='list_workflows'/>", DENIED, None)],
}

CASES = [(route, index) for route, requests in TABLE.items() for index in range(len(requests))]


def test_every_served_command_is_in_the_table():
    assert sorted(set(served_routes()) - set(TABLE), key=str) == []
    assert sorted(set(TABLE) - set(served_routes()), key=str) == []


@pytest.mark.parametrize(("route", "index"), CASES,
                         ids=[f"{g}-{a}-{i}" for (g, a), i in CASES])
def test_a_user_without_rights(world, route, index):
    node, ids, alice = world
    template, expected, check = TABLE[route][index]
    request = template.format(**vars(ids))
    before = snapshot(node)
    try:
        response = alice.exec(request)
    except ApiError as error:
        assert expected == DENIED, f"{request}: {error.code} {error.message}"
        assert error.code == "INSUFFICIENT_RIGHTS", f"{request}: {error.code} {error.message}"
    else:
        assert expected != DENIED, f"{request} was allowed: {etree.tostring(response)[:300]!r}"
        if check is not None:
            check(response, ids)
    after = snapshot(node)
    if expected == SELF:
        changed = {t for t in before if before[t] != after.get(t)}
        assert changed <= {"t_user"}, changed
    else:
        assert after == before, f"{request} changed {[t for t in before if before[t] != after[t]]}"


def test_the_running_instance_was_left_alone(world):
    node, ids, _ = world
    with client(node) as admin:
        assert _status(admin, ids.running) == "EXECUTING"
