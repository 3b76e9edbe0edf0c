"""Rights taken away apply to the sessions already open, on every node of the cluster.

An ADMIN demoted to USER can no longer do what only an ADMIN may, from the session it had; a
USER whose right on a workflow is revoked can no longer launch it; a deleted user's sessions
are closed (TCP, unix socket and websocket), without waiting for its next command. A change
made on one node reaches the sessions of the other nodes through the cluster notification.
"""

from __future__ import annotations

import asyncio
import select
import socket

import aiohttp
import pytest

from evqueue.client.sync import Client
from evqueue.protocol import ApiError, compute_response, password_key
from tests.e2e.nodes import Node, wait_for
from tests.security.kit import b64, client

WORKFLOW = ("<workflow><subjobs><job name='j'><tasks><task name='t' path='/bin/true' "
            "queue='default'/></tasks></job></subjobs></workflow>")
PASSWORD = "pw-of-a-user"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("sessions"), settings={"gc.enable": "no"}).start()
    try:
        with client(node) as admin:
            admin.exec(f"<workflow action='create' name='w' content='{b64(WORKFLOW)}'/>")
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


def create_user(admin: Client, name: str, profile: str) -> int:
    answer = admin.exec(f"<user action='create' name='{name}' password='{PASSWORD}' "
                        f"profile='{profile}'/>")
    return int(answer.get("user-id"))


def workflow_id(admin: Client) -> int:
    return int(admin.exec("<workflow action='get' name='w'/>")[0].get("id"))


def grant_exec(admin: Client, user_id: int) -> None:
    admin.exec(f"<user action='grant' id='{user_id}' workflow_id='{workflow_id(admin)}' "
               "read='yes' exec='yes' edit='no' kill='no'/>")


def launch(session: Client) -> None:
    session.exec("<instance action='launch' name='w'/>")


def refused(action, code: str = "INSUFFICIENT_RIGHTS") -> bool:  # type: ignore[no-untyped-def]
    try:
        action()
    except ApiError as error:
        return error.code == code
    return False


def closed_by_node(session: Client, timeout: float = 10.0) -> bool:
    """True once the node has closed the session's socket (nothing was sent to it)."""
    sock: socket.socket = session._sock  # type: ignore[assignment]
    if not select.select([sock], [], [], timeout)[0]:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_demoted_then_deleted_admin_loses_its_open_session(node, transport):
    name = f"boss-{transport}"
    with client(node) as admin:
        boss = create_user(admin, name, "ADMIN")
        session = client(node, name, PASSWORD, transport)
        try:
            session.exec(f"<user action='create' name='by-{name}' password='x' profile='USER'/>")
            admin.exec(f"<user action='edit' id='{boss}' name='{name}' profile='USER'/>")
            assert refused(lambda: session.exec(
                f"<user action='create' name='by-{name}-2' password='x' profile='ADMIN'/>"))
            assert refused(lambda: session.exec("<users action='list'/>"))
            admin.exec(f"<user action='delete' id='{boss}'/>")
            assert closed_by_node(session), "the deleted user's session is still open"
        finally:
            session._abort()
        names = {user.get("name") for user in admin.exec("<users action='list'/>")}
        assert f"by-{name}" in names and f"by-{name}-2" not in names


def test_a_revoked_right_no_longer_lets_a_user_launch(node):
    with client(node) as admin:
        user_id = create_user(admin, "runner", "USER")
        grant_exec(admin, user_id)
        with client(node, "runner", PASSWORD) as session:
            launch(session)
            admin.exec(f"<user action='revoke' id='{user_id}' "
                       f"workflow_id='{workflow_id(admin)}'/>")
            assert refused(lambda: launch(session))
            grant_exec(admin, user_id)
            launch(session)  # given back: works again at once


async def _websocket_session(node: Node, name: str, deleted: asyncio.Event) -> tuple[int, str]:
    """Log in as ``name`` on the websocket API, wait until ``deleted``, then return how the
    node closed the websocket (code, reason)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"http://127.0.0.1:{node.ws_port}/", protocols=("api",)) as ws:
        challenge = (await ws.receive_str(timeout=10)).split("challenge=\"")[1].split("\"")[0]
        await ws.send_str(f"<auth response='{compute_response(challenge, password_key(PASSWORD))}'"
                          f" user='{name}'/>")
        assert (await ws.receive_str(timeout=10)).startswith("<ready ")
        await ws.send_str("<ping/>")
        assert "status=\"OK\"" in await ws.receive_str(timeout=10)
        deleted.set()
        message = await ws.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return ws.close_code or 0, str(message.extra or "")


def test_a_deleted_users_websocket_is_closed(node):
    with client(node) as admin:
        user_id = create_user(admin, "web", "USER")

    async def scenario() -> tuple[int, str]:
        deleted = asyncio.Event()
        session = asyncio.create_task(_websocket_session(node, "web", deleted))
        await deleted.wait()
        with client(node) as admin:
            await asyncio.to_thread(admin.exec, f"<user action='delete' id='{user_id}'/>")
        return await session

    code, reason = asyncio.run(scenario())
    assert (code, reason) == (1008, "User deleted")


def test_a_change_on_one_node_reaches_the_sessions_of_the_other(tmp_path):
    sockets = ", ".join(f"unix://{tmp_path / name / 'evqueue.socket'}" for name in ("a", "b"))
    settings = {"cluster.nodes": sockets, "cluster.notify.user": "admin",
                "cluster.notify.password": "admin", "gc.enable": "no"}
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    nodes = [Node(tmp_path / name, name=name, db_url=db_url, settings=settings)
             for name in ("a", "b")]
    try:
        first, second = (node.start() for node in nodes)
        with client(first) as admin:
            admin.exec(f"<workflow action='create' name='w' content='{b64(WORKFLOW)}'/>")
            user_id = create_user(admin, "far", "ADMIN")
            grant_exec(admin, user_id)
            with client(second, "far", PASSWORD) as session:
                session.exec("<users action='list'/>")
                admin.exec(f"<user action='edit' id='{user_id}' name='far' profile='USER'/>")
                assert wait_for(lambda: refused(lambda: session.exec("<users action='list'/>")),
                                30), "the demotion did not reach node b"
                launch(session)
                admin.exec(f"<user action='revoke' id='{user_id}' "
                           f"workflow_id='{workflow_id(admin)}'/>")
                assert wait_for(lambda: refused(lambda: launch(session)), 30), \
                    "the revocation did not reach node b"
                admin.exec(f"<user action='delete' id='{user_id}'/>")
                assert closed_by_node(session, 30), "the deletion did not close it on node b"
                session._abort()
    finally:
        for node in nodes:
            node.stop()
            node.remove_ipc_queue()
