"""Sans-I/O reader of the XML API byte stream: bytes in, :class:`Command` objects out.

evQueue has no length prefix and no delimiter: a message is complete when its root element
closes (protocol.md §1.3). :class:`ApiProtocol` reads that stream incrementally:

- ``receive_data(bytes)`` buffers bytes, ``receive_eof()`` records the end of the stream;
- ``next_event()`` returns the next :class:`Command`, :data:`NEED_DATA` when more bytes are
  needed, or :data:`CLOSED` once the stream has ended cleanly between messages;
- errors are **raised**, never returned: every problem with the stream is a fatal
  :class:`~evqueue.errors.ProtocolError` (``Invalid query XML structure : …``,
  UNEXPECTED_EXCEPTION). After one, the reader is dead and ``next_event()`` raises the same
  error again; the caller sends ``error_response(err)`` and closes the connection;
- ``send(response)`` returns the bytes to write, framed for the transport.

What is accepted, as a superset of evQueue: a message ends as soon as its root closes, without
waiting for more bytes (a 7-byte ``<ping/>`` is answered at once); an XML declaration is
allowed; whitespace between messages is skipped; several messages in one read are all returned
in order, the bytes after a complete message are kept for the next one.

How the end of the root is found without scanning XML ourselves: each message gets its own
lxml ``XMLPullParser``. Bytes are fed in blocks of at most :data:`FEED_BLOCK`, and a block is
fed *piecewise*: cut after each ``>`` byte, with the parser's events checked after every
piece. A root element can only end on a ``>``, and libxml2 reports an end tag as soon as its
``>`` has been fed, so the root's end is found on the exact byte and everything after it
stays in the buffer. Only the first block of a message is fed piecewise straight away (it is
usually the whole message). Later blocks are fed whole; one that neither closes the root nor
fails is committed. One that closes the root or fails (the failure may come from bytes
*after* the root, which libxml2 calls "extra content") is replayed piecewise on a fresh
parser, after the committed bytes. Piecewise feeding costs about a microsecond per ``>``, so
it is bounded to two blocks per message whatever the message size; the replays of a long
message use parsers that only report elements named like the root (see
:class:`_MessageParser`), which keeps a multi-block message at about twice the cost of a
plain parse.

Security: no DTD is accepted (a ``<!DOCTYPE`` is an error, which also refuses entity
declarations: billion laughs, XXE), no network or external entity is ever loaded, messages are
limited to ``max_size`` bytes, ``max_depth`` nested elements and, beyond their last block,
``max_tags`` tags (a parsed element costs some 40 times its bytes in memory), and bytes that
are not valid in the document's encoding (UTF-8 by default) are an error.

No sockets, no event loop, no clock: this module only transforms bytes.
"""

from __future__ import annotations

import enum
import re

from lxml import etree

from evqueue.errors import (
    ApiError,
    IncompleteMessage,
    InvalidXml,
    MessageTooLarge,
    XmlSyntaxError,
)
from evqueue.protocol.messages import Command
from evqueue.protocol.response import Response, Transport, error_response, frame, serialize

__all__ = [
    "CLOSED",
    "FEED_BLOCK",
    "MAX_COMMAND_SIZE",
    "MAX_DEPTH",
    "MAX_TAGS",
    "NEED_DATA",
    "ApiProtocol",
    "Signal",
    "parse_command",
]

#: Default limit of one message, in bytes (declaration included, leading whitespace not).
MAX_COMMAND_SIZE = 4 * 1024 * 1024
#: Default limit of element nesting in one message (the root is depth 1).
MAX_DEPTH = 128
#: Largest block fed to the parser at once; bounds the cost of locating a message's end.
FEED_BLOCK = 64 * 1024
#: Default limit of markup (``<``: tags, comments, CDATA) in the blocks of a long message
#: before its last one. A parsed element costs about 600 bytes of memory: 11 MB of
#: ``<parameter/>`` elements grew the engine by 230 MB, and 16 MB of ``<a/>`` would take
#: 2.4 GB, where commands carry a few dozen elements. With the last block (at most
#: ``FEED_BLOCK / 2`` tags), a message parses into at most some 130,000 elements, 80 MB.
MAX_TAGS = 100_000

_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
# A message starts with '<' (element, declaration, comment) or a UTF-8 byte order mark.
_VALID_FIRST_BYTES = (ord("<"), 0xEF)
#: The fast path for a message that is one empty element: its name starts with an ASCII
#: letter or "_", and it is parsed as the general path's parser would (nothing external,
#: internal entities only).
_SLASH = ord("/")
_NAME_START_BYTES = frozenset(b"_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_EMPTY_ELEMENT_PARSER = etree.XMLParser(resolve_entities="internal", no_network=True,
                                        load_dtd=False, dtd_validation=False, huge_tree=False)


class Signal(enum.Enum):
    """Non-message results of :meth:`ApiProtocol.next_event`."""

    #: Every buffered byte has been used; call ``receive_data`` again.
    NEED_DATA = "NEED_DATA"
    #: The stream ended between two messages; nothing more will come.
    CLOSED = "CLOSED"


NEED_DATA = Signal.NEED_DATA
CLOSED = Signal.CLOSED


class _MessageParser:
    """One pull parser for one message: tracks open elements and spots the root's end.

    In *full* mode (``root_tag`` None) it receives an event for every element: it knows the
    open elements, checks the nesting depth as it goes and names the element a bad end tag
    should have closed. Once the root's name is known, a long message switches to *filtered*
    mode: lxml only reports elements named like the root, about three times cheaper, and the
    root has closed when no element of that name is open any more. Depth is then checked
    on the complete element (:meth:`check_depth`); libxml2's own limit of 256 levels
    bounds the parse meanwhile.
    """

    def __init__(self, max_depth: int, root_tag: str | None = None) -> None:
        self._parser = etree.XMLPullParser(
            events=("start", "end"),
            tag=root_tag,
            # "internal" (lxml's default) rather than False: with False, libxml2 silently
            # stalls on an undeclared entity reference instead of reporting it. Nothing
            # external is ever loaded, and a DOCTYPE (the only place to declare an internal
            # entity) is refused below.
            resolve_entities="internal",
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
        )
        self.filtered = root_tag is not None
        self._max_depth = max_depth
        self._open: list[str] = []
        self._started = False
        self.root: etree._Element | None = None

    def feed(self, data: bytes) -> bool:
        """Parse ``data``; return True when the root element has closed.

        Raises:
            XmlSyntaxError: malformed XML, a DOCTYPE, or nesting beyond the limit.
        """
        if not data:
            return False
        if not self._started:
            self._started = True
            # lxml keeps a first feed of 4 bytes or less in the parser's start-up buffer
            # without parsing it, so "<a/>" would never complete. Feeding the first byte
            # alone makes every later feed parse at once.
            self._feed(data[:1])
            data = data[1:]
        return self._feed(data) if data else False

    def check_depth(self) -> None:
        """Check the nesting of the complete message (needed after filtered parsing).

        Raises:
            XmlSyntaxError: an element lies deeper than the limit.
        """
        assert self.root is not None
        # One XPath step per level, evaluated in C: is anything at depth max_depth + 1?
        if self.root.xpath("boolean(/" + "/".join(["*"] * (self._max_depth + 1)) + ")"):
            raise XmlSyntaxError(f"nesting deeper than {self._max_depth} elements")

    def _feed(self, data: bytes) -> bool:
        try:
            self._parser.feed(data)
        except etree.XMLSyntaxError as exc:
            raise XmlSyntaxError(self._describe(exc)) from exc
        return self._drain()

    def _drain(self) -> bool:
        closed = False
        for event, element in self._parser.read_events():
            if event == "start":
                if self.root is None:
                    self.root = element
                    if element.getroottree().docinfo.doctype:
                        raise XmlSyntaxError("DOCTYPE is not allowed")
                self._open.append(element.tag)
                if len(self._open) > self._max_depth:
                    raise XmlSyntaxError(f"nesting deeper than {self._max_depth} elements")
            else:
                self._open.pop()
                closed = not self._open
        return closed

    def _describe(self, exc: etree.XMLSyntaxError) -> str:
        # Xerces' wording for the one case clients commonly see (protocol.md §9 E8).
        if exc.code == etree.ErrorTypes.ERR_TAG_NAME_MISMATCH and self._open and not self.filtered:
            return f"expected end of tag '{self._open[-1]}'"
        return str(exc.msg)


class ApiProtocol:
    """Incremental reader/writer of one XML API connection (TCP, unix socket or websocket).

    Args:
        node: this side's node name, written in responses by :meth:`send`.
        transport: how sent messages are framed.
        max_size: largest accepted message, in bytes. May be changed between messages, for
            instance kept small until the peer has authenticated.
        max_depth: deepest accepted element nesting.
        max_tags: most markup (``<``) in the bytes of a message beyond its last block, which
            bounds the memory its parse takes (:data:`MAX_TAGS`).
        feed_block: largest block fed to the parser at once (:data:`FEED_BLOCK`); a small
            value makes every message take the long-message path.
    """

    def __init__(
        self,
        *,
        node: str = "localhost",
        transport: Transport = Transport.STREAM,
        max_size: int = MAX_COMMAND_SIZE,
        max_depth: int = MAX_DEPTH,
        feed_block: int = FEED_BLOCK,
        max_tags: int = MAX_TAGS,
    ) -> None:
        if min(max_size, max_depth, feed_block, max_tags) < 1:
            raise ValueError("max_size, max_depth, feed_block and max_tags must be positive")
        self.node = node
        self.transport = transport
        self.max_size = max_size
        self.max_depth = max_depth
        self.max_tags = max_tags
        self._tags = 0  # markup in the committed bytes of the current message
        self.feed_block = feed_block
        self._buffer = bytearray()  # received, not yet fed to the current parser
        self._committed = bytearray()  # fed to the current parser, root still open
        self._parser: _MessageParser | None = None  # None until a block is committed
        self._in_message = False
        self._eof = False
        self._error: ApiError | None = None

    # --- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes received from the peer (empty bytes are ignored).

        Raises:
            RuntimeError: called after :meth:`receive_eof`.
        """
        if self._eof:
            raise RuntimeError("data received after end of stream")
        if self._error is None:
            self._buffer += data

    def receive_eof(self) -> None:
        """Record that the peer will send nothing more."""
        self._eof = True

    @property
    def buffered(self) -> bool:
        """Whether part of a next message is already received (more than whitespace): a
        server answering pipelined commands can wait for their replies to go together."""
        return self._in_message or _NOT_WHITESPACE.search(self._buffer) is not None

    def next_event(self) -> Command | Signal:
        """Return the next complete message, :data:`NEED_DATA` or :data:`CLOSED`.

        Raises:
            ProtocolError: the stream is not a sequence of acceptable XML messages (fatal; the
                same error is raised by every later call).
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except ApiError as exc:
            self._error = exc
            self._buffer.clear()
            self._committed.clear()
            self._tags = 0
            self._parser = None
            self._in_message = False
            raise

    # --- output ---------------------------------------------------------------------------

    def send(self, response: Response | ApiError) -> bytes:
        """Return the framed bytes of a response (or of the KO response for an error)."""
        if isinstance(response, ApiError):
            return frame(error_response(response, self.node), self.transport)
        return frame(serialize(response, node=self.node), self.transport)

    # --- internals ------------------------------------------------------------------------

    def _next_event(self) -> Command | Signal:
        while not self._in_message:
            if not self._start_message():
                return CLOSED if self._eof else NEED_DATA
        if self._parser is None and (command := self._empty_element()) is not None:
            return command
        while self._buffer:
            command = self._feed_block()
            if command is not None:
                return command
        if self._eof:
            raise IncompleteMessage()
        return NEED_DATA

    def _empty_element(self) -> Command | None:
        """The message at the start of the buffer when it is one empty element (``<ping/>``,
        most commands), parsed in one call; None sends it the general way, which also gives
        every error its exact wording."""
        buffer = self._buffer
        end = buffer.find(b">", 0, self.max_size)
        if end < 2 or buffer[end - 1] != _SLASH or buffer[1] not in _NAME_START_BYTES:
            return None
        try:
            root = etree.fromstring(bytes(buffer[: end + 1]), _EMPTY_ELEMENT_PARSER)
        except etree.XMLSyntaxError:
            return None  # e.g. a ">" inside an attribute value
        del buffer[: end + 1]
        self._in_message = False
        return Command.from_element(root)

    def _start_message(self) -> bool:
        """Skip whitespace between messages; return whether a message has begun."""
        # Only the skipped bytes are scanned, so many small messages in one buffer stay linear.
        first = _NOT_WHITESPACE.search(self._buffer)
        if first is None:
            self._buffer.clear()
            return False
        del self._buffer[: first.start()]
        if self._buffer[0] not in _VALID_FIRST_BYTES:
            # Xerces' message for text where a document should start (protocol.md §9 E8).
            raise XmlSyntaxError("invalid document structure")
        self._in_message = True
        return True

    def _feed_block(self) -> Command | None:
        """Feed one block of the buffer; return the command if the root closed in it."""
        size = min(self.max_size - len(self._committed), self.feed_block, len(self._buffer))
        if self._parser is None:
            # First block of a message: usually the whole message, so cut it at once.
            return self._feed_piecewise(size)
        try:
            closed = self._parser.feed(bytes(self._buffer[:size]))
        except XmlSyntaxError:
            closed = True  # perhaps only bytes after the root's end: the replay decides
        if closed:
            return self._feed_piecewise(size)
        self._commit(self._parser, size)
        return None

    def _feed_piecewise(self, size: int) -> Command | None:
        """Feed the next ``size`` buffered bytes to a fresh parser, cut after each ``>``.

        The fresh parser first gets the committed bytes (known not to close the root). Only
        the bytes up to the root's end are copied out of the buffer.
        """
        parser = self._new_parser()
        buffer = self._buffer
        start = 0
        while (end := buffer.find(b">", start, size)) >= 0:
            end += 1
            if parser.feed(bytes(buffer[start:end])):
                return self._complete(parser, end)
            start = end
        parser.feed(bytes(buffer[start:size]))
        self._commit(parser, size)
        return None

    def _new_parser(self) -> _MessageParser:
        root_tag = None
        if self._parser is not None and self._parser.root is not None:
            root_tag = _filter_tag(self._parser.root.tag)
        parser = _MessageParser(self.max_depth, root_tag)
        committed = self._committed
        # Block by block: one feed of more than 10 MB is refused by libxml2 ("Buffer size
        # limit exceeded"), which would cap messages below network.message.maxsize.
        for start in range(0, len(committed), self.feed_block):
            parser.feed(bytes(committed[start:start + self.feed_block]))
        return parser

    def _complete(self, parser: _MessageParser, end: int) -> Command:
        """The root closed at ``end`` in the buffer: consume the message and return it."""
        assert parser.root is not None
        if parser.filtered:
            parser.check_depth()
        del self._buffer[:end]
        self._committed.clear()
        self._tags = 0
        self._parser = None
        self._in_message = False
        return Command.from_element(parser.root)

    def _commit(self, parser: _MessageParser, size: int) -> None:
        """Record that ``parser`` has consumed ``size`` more bytes and the root is still open."""
        self._parser = parser
        self._committed += self._buffer[:size]
        self._tags += self._buffer.count(b"<", 0, size)
        if self._tags > self.max_tags:
            raise XmlSyntaxError(f"more than {self.max_tags} tags in one message")
        del self._buffer[:size]
        # A message of exactly max_size bytes closes its root on its last byte; one that is
        # still open at max_size bytes is too large, whatever comes next.
        if len(self._committed) >= self.max_size:
            raise MessageTooLarge(self.max_size)
        if not parser.filtered and parser.root is not None and _filter_tag(parser.root.tag):
            # A long message: go on with a parser that only reports elements named like the
            # root (replaying the committed bytes once).
            self._parser = self._new_parser()


def _filter_tag(tag: str) -> str | None:
    """The root's name as lxml's tag filter takes it, or None if the filter cannot match it.

    A name with an undeclared prefix (``x:y``) is reported as is, but the filter would read
    the colon as a separator and never match: such a message is read in full mode.
    """
    return None if ":" in tag and not tag.startswith("{") else tag


def parse_command(
    data: bytes | str, *, max_size: int = MAX_COMMAND_SIZE, max_depth: int = MAX_DEPTH
) -> Command:
    """Parse one websocket message, which must hold exactly one XML document.

    Args:
        data: the frame's payload (a text frame as str is encoded to UTF-8).
        max_size: largest accepted message, in bytes.
        max_depth: deepest accepted element nesting.

    Returns:
        The command.

    Raises:
        InvalidXml: ``Invalid XML document`` (fatal, evQueue closes the websocket with 1011)
            when the payload is not exactly one acceptable document.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    reader = ApiProtocol(max_size=max_size, max_depth=max_depth)
    reader.receive_data(data)
    reader.receive_eof()
    try:
        command = reader.next_event()
        rest = reader.next_event()
    except ApiError as exc:
        raise InvalidXml(fatal=True) from exc
    if not isinstance(command, Command) or rest is not CLOSED:
        raise InvalidXml(fatal=True)
    return command
