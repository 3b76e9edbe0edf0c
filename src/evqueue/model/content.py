"""What every definition request carries: base64 ``content`` and object names.

Rules:
- ``content`` is standard base64 (``A-Z a-z 0-9 + /``, ``=`` padding). Blanks (space, tab, CR,
  LF) are skipped, as evQueue does, so wrapped base64 is accepted. Anything else, or a length
  that is not a whole number of 4-character blocks, is ``Invalid base64 sequence``
  (INVALID_PARAMETER). evQueue silently drops a trailing incomplete block; we refuse it, so a
  truncated upload is reported instead of being stored shortened.
- The decoded bytes must be UTF-8: definitions are stored and served as text.
- Workflow and retry-schedule names are 1–64 characters from ``[A-Za-z0-9_-]`` (ASCII only:
  evQueue tests with C ``isalnum``).
"""

from __future__ import annotations

import binascii
import re

from evqueue.errors import InvalidParameter

__all__ = [
    "NAME_MAX_LENGTH",
    "decode_content",
    "is_valid_name",
    "validate_name",
]

NAME_MAX_LENGTH = 64

_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{NAME_MAX_LENGTH}}}", re.ASCII)
_BLANKS = str.maketrans("", "", " \t\r\n")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)


def decode_content(content: str) -> str:
    """Decode the base64 ``content`` attribute of a create/edit request.

    Args:
        content: the attribute value as received.

    Returns:
        The decoded text.

    Raises:
        InvalidParameter: the value is not base64 (``Invalid base64 sequence``) or the decoded
            bytes are not UTF-8.
    """
    compact = content.translate(_BLANKS)
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        raise InvalidParameter("Invalid base64 sequence")
    try:
        raw = binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error:
        # Padding in the middle of the data, or non-zero bits in the last character.
        raise InvalidParameter("Invalid base64 sequence") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(
            f"Decoded content is not valid UTF-8 (byte {exc.start})"
        ) from None


def is_valid_name(name: str) -> bool:
    """Tell whether ``name`` is a valid workflow or retry-schedule name."""
    return _NAME.fullmatch(name) is not None


def validate_name(name: str, kind: str = "workflow") -> None:
    """Check a workflow (or retry-schedule) name, with evQueue's messages.

    Args:
        name: the name given in the request.
        kind: ``"workflow"`` or ``"retry schedule"``; it only changes the message.

    Raises:
        InvalidParameter: ``Workflow name cannot be empty`` or ``Invalid workflow name``
            (``Invalid retry schedule name`` for retry schedules, which have no empty case).
    """
    if kind == "workflow" and name == "":
        raise InvalidParameter("Workflow name cannot be empty")
    if not is_valid_name(name):
        raise InvalidParameter(f"Invalid {kind} name")
