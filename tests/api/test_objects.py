"""The helpers shared by the definition command groups."""

from __future__ import annotations

import pytest
from lxml import etree

from evqueue.api.objects import (
    check_json,
    check_length,
    decode_base64,
    element,
    encode_base64,
    id_or_name,
    parse_stored,
    require_found,
    sorted_by,
    yes_no,
)
from evqueue.protocol import (
    InvalidInteger,
    InvalidParameter,
    MissingParameter,
    UnknownObject,
    UnknownObjectName,
    parse_command,
)


def test_reply_elements() -> None:
    node = element("queue", {"id": 3, "dynamic": yes_no(False)}, [element("x")])
    assert etree.tostring(node) == b'<queue id="3" dynamic="no"><x/></queue>'
    assert yes_no(True) == "yes"
    assert sorted_by(["b", "B", "a"], key=str) == ["B", "a", "b"]


def test_limits_and_json() -> None:
    check_length("abc", 3, "too long")
    with pytest.raises(InvalidParameter, match="^too long$"):
        check_length("abcd", 3, "too long")
    check_json('{"a": [1, 2]}', "bad")
    for text in ("{", "NaN", "[Infinity]", ""):
        with pytest.raises(InvalidParameter, match="^bad$"):
            check_json(text, "bad")


def test_binary_base64() -> None:
    data = bytes(range(256))
    assert decode_base64(encode_base64(data)) == data
    assert decode_base64("AAEC\n/w==") == b"\x00\x01\x02\xff"
    assert encode_base64("é") == "w6k="
    for bad in ("A", "AB$=", "A=BC", "AAA="[:3]):
        with pytest.raises(InvalidParameter, match="^Invalid zip$"):
            decode_base64(bad, "Invalid zip")


def test_parse_stored_falls_back_on_a_bad_document() -> None:
    assert parse_stored("<a><b/></a>", "x")[0].tag == "b"
    broken = parse_stored("<a>", "workflow")
    assert (broken.tag, len(broken)) == ("workflow", 0)


def test_require_found() -> None:
    assert require_found(0, "Tag", 1) == 0
    with pytest.raises(UnknownObject, match="^Unknown Tag ID : 7$"):
        require_found(None, "Tag", 7)


async def test_id_or_name() -> None:
    names = {"w": 5}

    async def by_name(name: str) -> int | None:
        return names.get(name)

    assert await id_or_name(parse_command("<w id='3' name='w'/>"), "Workflow", by_name) == 3
    assert await id_or_name(parse_command("<w id='0' name='w'/>"), "Workflow", by_name) == 5
    with pytest.raises(MissingParameter, match="^Missing 'id' or 'name' attribute$"):
        await id_or_name(parse_command("<w name=''/>"), "Workflow", by_name)
    with pytest.raises(UnknownObjectName) as caught:
        await id_or_name(parse_command("<w name='v'/>"), "Workflow", by_name)
    assert (caught.value.code, caught.value.message) == ("UKNOWN_OBJECT",
                                                         "Unknown Workflow name : v")
    with pytest.raises(InvalidInteger):
        await id_or_name(parse_command("<w id='x'/>"), "Workflow", by_name)
