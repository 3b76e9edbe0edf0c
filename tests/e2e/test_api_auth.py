"""Authentication over real sockets: every way to fail is refused with AUTH_ERROR and a close.

Failures from 127.0.0.1 count towards the per-address throttle (10 a minute): this module stays
below it; the throttle itself is exercised over the unix socket, which is throttled per name.
"""

from __future__ import annotations

import pytest

from tests.e2e.apiwire import Wire, answer, shape
from tests.e2e.nodes import Node

INVALID = ('<response error="Invalid authentication" error-code="AUTH_ERROR" node="node1"'
           ' status="KO"/>')


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("auth")).start()
    yield node
    node.stop()


def refused(wire: Wire, reply: str = INVALID) -> bool:
    return shape(wire.message()) == shape(reply) and wire.closed()


def test_right_password_logs_in(node):
    with Wire(node) as wire:
        assert b'profile="ADMIN"' in wire.login("admin", "admin")


def test_wrong_password_is_refused(node):
    with Wire(node) as wire:
        challenge = wire.challenge()
        wire.send(f"<auth response='{answer(challenge, 'wrong')}' user='admin' />")
        assert refused(wire)


def test_unknown_user_is_refused_like_a_wrong_password(node):
    with Wire(node) as wire:
        challenge = wire.challenge()
        wire.send(f"<auth response='{answer(challenge, 'admin')}' user='nobody' />")
        assert refused(wire)


def test_literal_hmac_response_is_refused(node):
    # evQueue 3.3 accepted response="hmac" for any existing user (protocol.md §2.3).
    with Wire(node) as wire:
        wire.challenge()
        wire.send("<auth response='hmac' user='admin' />")
        assert refused(wire)


def test_replayed_response_on_a_new_connection_is_refused(node):
    with Wire(node) as first:
        challenge = first.challenge()
        response = answer(challenge, "admin")
        first.send(f"<auth response='{response}' user='admin' />")
        assert b"<ready" in first.message()
    with Wire(node) as second:
        assert second.challenge() != challenge
        second.send(f"<auth response='{response}' user='admin' />")
        assert refused(second)


def test_uppercase_response_is_refused(node):
    with Wire(node) as wire:
        challenge = wire.challenge()
        wire.send(f"<auth response='{answer(challenge, 'admin').upper()}' user='admin' />")
        assert refused(wire)


def test_first_message_must_be_auth(node):
    with Wire(node, "unix") as wire:
        wire.challenge()
        wire.send("<ping/>")
        assert refused(wire, '<response error="Expected \'auth\' node" error-code="AUTH_ERROR"'
                             ' node="node1" status="KO"/>')


def test_missing_attribute_is_fatal(node):
    with Wire(node, "unix") as wire:
        wire.challenge()
        wire.send("<auth user='admin'/>")
        assert refused(wire, '<response error="Missing \'response\' attribute"'
                             ' error-code="MISSING_PARAMETER" node="node1" status="KO"/>')


def test_repeated_failures_lock_the_name_but_not_others(node):
    for _ in range(10):
        with Wire(node, "unix") as wire:
            challenge = wire.challenge()
            wire.send(f"<auth response='{answer(challenge, 'guess')}' user='carol' />")
            assert refused(wire)
    with Wire(node, "unix") as wire:
        challenge = wire.challenge()
        wire.send(f"<auth response='{answer(challenge, 'guess')}' user='carol' />")
        assert refused(wire, '<response error="Too many failed authentications, try again'
                             ' later" error-code="AUTH_ERROR" node="node1" status="KO"/>')
    with Wire(node, "unix") as wire:
        assert b'profile="ADMIN"' in wire.login("admin", "admin")
