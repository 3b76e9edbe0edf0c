"""Tag labels."""

from __future__ import annotations

import pytest

from evqueue.errors import InvalidParameter
from evqueue.model.tags import TAG_LABEL_MAX_LENGTH, validate_tag_label


@pytest.mark.parametrize("label", ["x", "had retries", "café ☃", "a" * TAG_LABEL_MAX_LENGTH])
def test_valid_labels(label: str) -> None:
    validate_tag_label(label)


@pytest.mark.parametrize("label", ["", "a" * (TAG_LABEL_MAX_LENGTH + 1)])
def test_invalid_labels(label: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        validate_tag_label(label)
    assert (info.value.code, info.value.message) == ("INVALID_PARAMETER", "Invalid tag label")
