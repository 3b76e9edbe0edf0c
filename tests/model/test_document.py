"""Safe parsing and schema validation."""

from __future__ import annotations

import pytest

from evqueue.errors import InvalidXml
from evqueue.model.document import load_schema, parse_xml, validate_against


def test_text_and_bytes() -> None:
    assert parse_xml("<a>é</a>").text == "é"
    assert parse_xml("<a>é</a>".encode()).text == "é"
    assert parse_xml('<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>').text == "é"
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1")
    assert parse_xml(latin).text == "é"


@pytest.mark.parametrize("xml", [
    "<!DOCTYPE a><a/>",
    '<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>',
    '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]><a>&x;</a>',
])
def test_doctypes_are_refused(xml: str) -> None:
    with pytest.raises(InvalidXml, match="DOCTYPE is not allowed"):
        parse_xml(xml)


def test_undeclared_entity_is_a_syntax_error() -> None:
    with pytest.raises(InvalidXml, match="^Invalid XML document : "):
        parse_xml("<a>&x;</a>")


def test_schemas_are_compiled_once() -> None:
    assert load_schema("workflow.xsd") is load_schema("workflow.xsd")


def test_validation_reports_every_problem() -> None:
    root = parse_xml('<schedule>\n<level retry_delay="0"/>\n<other/></schedule>')
    with pytest.raises(InvalidXml) as info:
        validate_against("retry_schedule.xsd", root)
    lines = info.value.message.split("\n")
    assert len(lines) == 3
    assert [line.rsplit(" on line ", 1)[1] for line in lines] == ["2", "2", "3"]
