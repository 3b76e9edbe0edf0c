"""Fuzzing the stream reader (``protocol/framing.py``) with hostile and mutated input.

What must hold for ANY bytes, cut ANY way:
- the reader only yields commands, ``NEED_DATA`` or ``CLOSED``, or raises one fatal
  ``ProtocolError`` with a message, and raises that same error again afterwards;
- the outcome does not depend on how the bytes were cut: the same commands, then a refusal or
  not (the wording may differ at the end of the stream: libxml2 reports some errors of a
  declaration cut in pieces only at the end, so it reads as an incomplete message);
- it answers quickly (no input makes it spin or grow without bound);
- entities are never expanded and nothing external is ever read: no file content in any
  command, no connection to a listener named by the document.
"""

from __future__ import annotations

import itertools
import random
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evqueue.protocol import CLOSED, NEED_DATA, ApiError, ApiProtocol, Command, ProtocolError
from tests.security.fuzzdata import ATTACKS, CORPUS, deep_nesting, fuzz_input, xxe_documents

Outcome = tuple[tuple[bytes, ...], str | None]


def run(chunks: list[bytes], *, max_size: int = 4 * 1024 * 1024) -> Outcome:
    """Feed chunks to a reader, then EOF: (commands read, failure class or None)."""
    reader = ApiProtocol(max_size=max_size)
    commands: list[bytes] = []
    try:
        for chunk in [*chunks, None]:
            if chunk is None:
                reader.receive_eof()
            else:
                reader.receive_data(chunk)
            while True:
                event = reader.next_event()
                if event is NEED_DATA or event is CLOSED:
                    break
                assert isinstance(event, Command)
                commands.append(_use(event))
            if event is CLOSED:
                return tuple(commands), None
        raise AssertionError("EOF was received but the reader did not say CLOSED")
    except ProtocolError as error:
        assert error.fatal and error.message
        with pytest.raises(type(error)) as again:
            reader.next_event()
        assert again.value is error, "a dead reader repeats its error"
        return tuple(commands), type(error).__name__


def _use(command: Command) -> bytes:
    """Read a command the way handlers do; only typed API errors may come out."""
    for name in list(command.attrs)[:50]:  # the rules are per attribute: 50 tell them all
        command.get_str(name)
        for accessor in (command.get_int, command.get_long, command.get_bool):
            try:
                accessor(name)
            except ApiError as error:
                assert not error.fatal and error.code
    return command.serialize()


def cut(data: bytes, rng: random.Random) -> list[bytes]:
    points = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 6)))
    bounds = [0, *points, len(data)]
    return [data[i:j] for i, j in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_input_is_read_or_refused_the_same_way_whatever_the_cuts(seed):
    rng = random.Random(seed)
    data = fuzz_input(rng)
    start = time.monotonic()
    whole = run([data])
    pieces = run(cut(data, rng))
    elapsed = time.monotonic() - start
    assert (pieces[0], pieces[1] is None) == (whole[0], whole[1] is None), (pieces, whole)
    # Generous for a loaded 2-core machine (the worst input takes 0.5 s alone); a parser that
    # spins or goes quadratic takes minutes.
    assert elapsed < 10.0, f"{elapsed:.2f}s for {len(data)} bytes"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_documents_are_refused_or_inert(name):
    data = ATTACKS[name]
    start = time.monotonic()
    commands, failure = run([data])
    assert time.monotonic() - start < 3.0
    for command in commands:
        assert b"root:" not in command, "file content leaked into a command"
        assert b"lollol" not in command, "an entity was expanded"
        assert b"PATH=" not in command
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        assert failure == "XmlSyntaxError" and not commands


def test_every_corpus_command_is_read_intact():
    commands, failure = run([b"\n".join(CORPUS)])
    assert failure is None
    assert len(commands) == len(CORPUS)


def test_nesting_is_refused_at_the_limit_without_recursion():
    assert run([deep_nesting(126)])[1] is None  # the root plus 126 levels: 127
    assert run([deep_nesting(500)])[1] == "XmlSyntaxError"
    start = time.monotonic()
    assert run([deep_nesting(1_000_000)])[1] == "XmlSyntaxError"
    assert time.monotonic() - start < 3.0


def test_huge_attribute_within_the_limit_is_read_once_past_it_refused():
    value = b"v" * (1024 * 1024)
    commands, failure = run([b"<ping a='" + value + b"'/>"], max_size=2 * 1024 * 1024)
    assert failure is None and len(commands) == 1
    commands, failure = run([b"<ping a='" + value * 3 + b"'/>"], max_size=2 * 1024 * 1024)
    assert (commands, failure) == ((), "MessageTooLarge")


def test_a_flood_of_tiny_elements_is_cut_at_the_tag_limit():
    # 16 MB of "<a/>" would parse into 4 million elements, some 2.4 GB of memory.
    start = time.monotonic()
    commands, failure = run([b"<ping>" + b"<a/>" * 4_000_000 + b"</ping>"],
                            max_size=16 * 1024 * 1024)
    assert (commands, failure) == ((), "XmlSyntaxError")
    assert time.monotonic() - start < 3.0
    assert run([b"<ping>" + b"<a/>" * 90_000 + b"</ping>"])[1] is None


def test_an_endless_stream_is_cut_at_the_limit():
    reader = ApiProtocol(max_size=64 * 1024)
    reader.receive_data(b"<ping a='")
    with pytest.raises(ProtocolError) as error:
        for _ in range(1000):  # 64 MB offered, 64 KB kept
            reader.receive_data(b"x" * 65536)
            assert reader.next_event() is NEED_DATA
    assert type(error.value).__name__ == "MessageTooLarge"


@pytest.fixture
def listener():
    """An HTTP-looking TCP listener on 127.0.0.1 that records whether anyone connected."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}/evil.dtd"


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.mark.parametrize("kind", sorted(xxe_documents("http://x/")))
def test_nothing_external_is_ever_fetched(listener, kind):
    sock, url = listener
    commands, failure = run([xxe_documents(url)[kind]])
    assert _connections(sock) == 0
    assert failure is not None or all(b"evil" not in c or b"href" in c or b"Location" in c
                                      for c in commands)
