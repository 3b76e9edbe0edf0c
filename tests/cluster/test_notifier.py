"""Definition changes announced to the other nodes: fake nodes on unix sockets record them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from evqueue.cluster.notifier import Notifier, reload_command
from evqueue.cluster.peer import PeerTimeouts
from evqueue.config import Config
from tests.cluster.fakepeer import FakePeer, fake_peer

FAST = {"retry_first": 0.02, "retry_max": 0.1}
TAGS = "<control action='reload' module='tags' notify='no' />"


@pytest.fixture
def sock(tmp_path):
    """``sock(name)``: a unix socket path in the test's directory."""
    return lambda name: str(tmp_path / f"{name}.sock")


def notifier(*paths: str, node: str = "node3", **kwargs) -> Notifier:
    options = {"user": "admin", "password": "admin", **FAST, **kwargs}
    return Notifier(node, [f"unix://{path}" for path in paths], **options)


async def next_command(peer: FakePeer) -> str:
    return await asyncio.wait_for(peer.commands.get(), 10)


async def test_a_change_is_sent_as_evqueue_sends_it(sock):
    # protocol.md §8.1: a fake node in cluster.nodes, after <tag action='create'/> on node3
    async with fake_peer(sock("fake")) as peer:
        cluster = notifier(sock("fake"))
        cluster.notify("tags")
        transcript = await asyncio.wait_for(peer.closed.get(), 10)
        await cluster.aclose()
    assert transcript == (
        b'<auth response="8c201efd7d0c1be0949953033b755e2f35cb9c17" user="admin"/>\n'
        b"<control action='reload' module='tags' notify='no' />\n"
        b"<quit />\n")
    assert peer.commands.get_nowait() == TAGS


async def test_every_other_node_is_told_and_this_node_is_skipped_by_its_name(sock):
    async with fake_peer(sock("me"), "node3") as me, fake_peer(sock("a"), "a") as a, \
            fake_peer(sock("b"), "b") as b:
        cluster = notifier(sock("me"), sock("a"), sock("b"))
        cluster.notify("workflows")
        assert await next_command(a) == reload_command("workflows")
        assert await next_command(b) == reload_command("workflows")
        assert await asyncio.wait_for(me.closed.get(), 10) == b"", "no login on itself"
        cluster.notify("users")
        assert await next_command(a) == reload_command("users")
        assert await next_command(b) == reload_command("users")
        await cluster.aclose()
    assert me.connections == 1, "a node found to be this one is not contacted again"
    assert me.commands.empty()


async def test_an_unreachable_node_is_retried_in_the_background_and_logged_once(sock, caplog):
    caplog.set_level(logging.DEBUG, "evqueue.cluster")
    cluster = notifier(sock("late"))
    cluster.notify("queuepool")  # returns at once: nothing listens yet
    assert cluster.pending() == {f"unix://{sock('late')}": [reload_command("queuepool")]}
    for _ in range(3):  # let a few attempts fail
        await _attempt_logged(caplog, "still not notified")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"cannot notify node unix://{sock('late')}" in warnings[0].getMessage()
    async with fake_peer(sock("late")) as peer:
        assert await next_command(peer) == reload_command("queuepool")
        await asyncio.wait_for(peer.closed.get(), 10)
    assert cluster.pending() == {}
    assert any("notified again" in r.getMessage() for r in caplog.records)
    await cluster.aclose()


async def _attempt_logged(caplog, text: str) -> None:
    count = sum(text in r.getMessage() for r in caplog.records)
    while sum(text in r.getMessage() for r in caplog.records) == count:
        await asyncio.sleep(0.01)


async def test_changes_made_while_a_node_is_away_are_coalesced(sock):
    cluster = notifier(sock("away"))
    for module in ("workflows", "tags", "workflows", "workflows", "tags"):
        cluster.notify(module)
    async with fake_peer(sock("away")) as peer:
        transcript = await asyncio.wait_for(peer.closed.get(), 10)
    await cluster.aclose()
    assert peer.connections == 1
    assert transcript.count(b"<control") == 2
    assert [peer.commands.get_nowait() for _ in range(2)] == [
        reload_command("workflows"), reload_command("tags")]


async def test_a_reload_of_all_stands_for_every_module(sock):
    cluster = notifier(sock("away"))
    for module in ("workflows", "all", "tags"):
        cluster.notify(module)
    cluster.sync_notifications()
    async with fake_peer(sock("away")) as peer:
        await asyncio.wait_for(peer.closed.get(), 10)
    await cluster.aclose()
    assert [peer.commands.get_nowait() for _ in range(peer.commands.qsize())] == [
        reload_command("all"), "<control action='syncnotifications' notify='no' />"]
    assert cluster.pending() == {}


async def test_a_refused_command_or_login_is_retried_until_accepted(sock, caplog):
    async with fake_peer(sock("strict"), password="other") as peer:
        peer.answers[TAGS] = ('<response status="KO" error="insufficient rights" '
                              'error-code="INSUFFICIENT_RIGHTS"/>\n')
        cluster = notifier(sock("strict"))
        cluster.notify("tags")
        await _attempt_logged(caplog, "cannot notify node")
        assert "AuthError" in caplog.text
        peer.password = "admin"  # the login now succeeds, the command is refused
        assert await next_command(peer) == TAGS
        del peer.answers[TAGS]  # and now accepted
        assert await next_command(peer) == TAGS
        await asyncio.wait_for(_until(lambda: not cluster.pending()), 10)
        await cluster.aclose()


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_a_node_that_never_answers_times_out(sock, tmp_path, caplog):
    silent = await asyncio.start_unix_server(lambda r, w: None, path=sock("silent"))
    cluster = notifier(sock("silent"), timeouts=PeerTimeouts(1, 0.05, 0.05))
    cluster.notify("tags")
    await asyncio.wait_for(_attempt_logged(caplog, "cannot notify node"), 10)
    assert "TimeoutError" in caplog.text
    await cluster.aclose()
    silent.close()
    assert f"node unix://{sock('silent')} may have missed {TAGS}" in caplog.text


async def test_notifications_off_or_no_nodes_contact_nobody(sock):
    for cluster in (notifier(sock("x"), enabled=False), notifier()):
        cluster.notify("workflows")
        assert cluster.pending() == {}
        assert all(link.task is None for link in cluster.links)
        await cluster.aclose()


def test_the_configuration_gives_nodes_trimmed_credentials_and_timeouts(caplog):
    cfg = Config.from_mapping({
        "cluster.node.name": "n1",
        "cluster.nodes": "unix:///run/a.sock,  tcp://b:5000 ,, bogus://c",
        "cluster.notify.user": "notifier", "cluster.notify.password": "pw",
        "cluster.cnx.timeout": "3", "cluster.rcv.timeout": "0", "cluster.snd.timeout": "2"})
    cluster = Notifier.from_config(cfg)
    assert [link.connect for link in cluster.links] == ["unix:///run/a.sock", "tcp://b:5000"]
    assert "cluster.nodes: 'bogus://c' is ignored" in caplog.text
    assert cluster.timeouts == PeerTimeouts(3.0, None, 2.0)
    assert cluster.node == "n1" and cluster.enabled
    assert not Notifier.from_config(Config.from_mapping({"cluster.notify": "no"})).enabled
