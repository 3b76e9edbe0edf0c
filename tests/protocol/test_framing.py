"""ApiProtocol: turning the XML API byte stream into commands, with literal bytes, no loop."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evqueue.errors import (
    ApiError,
    IncompleteMessage,
    InvalidXml,
    MessageTooLarge,
    ProtocolError,
    XmlSyntaxError,
)
from evqueue.protocol.framing import (
    CLOSED,
    FEED_BLOCK,
    MAX_COMMAND_SIZE,
    NEED_DATA,
    ApiProtocol,
    parse_command,
)
from evqueue.protocol.messages import Command
from evqueue.protocol.response import Response, Transport


def drain(reader: ApiProtocol) -> list[Command]:
    """Return every command available now; stop at NEED_DATA or CLOSED."""
    commands: list[Command] = []
    # A reader that never stops returning commands would loop here forever: bound it.
    for _ in range(100_000):
        event = reader.next_event()
        if event is NEED_DATA or event is CLOSED:
            return commands
        assert isinstance(event, Command)
        commands.append(event)
    raise AssertionError("next_event never asked for data")


def read_all(*chunks: bytes, **kwargs: int) -> list[Command]:
    reader = ApiProtocol(**kwargs)
    commands: list[Command] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        commands += drain(reader)
    reader.receive_eof()
    commands += drain(reader)
    assert reader.next_event() is CLOSED
    return commands


def summary(commands: list[Command]) -> list[tuple[str, dict[str, str], tuple]]:
    return [(c.group, dict(c.attrs), c.parameters) for c in commands]


def fatal_error(*chunks: bytes, eof: bool = False, **kwargs: int) -> ApiError:
    reader = ApiProtocol(node="node1", **kwargs)
    with pytest.raises(ApiError) as caught:
        for chunk in chunks:
            reader.receive_data(chunk)
            drain(reader)
        if eof:
            reader.receive_eof()
            drain(reader)
    error = caught.value
    assert error.fatal
    # The reader is dead: the same error again, whatever arrives next.
    reader_error = error
    with pytest.raises(ApiError) as again:
        reader.next_event()
    assert again.value is reader_error
    return error


# --- complete messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"<ping/>",
        b"<ping />",
        b"<ping/>\n",
        b"<a/>",
        b"<ping></ping>",
        b"<?xml version='1.0'?><ping/>",
    ],
)
def test_short_message_is_complete_without_further_bytes(data: bytes) -> None:
    # evQueue stalls on these until more bytes arrive (protocol.md §1.3 quirk 1); we do not.
    reader = ApiProtocol()
    reader.receive_data(data)
    event = reader.next_event()
    assert isinstance(event, Command)
    assert event.group in ("ping", "a")
    assert reader.next_event() is NEED_DATA


def test_command_fields() -> None:
    data = (
        b"<instance action='launch' name='sleeper' user='bob' host='localhost' comment='hello'>"
        b"<parameter name='duration' value='2' /></instance>\n"
    )
    [command] = read_all(data)
    assert command.group == "instance"
    assert command.action == "launch"
    assert dict(command.attrs) == {
        "action": "launch",
        "name": "sleeper",
        "user": "bob",
        "host": "localhost",
        "comment": "hello",
    }
    assert command.parameters == (("duration", "2"),)
    assert command.element is not None and command.element.tag == "instance"


def test_php_client_message_with_declaration_and_blank_lines() -> None:
    data = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<instance action="launch" name="x"/>\n\n'
        b'<?xml version="1.0" encoding="utf-8"?>\n<quit/>\n\n'
    )
    assert [c.group for c in read_all(data)] == ["instance", "quit"]


def test_pipelined_messages_in_one_read_are_all_returned_in_order() -> None:
    # evQueue loses the second one (protocol.md §1.3 quirk 2).
    commands = read_all(b"<ping a='1'/>\n<ping a='2'/>\n<ping a='3'/>")
    assert [c.attrs["a"] for c in commands] == ["1", "2", "3"]


@pytest.mark.parametrize(("received", "more"), [
    (b"<ping/>", False),
    (b"<ping/>\r\n \t", False),
    (b"<ping/><ping/>", True),
    (b"<ping/>\n<pi", True),
    (b"<ping/><instance action='launch'", True),
])
def test_buffered_says_whether_a_next_message_has_begun(received: bytes, more: bool) -> None:
    protocol = ApiProtocol()
    protocol.receive_data(received)
    assert isinstance(protocol.next_event(), Command)
    assert protocol.buffered is more


def test_messages_without_separator() -> None:
    commands = read_all(b"<a/><b></b><c x='>'/>")
    assert [c.group for c in commands] == ["a", "b", "c"]


def test_whitespace_between_messages_is_skipped() -> None:
    commands = read_all(b"  \r\n\t<a/>\n\n \t<b/>\r\n")
    assert [c.group for c in commands] == ["a", "b"]


def test_only_whitespace_then_eof_is_a_clean_close() -> None:
    assert read_all(b" \n\n\t") == []


def test_utf8_byte_order_mark_is_accepted() -> None:
    [command] = read_all(b"\xef\xbb\xbf<ping/>")
    assert command.group == "ping"


def test_markup_like_text_inside_a_message_does_not_end_it() -> None:
    data = (
        b"<ping a='x&gt;&lt;/ping&gt;' b=\"/ping>\"><!-- </ping> -->"
        b"<![CDATA[</ping>]]><?pi </ping>?>t>e>x>t</ping><ping/>"
    )
    commands = read_all(data)
    assert [c.group for c in commands] == ["ping", "ping"]
    assert commands[0].attrs == {"a": "x></ping>", "b": "/ping>"}


@pytest.mark.parametrize(
    ("data", "attrs"),
    [
        (b"<a b='x/>'/><ping/>", {"b": "x/>"}),  # "/>" inside a value ends nothing
        (b"<a b='1>2'/><ping/>", {"b": "1>2"}),
        (b"<a b=\"&lt;&#47;&gt;\" c='&amp;'/><ping/>", {"b": "</>", "c": "&"}),
        (b"<a\n b='x'\n/><ping/>", {"b": "x"}),
    ],
)
def test_one_element_messages_read_as_a_whole_keep_their_exact_values(
        data: bytes, attrs: dict[str, str]) -> None:
    commands = read_all(data)
    assert [(c.group, dict(c.attrs)) for c in commands] == [("a", attrs), ("ping", {})]


def test_a_long_pipelined_batch_of_one_element_messages_comes_out_in_order() -> None:
    data = b"".join(b"<instance action='launch' name='w%d'/>" % i for i in range(500))
    assert [c.attrs["name"] for c in read_all(data)] == [f"w{i}" for i in range(500)]


def test_non_ascii_content_and_predefined_entities() -> None:
    [command] = read_all("<tag action='create' label='prod é ☃ &amp; &#65;'/>".encode())
    assert command.attrs["label"] == "prod é ☃ & A"


def test_declared_encoding_is_honoured() -> None:
    [command] = read_all(b"<?xml version='1.0' encoding='ISO-8859-1'?><tag label='\xe9'/>")
    assert command.attrs["label"] == "é"


# --- splitting --------------------------------------------------------------------------------

TWO_MESSAGES = (
    b"<?xml version='1.0'?>\n<instance action='launch' name='s>x'>"
    b"<parameter name='d' value='2'/></instance>\n<ping/>"
)
# Offsets just after each root element's closing '>'.
TWO_ENDS = (TWO_MESSAGES.index(b"</instance>") + len(b"</instance>"), len(TWO_MESSAGES))
TWO_SUMMARY = summary(read_all(TWO_MESSAGES))


def test_two_message_reference() -> None:
    assert [c for c, _, _ in TWO_SUMMARY] == ["instance", "ping"]
    assert TWO_SUMMARY[0][2] == (("d", "2"),)


@pytest.mark.parametrize("feed_block", [FEED_BLOCK, 5])
@pytest.mark.parametrize("split", range(len(TWO_MESSAGES) + 1))
def test_every_split_position_of_two_messages(split: int, feed_block: int) -> None:
    reader = ApiProtocol(feed_block=feed_block)
    reader.receive_data(TWO_MESSAGES[:split])
    first = drain(reader)
    # Each message is returned as soon as its root's last byte has arrived, never later.
    assert len(first) == sum(end <= split for end in TWO_ENDS)
    reader.receive_data(TWO_MESSAGES[split:])
    rest = drain(reader)
    assert summary(first + rest) == TWO_SUMMARY


@pytest.mark.parametrize("feed_block", [FEED_BLOCK, 1, 4])
def test_every_pair_of_split_positions(feed_block: int) -> None:
    data = b"<a x='1'>t</a>\n<b/><c><c/><d/></c>"
    expected = summary(read_all(data))
    for i, j in itertools.combinations(range(len(data) + 1), 2):
        chunks = (data[:i], data[i:j], data[j:])
        assert summary(read_all(*chunks, feed_block=feed_block)) == expected, (i, j)


def test_one_byte_at_a_time() -> None:
    chunks = [TWO_MESSAGES[i : i + 1] for i in range(len(TWO_MESSAGES))]
    assert summary(read_all(*chunks)) == TWO_SUMMARY


def test_root_closing_on_the_last_byte_of_a_chunk_then_next_message() -> None:
    reader = ApiProtocol()
    reader.receive_data(b"<ping a='1'/>")
    [first] = drain(reader)
    assert first.attrs["a"] == "1"
    reader.receive_data(b"<ping a='2'/><pi")
    [second] = drain(reader)
    assert second.attrs["a"] == "2"
    reader.receive_data(b"ng a='3'/>")
    [third] = drain(reader)
    assert third.attrs["a"] == "3"


def test_message_larger_than_a_feed_block_followed_by_another() -> None:
    big = b"x" * (3 * FEED_BLOCK)
    elements = b"<e a='>'/>" * (FEED_BLOCK // 4)
    data = b"<workflow content='" + big + b"'>" + elements + b"</workflow>\n<ping/>"
    for chunks in ([data], [data[: FEED_BLOCK + 7], data[FEED_BLOCK + 7 :]]):
        commands = read_all(*chunks)
        assert [c.group for c in commands] == ["workflow", "ping"]
        assert len(commands[0].attrs["content"]) == len(big)
        assert commands[0].element is not None
        assert len(commands[0].element) == FEED_BLOCK // 4


def test_long_message_with_elements_named_like_the_root() -> None:
    # Long messages are finished with a parser that only sees elements named like the root.
    data = b"<a>" + b"<a><a/>x</a>" * (FEED_BLOCK // 8) + b"</a>\n<a/>"
    assert len(data) > FEED_BLOCK
    commands = read_all(data)
    assert [c.group for c in commands] == ["a", "a"]
    assert commands[0].element is not None and len(commands[0].element) == FEED_BLOCK // 8


def test_errors_in_a_later_block_of_a_long_message() -> None:
    filler = b"<i/>" * FEED_BLOCK
    deep = b"<e>" * 6 + b"</e>" * 6
    assert isinstance(fatal_error(b"<r>" + filler + deep + b"</r>", max_depth=6), XmlSyntaxError)
    assert len(read_all(b"<r>" + filler + deep + b"</r>", max_depth=7)) == 1
    assert isinstance(fatal_error(b"<r>" + filler + b"<x></y></r>"), XmlSyntaxError)
    assert isinstance(fatal_error(b"<r>" + filler + b"</r><r", eof=True), IncompleteMessage)


def test_root_closing_in_a_later_block() -> None:
    # The root's end lies several blocks in, after many '>' bytes.
    data = b"<r>" + b"<i/>" * FEED_BLOCK + b"</r><after/>"
    commands = read_all(data)
    assert [c.group for c in commands] == ["r", "after"]
    assert commands[0].element is not None and len(commands[0].element) == FEED_BLOCK


# --- errors -----------------------------------------------------------------------------------


def test_garbage_gives_evqueue_error_response() -> None:
    reader = ApiProtocol(node="node1")
    reader.receive_data(b"hello world\n")
    with pytest.raises(XmlSyntaxError) as caught:
        reader.next_event()
    # protocol.md §9 E8, byte for byte.
    assert reader.send(caught.value) == (
        b'<response error="Invalid query XML structure : invalid document structure" '
        b'error-code="UNEXPECTED_EXCEPTION" node="node1" status="KO"/>\n'
    )


def test_mismatched_tags_give_evqueue_error_response() -> None:
    reader = ApiProtocol(node="node1")
    reader.receive_data(b"<ping a='1'>\n<oops></ping>\n")
    with pytest.raises(XmlSyntaxError) as caught:
        reader.next_event()
    assert reader.send(caught.value) == (
        b"<response error=\"Invalid query XML structure : expected end of tag 'oops'\" "
        b'error-code="UNEXPECTED_EXCEPTION" node="node1" status="KO"/>\n'
    )


def test_garbage_after_a_good_message_fails_only_after_it() -> None:
    reader = ApiProtocol()
    reader.receive_data(b"<ping/>\nhello world\n")
    assert isinstance(reader.next_event(), Command)
    with pytest.raises(XmlSyntaxError, match="invalid document structure"):
        reader.next_event()


@pytest.mark.parametrize(
    "data",
    [
        b"<a><b></a>",
        b"<a b='1' b='2'/>",
        b"<a b=1/>",
        b"<a>&undefined;</a>",
        b"<a b='&undefined;'/>",
        b"<a>\x01</a>",
        b"<a>&#0;</a>",
        b"<?xml version='1.0'?><?xml version='1.0'?><a/>",
        b"\n<a><<</a>",
        b"</a>",
    ],
)
def test_malformed_xml_is_fatal(data: bytes) -> None:
    error = fatal_error(data, eof=True)
    assert isinstance(error, XmlSyntaxError)
    assert error.message.startswith("Invalid query XML structure : ")
    assert error.code == "UNEXPECTED_EXCEPTION"


@pytest.mark.parametrize(
    "data",
    [b"<a>\xff</a>", b"<a b='\xc3'/>", b"<a>\xc3\x28</a>", b"<\xe2\x82a/>", b"<a>\xed\xa0\x80</a>"],
)
def test_invalid_utf8_is_fatal(data: bytes) -> None:
    assert isinstance(fatal_error(data, eof=True), XmlSyntaxError)


def test_invalid_utf8_split_mid_sequence() -> None:
    assert isinstance(fatal_error(b"<a>\xe2\x82", b"x</a>"), XmlSyntaxError)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x a="&xxe;"/>',
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><x/>',
        b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>',
        b'<!DOCTYPE x [<!ENTITY i "internal">]><x a="&i;">&i;</x>',
        b"<!DOCTYPE x><x/>",
    ],
)
def test_any_dtd_is_refused(data: bytes) -> None:
    error = fatal_error(data, eof=True)
    assert isinstance(error, XmlSyntaxError)
    assert b"root:" not in error.message.encode()  # nothing of /etc/passwd leaks


def test_oversized_message_is_fatal_as_soon_as_it_passes_the_limit() -> None:
    assert MAX_COMMAND_SIZE >= 1024 * 1024
    reader = ApiProtocol(max_size=100)
    reader.receive_data(b"<a b='" + b"x" * 60)
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"x" * 40)  # 106 bytes, root still open: can only grow
    with pytest.raises(MessageTooLarge) as caught:
        reader.next_event()
    assert caught.value.fatal and caught.value.code == "UNEXPECTED_EXCEPTION"


def test_message_of_exactly_max_size_is_accepted() -> None:
    message = b"<a b='" + b"x" * 88 + b"'/>"
    assert len(message) == 97
    assert [c.group for c in read_all(message + b"\n<c/>", max_size=97)] == ["a", "c"]
    assert isinstance(fatal_error(message, max_size=96), MessageTooLarge)


def test_size_limit_applies_per_message_not_per_read() -> None:
    data = b"<ping/>\n" * 50
    assert len(read_all(data, max_size=16)) == 50


def test_size_limit_can_be_changed_between_messages() -> None:
    reader = ApiProtocol(max_size=32)
    reader.receive_data(b"<auth response='x' user='admin'/>")
    with pytest.raises(MessageTooLarge):
        reader.next_event()
    reader = ApiProtocol(max_size=64)
    reader.receive_data(b"<auth response='x' user='admin'/>")
    assert isinstance(reader.next_event(), Command)
    reader.max_size = 16
    reader.receive_data(b"<ping a='0123456789'/>")
    with pytest.raises(MessageTooLarge):
        reader.next_event()


def test_nesting_limit() -> None:
    def nested(depth: int) -> bytes:
        return b"<e>" * depth + b"</e>" * depth

    assert len(read_all(nested(5), max_depth=5)) == 1
    assert isinstance(fatal_error(nested(6), max_depth=5), XmlSyntaxError)
    assert isinstance(fatal_error(nested(10_000)), XmlSyntaxError)


def test_eof_in_the_middle_of_a_message() -> None:
    reader = ApiProtocol()
    reader.receive_data(b"<ping/>\n<instance action='la")
    assert isinstance(reader.next_event(), Command)
    assert reader.next_event() is NEED_DATA
    reader.receive_eof()
    with pytest.raises(IncompleteMessage):
        reader.next_event()


def test_eof_before_the_root_element() -> None:
    assert isinstance(fatal_error(b"<?xml version='1.0'?>", eof=True), IncompleteMessage)
    assert isinstance(fatal_error(b"<", eof=True), IncompleteMessage)


def test_data_after_eof_is_a_usage_error() -> None:
    reader = ApiProtocol()
    reader.receive_eof()
    assert reader.next_event() is CLOSED
    with pytest.raises(RuntimeError):
        reader.receive_data(b"<ping/>")


def test_data_after_a_fatal_error_is_ignored() -> None:
    reader = ApiProtocol()
    reader.receive_data(b"junk")
    with pytest.raises(XmlSyntaxError) as caught:
        reader.next_event()
    reader.receive_data(b"<ping/>")
    with pytest.raises(XmlSyntaxError) as again:
        reader.next_event()
    assert again.value is caught.value


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ApiProtocol(max_size=0)
    with pytest.raises(ValueError):
        ApiProtocol(max_depth=0)
    with pytest.raises(ValueError):
        ApiProtocol(feed_block=0)


# --- namespaces (evQueue dispatches on the qualified name) ------------------------------------


def test_namespaced_root_uses_the_qualified_name() -> None:
    commands = read_all(b"<ping xmlns='urn:x'/><p:ping xmlns:p='urn:x' p:a='1' b='2'/>")
    assert [c.group for c in commands] == ["ping", "p:ping"]
    assert dict(commands[1].attrs) == {"p:a": "1", "b": "2"}


# --- sending ----------------------------------------------------------------------------------


def test_send_frames_for_the_transport() -> None:
    stream = ApiProtocol(node="node1")
    websocket = ApiProtocol(node="node1", transport=Transport.WEBSOCKET)
    response = Response.success({"workflow-id": 1})
    expected = b'<response node="node1" status="OK" workflow-id="1"/>'
    assert stream.send(response) == expected + b"\n"
    assert websocket.send(response) == expected


# --- websocket messages -----------------------------------------------------------------------


def test_parse_command_one_document() -> None:
    command = parse_command('<workflows action="list"/>')
    assert (command.group, command.action) == ("workflows", "list")
    assert parse_command(b"<?xml version='1.0'?>\n<ping/>\n").group == "ping"


@pytest.mark.parametrize(
    "data",
    [b"", b"  ", b"<auth response='x'", b"<a/><b/>", b"hello", b"<a></b>", b"<a/>junk"],
)
def test_parse_command_refuses_anything_but_one_document(data: bytes) -> None:
    with pytest.raises(InvalidXml) as caught:
        parse_command(data)
    error = caught.value
    assert (error.message, error.code, error.fatal) == ("Invalid XML document", "INVALID_XML", True)


# --- properties -------------------------------------------------------------------------------

XMLISH = st.lists(
    st.sampled_from(
        [
            b"<",
            b">",
            b"/",
            b"a",
            b"b",
            b"=",
            b"'",
            b'"',
            b" ",
            b"\n",
            b"<?xml version='1.0'?>",
            b"<!--",
            b"-->",
            b"<![CDATA[",
            b"]]>",
            b"&amp;",
            b"&",
            b";",
            b"<!DOCTYPE a>",
            b"\xc3",
            b"\xff",
            b"<a>",
            b"</a>",
            b"<a/>",
            b"?>",
            b"<?",
            b"x='>'",
        ]
    ),
    max_size=40,
).map(b"".join)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[i:j] for i, j in itertools.pairwise(bounds)]


BLOCKS = st.sampled_from([FEED_BLOCK, 1, 2, 3, 8])


def feed_everything(chunks: list[bytes], feed_block: int) -> None:
    """Feed chunks; only commands, NEED_DATA, CLOSED or our own errors may come out."""
    reader = ApiProtocol(max_size=512, max_depth=8, feed_block=feed_block)
    try:
        for chunk in chunks:
            reader.receive_data(chunk)
            drain(reader)
        reader.receive_eof()
        drain(reader)
        assert reader.next_event() is CLOSED
    except ProtocolError as error:
        assert error.fatal
        assert error.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=600),
    points=st.lists(st.integers(min_value=0), max_size=8),
    feed_block=BLOCKS,
)
def test_random_bytes_only_raise_protocol_errors(
    data: bytes, points: list[int], feed_block: int
) -> None:
    feed_everything(cut(data, points), feed_block)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=XMLISH, points=st.lists(st.integers(min_value=0), max_size=8), feed_block=BLOCKS)
def test_xml_like_bytes_only_raise_protocol_errors(
    data: bytes, points: list[int], feed_block: int
) -> None:
    feed_everything(cut(data, points), feed_block)


NAMES = st.sampled_from(["ping", "instance", "workflow", "a", "x-y", "q.z", "_u"])
# Characters XML 1.0 allows in attribute values (tab and newline survive as char references).
VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF) | st.sampled_from("\t\n\r"),
    max_size=12,
)


@st.composite
def messages(draw: st.DrawFn) -> Command:
    keys = st.sampled_from(["action", "id", "name", "k"])
    attrs = draw(st.dictionaries(keys, VALUES, max_size=3))
    params = draw(st.lists(st.tuples(VALUES, VALUES), max_size=3))
    return Command.build(draw(NAMES), attrs, params)


@settings(max_examples=150)
@given(
    commands=st.lists(messages(), min_size=1, max_size=5),
    separators=st.lists(st.sampled_from([b"", b"\n", b"\n\n", b" \t\r\n"]), min_size=5, max_size=5),
    declaration=st.booleans(),
    points=st.lists(st.integers(min_value=0), max_size=10),
    feed_block=BLOCKS,
)
def test_valid_streams_survive_any_chunking(
    commands: list[Command],
    separators: list[bytes],
    declaration: bool,
    points: list[int],
    feed_block: int,
) -> None:
    prefix = b"<?xml version='1.0' encoding='utf-8'?>\n" if declaration else b""
    data = b"".join(
        prefix + c.serialize() + sep
        for c, sep in zip(commands, separators[: len(commands)], strict=True)
    )
    commands_read = read_all(*cut(data, points), feed_block=feed_block)
    assert summary(commands_read) == summary(commands)
