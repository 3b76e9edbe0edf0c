"""Safe XML parsing and schema validation, for every document the node reads: definitions,
retry schedules, and the engine's savepoints and task outputs.

Rules:
- Documents never load a DTD, expand an entity or touch the network; a document with a DOCTYPE
  is refused outright, so nothing a client sends can make the engine read a file or a URL.
  Task outputs (``allow_doctype``) may name a DTD they do not declare anything in (an SVG, a
  plist): the DOCTYPE is ignored, and an entity declaration or reference still refuses them, as
  it could neither be expanded nor be kept in the instance XML.
- ``str`` input is already text: its encoding declaration, if any, is ignored. ``bytes`` input
  is decoded as the document declares (UTF-8 by default).
- Every failure is INVALID_XML. Grammar failures read ``<message> on line <n>``, one line per
  problem, which is evQueue's layout (its texts come from Xerces, ours from libxml2).
- Schemas are the package's own ``*.xsd`` files, compiled once per process.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.resources import files

from lxml import etree

from evqueue.errors import InvalidXml

__all__ = ["load_schema", "parse_xml", "validate_against"]


def _new_parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        encoding=encoding,
    )


class _Parsers(threading.local):
    """One parser per encoding and thread, used again for every document: a document keeps
    the parser it came from alive, and a parser of its own would cost each instance tree
    3 KB more than the tree itself. (An lxml parser is not for two threads at once; its error
    log starts afresh with each document.)"""

    def __init__(self) -> None:
        self.by_encoding: dict[str | None, etree.XMLParser] = {}


_PARSERS = _Parsers()


def _safe_parser(encoding: str | None = None) -> etree.XMLParser:
    parser = _PARSERS.by_encoding.get(encoding)
    if parser is None:
        parser = _PARSERS.by_encoding[encoding] = _new_parser(encoding)
    return parser


def parse_xml(xml: str | bytes, *, allow_doctype: bool = False) -> etree._Element:
    """Parse a document safely: no DTD, no entities, no network.

    Args:
        xml: the document; ``str`` is taken as already decoded (any encoding declaration is
            ignored), ``bytes`` are decoded as the document declares (UTF-8 by default).
        allow_doctype: accept a DOCTYPE that declares no entity (it is not read) when the
            document holds no entity reference (task outputs).

    Returns:
        The root element.

    Raises:
        InvalidXml: the document is not well formed or has a DOCTYPE.
    """
    if isinstance(xml, str):
        data, parser = xml.encode("utf-8"), _safe_parser("utf-8")
    else:
        data, parser = xml, _safe_parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidXml(f"Invalid XML document : {exc}") from None
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if not (docinfo.doctype or dtd is not None):
        return root
    if not allow_doctype:
        raise InvalidXml("Invalid XML document : DOCTYPE is not allowed")
    if (dtd is not None and next(dtd.iterentities(), None) is not None) or next(
            root.iter(etree.Entity), None) is not None:
        raise InvalidXml("Invalid XML document : entities are not allowed")
    return root


@cache
def load_schema(name: str) -> etree.XMLSchema:
    """Load one of the package's XML schemas (``workflow.xsd``, ``retry_schedule.xsd``)."""
    data = files("evqueue.model").joinpath(name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, _safe_parser()))


def validate_against(schema_name: str, root: etree._Element) -> None:
    """Validate ``root`` against a package schema.

    Raises:
        InvalidXml: one ``<message> on line <n>`` per problem, joined by newlines.
    """
    try:
        load_schema(schema_name).assertValid(root)
    except etree.DocumentInvalid as exc:
        # The exception's own log, not the schema's shared last-run log.
        lines = [f"{error.message} on line {error.line}" for error in exc.error_log]
        raise InvalidXml("\n".join(lines)) from None
