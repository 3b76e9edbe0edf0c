"""Command: fields, immutability and evQueue's attribute reading rules (protocol.md §3.1)."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from evqueue.errors import InvalidBoolean, InvalidInteger, MissingParameter
from evqueue.protocol.framing import parse_command
from evqueue.protocol.messages import REQUIRED, Command, parse_cxx_int


def command(**attrs: str) -> Command:
    # Built directly: attribute values such as "\v" cannot exist in XML, but stoi rules apply.
    return Command("instance", attrs.get("action"), attrs)


# --- integers: std::stoi ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("2abc", 2),  # captured: id='2abc' is read as 2
        ("  7", 7),
        ("\t\n\v\f\r 8", 8),
        ("+5", 5),
        ("-3", -3),
        ("-0", 0),
        ("007", 7),
        ("0x10", 0),
        ("12 34", 12),
        ("2147483647", 2**31 - 1),
        ("-2147483648", -(2**31)),
    ],
)
def test_integers_follow_stoi(text: str, value: int) -> None:
    assert parse_cxx_int(text) == value
    assert command(id=text).get_int("id") == value


@pytest.mark.parametrize(
    "text",
    ["abc", "", " ", "+", "-", "+-1", "x1", "2147483648", "-2147483649", "١٢", "\u00a012"],
)
def test_invalid_integers(text: str) -> None:
    assert parse_cxx_int(text) is None
    with pytest.raises(InvalidInteger) as caught:
        command(id=text).get_int("id")
    # protocol.md §9 E8
    assert caught.value.message == "Attribute 'id' has invalid integer value"
    assert caught.value.code == "INVALID_INTEGER"
    assert not caught.value.fatal


def test_long_integers_follow_stoll() -> None:
    assert command(v="9223372036854775807x").get_long("v") == 2**63 - 1
    assert command(v="2147483648").get_long("v") == 2**31
    with pytest.raises(InvalidInteger):
        command(v="9223372036854775808").get_long("v")
    assert command().get_long("v", -1) == -1


def test_integer_missing_or_defaulted() -> None:
    with pytest.raises(MissingParameter) as caught:
        command().get_int("id")
    assert caught.value.message == "Missing 'id' attribute"
    assert caught.value.code == "MISSING_PARAMETER"
    assert command().get_int("limit", 30) == 30
    assert command().get_int("limit", None) is None
    assert command(limit="5").get_int("limit", 30) == 5
    # A present but bad value is an error even with a default.
    with pytest.raises(InvalidInteger):
        command(limit="many").get_int("limit", 30)


def test_integer_from_parsed_bytes() -> None:
    parsed = parse_command(b"<instance action='query' id='abc'/>")
    with pytest.raises(InvalidInteger, match="Attribute 'id' has invalid integer value"):
        parsed.get_int("id")


# --- booleans ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("yes", True), ("no", False), ("1", True), ("0", False), ("-1", True), ("2abc", True),
     (" 0", False)],
)  # fmt: skip
def test_booleans(text: str, value: bool) -> None:
    assert command(full=text).get_bool("full") is value


@pytest.mark.parametrize("text", ["true", "false", "YES", "No", "", " yes", "y", "99999999999"])
def test_invalid_booleans(text: str) -> None:
    with pytest.raises(InvalidBoolean) as caught:
        command(full=text).get_bool("full")
    assert caught.value.message == "Attribute 'full' has invalid boolean value"
    assert caught.value.code == "INVALID_BOOLEAN"


def test_boolean_missing_or_defaulted() -> None:
    with pytest.raises(MissingParameter, match="Missing 'dynamic' attribute"):
        command().get_bool("dynamic")
    assert command().get_bool("send_now", False) is False


# --- strings and action -----------------------------------------------------------------------


def test_strings() -> None:
    cmd = command(name="sleeper", comment="")
    assert cmd.get_str("name") == "sleeper"
    assert cmd.get_str("comment") == ""
    assert cmd.get_str("group", "") == ""
    assert cmd.get_str("group", None) is None
    with pytest.raises(MissingParameter, match="^Missing 'group' attribute$"):
        cmd.get_str("group")
    assert cmd.has("comment") and not cmd.has("group")
    assert repr(REQUIRED) == "REQUIRED"


def test_require_action() -> None:
    assert command(action="list").require_action() == "list"
    # protocol.md §9 E8: <workflow/>
    with pytest.raises(MissingParameter) as caught:
        parse_command(b"<workflow/>").require_action()
    assert caught.value.message == "Missing 'action' attribute"


# --- structure --------------------------------------------------------------------------------


def test_parameters_are_direct_parameter_children_in_order() -> None:
    cmd = parse_command(
        b"<instance action='launch' name='x'>"
        b"<parameter name='b' value='2'/><parameter name='a' value='1'/>"
        b"<parameter name='only-name'/><parameter value='only-value'/>"
        b"<other><parameter name='nested' value='no'/></other>"
        b"</instance>"
    )
    assert cmd.parameters == (("b", "2"), ("a", "1"), ("only-name", ""), ("", "only-value"))
    assert cmd.element is not None and cmd.element.find("other") is not None


def test_command_is_immutable() -> None:
    cmd = command(action="list")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmd.group = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cmd.attrs["action"] = "delete"  # type: ignore[index]


def test_command_is_checked_when_built() -> None:
    with pytest.raises(ValueError):
        Command("", None, {})
    with pytest.raises(ValueError):
        Command("workflow", "list", {})
    assert Command("ping", None, {}).attrs == {}


def test_equality_ignores_the_element() -> None:
    assert parse_command(b"<ping a='1'/>") == Command("ping", None, {"a": "1"})


def test_build_and_serialize_round_trip() -> None:
    cmd = Command.build(
        "instance", {"action": "launch", "name": "s", "timeout": 5}, [("d", "a'\"<&>\n")]
    )
    data = cmd.serialize()
    assert data.startswith(b'<instance action="launch" name="s" timeout="5">')
    assert parse_command(data) == cmd
    assert cmd.attrs["timeout"] == "5"


def test_serialize_without_element() -> None:
    cmd = Command("ping", None, {"a": "1"}, (("p", "v"),))
    assert cmd.serialize() == b'<ping a="1"><parameter name="p" value="v"/></ping>'


def test_from_element_keeps_the_element() -> None:
    element = etree.fromstring(b"<status action='query' type='workflows'/>")
    cmd = Command.from_element(element)
    assert cmd.element is element
    assert (cmd.group, cmd.action, cmd.get_str("type")) == ("status", "query", "workflows")
