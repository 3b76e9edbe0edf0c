"""The configuration file syntax: every rule of semantics.md §6.1, with file and line in errors."""

import pytest

from evqueue.config import ConfigError
from evqueue.config.reader import parse_text


def entries(text):
    return [(e.key, e.value, e.line) for e in parse_text(text, "evqueue.conf")]


def error(text):
    with pytest.raises(ConfigError) as info:
        parse_text(text, "evqueue.conf")
    return str(info.value)


def test_key_value_lines_blank_lines_and_comments():
    text = "# comment\n\n  core.wd = /data\r\n\tnetwork.bind.port=5000  # trailing\n"
    assert entries(text) == [("core.wd", "/data", 3), ("network.bind.port", "5000", 4)]


def test_quoted_values_keep_hash_tabs_and_spaces():
    text = "a.b = \"x # y\tz\"\nc.d = 'two words' # comment\ne.f = ''\n"
    assert entries(text) == [("a.b", "x # y\tz", 1), ("c.d", "two words", 2), ("e.f", "", 3)]


def test_unquoted_value_ends_at_hash():
    assert entries("a=b#comment\n") == [("a", "b", 1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\n", "evqueue.conf:1: missing value for key 'a'"),
        ("x=1\na=\n", "evqueue.conf:2: missing value for key 'a'"),
        ("a = two words\n", "evqueue.conf:1: garbage data after the value of 'a'"),
        ("a = 'it's'\n", "evqueue.conf:1: garbage data after the value of 'a'"),
        ("a = \"open\n", "evqueue.conf:1: missing closing quote"),
        ("a : b\n", "evqueue.conf:1: expected '=' after key 'a'"),
        ("-a = b\n", "evqueue.conf:1: invalid character '-'"),
        ("a = b\n" * 3 + "k = " + "v" * 5000 + "\n", "evqueue.conf:4: line longer than 4095"),
    ],
)
def test_syntax_errors_name_file_and_line(text, message):
    assert error(text).startswith(message)


def test_later_key_is_returned_after_earlier():
    assert entries("a=1\na=2\n") == [("a", "1", 1), ("a", "2", 2)]
