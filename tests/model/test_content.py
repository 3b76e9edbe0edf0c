"""Base64 request content and object names."""

from __future__ import annotations

import base64

import pytest

from evqueue.errors import InvalidParameter
from evqueue.model.content import NAME_MAX_LENGTH, decode_content, is_valid_name, validate_name


@pytest.mark.parametrize("text", ["", "a", "ab", "abc", "<workflow/>", "café ☃", "x" * 1000])
def test_decodes_what_base64_encodes(text: str) -> None:
    assert decode_content(base64.b64encode(text.encode()).decode()) == text


def test_blanks_are_skipped() -> None:
    wrapped = base64.encodebytes(b"<workflow>" * 20).decode()  # lines of 76 characters
    assert "\n" in wrapped
    assert decode_content(wrapped) == "<workflow>" * 20
    assert decode_content(" PHdv\tcmtm\r\nbG93 Lz4= ") == "<workflow/>"


@pytest.mark.parametrize("content", [
    "PHdvcmtmbG93Lz4",      # truncated: not a whole number of blocks
    "PHdvcmtmbG93Lz4==",    # too much padding
    "PHdv=mtmbG93Lz4=",     # padding in the middle
    "PHdvcmtm-G93Lz4=",     # URL-safe alphabet
    "PHdvcmtm\x00G93Lz4=",
    "é===",
    "====",
])
def test_bad_base64(content: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        decode_content(content)
    assert info.value.code == "INVALID_PARAMETER"
    assert info.value.message == "Invalid base64 sequence"


def test_bad_utf8() -> None:
    content = base64.b64encode("<a>é</a>".encode("latin-1")).decode()
    with pytest.raises(InvalidParameter) as info:
        decode_content(content)
    assert info.value.message == "Decoded content is not valid UTF-8 (byte 3)"


def test_names() -> None:
    assert is_valid_name("a" * NAME_MAX_LENGTH)
    assert not is_valid_name("a" * (NAME_MAX_LENGTH + 1))
    assert not is_valid_name("")
    with pytest.raises(InvalidParameter, match="^Invalid retry schedule name$"):
        validate_name("", "retry schedule")
    with pytest.raises(InvalidParameter, match="^Invalid retry schedule name$"):
        validate_name("a b", "retry schedule")
    validate_name("short-10", "retry schedule")
