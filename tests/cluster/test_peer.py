"""The connection a node opens to another node: its name first, then login and commands."""

from __future__ import annotations

import asyncio
import errno

import pytest

from evqueue.cluster.peer import Peer, PeerTimeouts, nobody_listens
from evqueue.config import Config
from evqueue.protocol import AuthError, InsufficientRights, InvalidConnectionString
from tests.cluster.fakepeer import fake_peer


async def test_the_peer_name_is_known_before_logging_in(tmp_path):
    path = str(tmp_path / "p.sock")
    async with fake_peer(path, "alice") as fake:
        async with Peer(f"unix://{path}") as peer:
            assert peer.node == "alice"
        transcript = await asyncio.wait_for(fake.closed.get(), 10)
    assert transcript == b"", "nothing is sent when the peer was only asked its name"


async def test_login_commands_and_quit(tmp_path):
    path = str(tmp_path / "p.sock")
    async with fake_peer(path, "bob") as fake:
        fake.answers["<ping/>"] = '<response node="bob" status="OK" version="3.3"/>\n'
        async with Peer(f"unix://{path}", user="admin", password="admin") as peer:
            await peer.login()
            assert (await peer.exec("<ping/>")).get("version") == "3.3"
            fake.answers["<x/>"] = ('<response status="KO" error="insufficient rights" '
                                    'error-code="INSUFFICIENT_RIGHTS"/>\n')
            with pytest.raises(InsufficientRights):
                await peer.exec("<x/>")
        transcript = await asyncio.wait_for(fake.closed.get(), 10)
    assert transcript.endswith(b"<ping/>\n<x/>\n<quit />\n")


async def test_a_peer_without_authentication_greets_with_its_name(tmp_path):
    path = str(tmp_path / "p.sock")
    async with fake_peer(path, "carol", user=None) as fake:
        async with Peer(f"unix://{path}") as peer:
            assert peer.node == "carol"
            await peer.login()
            await peer.exec("<ping/>")
        assert await asyncio.wait_for(fake.commands.get(), 10) == "<ping/>"


async def test_a_wrong_password_is_an_auth_error(tmp_path):
    path = str(tmp_path / "p.sock")
    async with fake_peer(path) as fake:
        async with Peer(f"unix://{path}", user="admin", password="nope") as peer:
            with pytest.raises(AuthError):
                await peer.login()
        assert fake.commands.empty()


async def test_nobody_listening_is_told_apart_from_a_slow_node(tmp_path):
    with pytest.raises(OSError) as missing:
        await Peer(f"unix://{tmp_path}/none.sock").open()
    assert nobody_listens(missing.value)
    silent = await asyncio.start_unix_server(lambda r, w: None, path=str(tmp_path / "s.sock"))
    with pytest.raises(TimeoutError) as slow:
        await Peer(f"unix://{tmp_path}/s.sock", timeouts=PeerTimeouts(1, 0.05, 1)).open()
    assert not nobody_listens(slow.value)
    silent.close()
    assert nobody_listens(OSError(errno.ECONNREFUSED, "refused"))


def test_bad_connection_strings_and_timeouts_from_the_configuration():
    with pytest.raises(InvalidConnectionString):
        Peer("http://x")
    cfg = Config.from_mapping({"cluster.cnx.timeout": "7", "cluster.rcv.timeout": "0"})
    assert PeerTimeouts.from_config(cfg) == PeerTimeouts(7.0, None, 5.0)
