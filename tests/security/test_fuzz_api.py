"""Fuzzing a real node over its sockets: mutated byte streams and random command attributes.

One node serves the module. What must hold for every input:
- every request is answered with one ``<response>`` (OK or KO), or the connection gets one KO
  and is closed; nothing hangs (each exchange has a deadline);
- a logged-in bystander on the other transport is served all along, and the node never dies;
- random attribute values on every (group, action) the node serves (numbers past every limit,
  base64 garbage in ``content``, hostile definitions, paths, XPath) give OK or a KO with a
  message, and leave the connection open.
"""

from __future__ import annotations

import random
import re
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from evqueue.protocol import ApiError, Command
from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node
from tests.security.fuzzdata import ATTRIBUTE_NAMES, attribute_value, fuzz_input
from tests.security.kit import client, served_routes

#: Requests the command fuzzer must not send: they end the node or lock the fuzzer out.
EXCLUDED = {("control", "shutdown"), ("user", "change_password"), ("user", "edit"),
            ("user", "delete")}
ROUTES = [route for route in served_routes() if route not in EXCLUDED]
DEADLINE = 20.0


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("fuzz"), settings={
        "network.message.maxsize": "4M", "network.connections.max": "16",
        "loggerapi.enable": "no",
    }).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


@pytest.fixture(scope="module")
def bystander(node):
    """A logged-in raw connection on the unix socket, checked after each example."""
    with Wire(node, "unix", timeout=DEADLINE) as wire:
        wire.login()
        yield wire


def still_served(node: Node, bystander: Wire) -> None:
    bystander.send("<ping/>\n")
    assert b'status="OK"' in bystander.message()
    assert node.process is not None and node.process.poll() is None, node.output()[-3000:]


def exchange(wire: Wire, data: bytes) -> list[etree._Element]:
    """Send ``data``, half-close, and return every message the node sends until it closes.

    A node that refuses the stream may close before reading all of it: the write then fails
    and the kernel may reset the connection; whatever arrived before is still returned.
    A node that never closes makes the read time out, and the test fail.
    """
    try:
        wire.sock.sendall(data)
        wire.sock.shutdown(socket.SHUT_WR)
    except OSError:  # BrokenPipe, ConnectionReset, ENOTCONN: the node closed first
        pass
    messages = []
    while True:
        try:
            line = wire.message()
        except ConnectionResetError:
            return messages
        except ConnectionError:
            assert wire.buffer == b"", f"the node closed mid-message: {wire.buffer[:200]!r}"
            return messages
        messages.append(etree.fromstring(line))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       transport=st.sampled_from(["tcp", "unix"]))
def test_mutated_streams_after_login_are_answered_then_closed(node, bystander, seed, transport):
    data = fuzz_input(random.Random(seed))
    with Wire(node, transport, timeout=DEADLINE) as wire:
        wire.login()
        answers = exchange(wire, data)
    for answer in answers:
        assert answer.tag == "response" and answer.get("status") in ("OK", "KO")
        if answer.get("status") == "KO":
            assert answer.get("error") and not answer.get("error").startswith("Internal error")
    still_served(node, bystander)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_mutated_streams_before_login_get_one_refusal(node, bystander, seed):
    data = fuzz_input(random.Random(seed))
    with Wire(node, "unix", timeout=DEADLINE) as wire:
        wire.challenge()
        answers = exchange(wire, data)
    assert len(answers) <= 1
    for answer in answers:
        assert (answer.tag, answer.get("status")) == ("response", "KO")
    still_served(node, bystander)


@st.composite
def commands(draw: st.DrawFn) -> bytes:
    group, action = draw(st.sampled_from(ROUTES))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    attrs = {name: attribute_value(rng)
             for name in rng.sample(ATTRIBUTE_NAMES, rng.randint(0, 6)) if name}
    if action is not None:
        attrs["action"] = action
    parameters = [(attribute_value(rng), attribute_value(rng)) for _ in range(rng.randint(0, 2))]
    return Command.build(group, attrs, parameters).serialize()


@pytest.fixture(scope="module")
def admin(node):
    with client(node, transport="tcp") as connection:
        yield connection


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=commands())
def test_random_attributes_on_every_command_never_break_the_connection(node, admin, bystander,
                                                                        request):
    try:
        response = admin.exec(request)
    except ApiError as error:
        assert error.message, request
        assert not error.fatal, request
        assert not error.message.startswith("Internal error"), (request, error.message)
    else:
        assert response.get("status") == "OK"
    still_served(node, bystander)


def test_the_node_logged_no_crash(node, admin):
    assert "Traceback" not in node.output()


def test_the_fuzzer_reaches_every_command_group():
    assert {group for group, _ in ROUTES} >= {
        "workflow", "instance", "queue", "user", "storage", "notification", "git", "status"}


def integer_attribute_names() -> list[str]:
    """Every attribute the API handlers read as an integer (``get_int``/``get_long``), and the
    filters of ``instances list``: read from the source, so a new one is tested too."""
    source = Path(__file__).parents[2] / "src" / "evqueue" / "api"
    names = {match for path in source.glob("*.py")
             for match in re.findall(r'get_(?:int|long)\("([a-z_]+)"', path.read_text())}
    return sorted(names | {"filter_id", "filter_tag_id", "filter_schedule_id"})


@pytest.mark.parametrize("value", ["9223372036854775808", "-9223372036854775809",
                                   "99999999999999999999999999"])
def test_integers_past_64_bits_are_refused_on_every_command(node, admin, bystander, value):
    names = integer_attribute_names()
    assert {"id", "limit", "offset", "tid", "filter_id"} <= set(names)
    for group, action in ROUTES:
        for name in names:
            attrs = {name: value, **({"action": action} if action is not None else {})}
            request = Command.build(group, attrs, []).serialize()
            try:
                admin.exec(request)
            except ApiError as error:
                assert not error.fatal, request
                assert not error.message.startswith("Internal error"), (request, error.message)
                assert error.code != "SQL_ERROR", (request, error.message)
    still_served(node, bystander)
