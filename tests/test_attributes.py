"""evQueue's integer and boolean attribute values, shared by the protocol and the engine."""

from __future__ import annotations

import pytest

from evqueue.attributes import parse_cxx_bool, parse_cxx_int


@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("no", False), ("1", True), ("0", False), ("-1", True), ("2abc", True),
    (" 0", False),
])
def test_booleans_are_yes_no_or_an_integer(text: str, value: bool) -> None:
    assert parse_cxx_bool(text) is value


@pytest.mark.parametrize("text", ["true", "false", "YES", "No", "", " yes", "y", "99999999999"])
def test_anything_else_is_no_boolean(text: str) -> None:
    assert parse_cxx_bool(text) is None


def test_integers_stop_at_the_first_non_digit_and_stay_in_range() -> None:
    assert [parse_cxx_int(t) for t in (" +7", "12 34", "0x10", "x1")] == [7, 12, 0, None]
    assert parse_cxx_int("2147483648") is None
    assert parse_cxx_int("2147483648", bits=64) == 2**31
