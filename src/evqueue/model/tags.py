"""Tag labels (semantics.md §5.4): the only rule on a tag is its label.

Rules:
- A label is any non-empty text (evQueue: ``Invalid tag label``).
- It is at most 64 characters, the width of ``t_tag.tag_label``. evQueue leaves the length to
  the database, which refuses or truncates a longer label depending on its mode; we refuse it
  with the same message so every backend behaves alike.
"""

from __future__ import annotations

from evqueue.errors import InvalidParameter

__all__ = ["TAG_LABEL_MAX_LENGTH", "validate_tag_label"]

TAG_LABEL_MAX_LENGTH = 64


def validate_tag_label(label: str) -> None:
    """Check a tag label given to ``tag create|edit``.

    Raises:
        InvalidParameter: ``Invalid tag label``.
    """
    if not label or len(label) > TAG_LABEL_MAX_LENGTH:
        raise InvalidParameter("Invalid tag label")
