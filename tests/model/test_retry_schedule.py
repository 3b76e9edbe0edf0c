"""Retry schedules: the document, the dataclass, and the level arithmetic of §2.2."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from evqueue.errors import InvalidParameter, InvalidXml
from evqueue.model.retry_schedule import RetryLevel, RetrySchedule, validate_retry_schedule_name

SHORT = '<schedule><level retry_delay="10" retry_times="3"/><level retry_delay="600" ' \
        'retry_times="2"/></schedule>'


def test_parse_the_spec_example() -> None:
    schedule = RetrySchedule.parse(SHORT)
    assert schedule.levels == (RetryLevel(10, 3), RetryLevel(600, 2))
    assert schedule.max_retries == 5


def test_serialize_round_trips() -> None:
    schedule = RetrySchedule.parse(SHORT)
    assert schedule.serialize() == SHORT
    assert RetrySchedule.parse(schedule.serialize()) == schedule


def test_named_element_for_instances() -> None:
    element = RetrySchedule.parse(SHORT).to_element("short")
    assert element.get("name") == "short"
    assert [level.attrib for level in element] == [
        {"retry_delay": "10", "retry_times": "3"}, {"retry_delay": "600", "retry_times": "2"},
    ]


def test_levels_of_an_instance_copy() -> None:
    copy = etree.fromstring('<schedule name="short"><level retry_delay="10" retry_times="3"/>'
                            '<level retry_delay=" 600" retry_times="+2"/></schedule>')
    assert RetrySchedule.from_element(copy).levels == (RetryLevel(10, 3), RetryLevel(600, 2))


@pytest.mark.parametrize("levels", [
    "", '<level retry_delay="soon" retry_times="1"/>', '<level retry_times="1"/>',
    '<level retry_delay="10" retry_times="0"/>',
])
def test_a_copy_without_usable_levels_is_refused(levels: str) -> None:
    with pytest.raises(InvalidParameter):
        RetrySchedule.from_element(etree.fromstring(f"<schedule>{levels}</schedule>"))


def test_from_base64() -> None:
    assert RetrySchedule.from_base64(base64.b64encode(SHORT.encode()).decode()).max_retries == 5
    with pytest.raises(InvalidParameter, match="Invalid base64 sequence"):
        RetrySchedule.from_base64("!!")


def test_lenient_integers_of_the_grammar() -> None:
    schedule = RetrySchedule.parse('<schedule><level retry_delay=" 007 " retry_times="+2"/>'
                                   "</schedule>")
    assert schedule.levels == (RetryLevel(7, 2),)


INVALID = {
    "no level": "<schedule/>",
    "wrong root": '<retry><level retry_delay="1" retry_times="1"/></retry>',
    "zero delay": '<schedule><level retry_delay="0" retry_times="1"/></schedule>',
    "negative times": '<schedule><level retry_delay="1" retry_times="-1"/></schedule>',
    "missing delay": '<schedule><level retry_times="1"/></schedule>',
    "missing times": '<schedule><level retry_delay="1"/></schedule>',
    "decimal": '<schedule><level retry_delay="1.5" retry_times="1"/></schedule>',
    "unknown attribute": '<schedule><level retry_delay="1" retry_times="1" x="1"/></schedule>',
    "unknown element": '<schedule><level retry_delay="1" retry_times="1"/><x/></schedule>',
    "text": '<schedule>x<level retry_delay="1" retry_times="1"/></schedule>',
    "malformed": "<schedule>",
}


@pytest.mark.parametrize("xml", INVALID.values(), ids=INVALID.keys())
def test_invalid_documents(xml: str) -> None:
    with pytest.raises(InvalidXml) as info:
        RetrySchedule.parse(xml)
    assert info.value.code == "INVALID_XML"


def test_direct_construction_is_checked() -> None:
    with pytest.raises(InvalidParameter, match="at least one level"):
        RetrySchedule(())
    with pytest.raises(InvalidParameter, match="retry_delay must be a positive integer"):
        RetryLevel(0, 1)
    with pytest.raises(InvalidParameter, match="retry_times must be a positive integer"):
        RetryLevel(1, True)
    with pytest.raises(TypeError):
        RetrySchedule(((10, 3),))  # type: ignore[arg-type]


def test_level_arithmetic_of_the_spec_example() -> None:
    # 10 s x 3 then 600 s x 2: a task runs at most 1 + 3 + 2 times.
    schedule = RetrySchedule.parse(SHORT)
    assert [schedule.delay_for_attempt(n) for n in range(1, 8)] == [
        10, 10, 10, 600, 600, None, None]
    assert [schedule.level_for_attempt(n) for n in range(1, 8)] == [1, 1, 1, 2, 2, None, None]


def test_single_level() -> None:
    schedule = RetrySchedule((RetryLevel(30, 1),))
    assert schedule.delay_for_attempt(1) == 30
    assert schedule.delay_for_attempt(2) is None


@pytest.mark.parametrize("attempt", [0, -1])
def test_retry_numbers_start_at_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        RetrySchedule.parse(SHORT).delay_for_attempt(attempt)


def evqueue_retry_delays(levels: list[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """§2.2 step by step: (level, delay) per failure, None when the failure is definitive."""
    level, delay, times = 0, 0, 0
    outcomes: list[tuple[int, int] | None] = []
    while True:
        if level == 0:  # schedule_update(): first level
            level, (delay, times) = 1, levels[0]
        if times == 0:  # schedule_update(): next level, or nothing left
            level += 1
            delay, times = levels[level - 1] if level <= len(levels) else (0, 0)
        if delay == 0 or times == 0:
            outcomes.append(None)
            return outcomes
        outcomes.append((level, delay))
        times -= 1


@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 6)), min_size=1, max_size=5))
def test_matches_evqueue_step_by_step(levels: list[tuple[int, int]]) -> None:
    schedule = RetrySchedule(tuple(RetryLevel(d, t) for d, t in levels))
    outcomes = evqueue_retry_delays(levels)
    assert len(outcomes) == schedule.max_retries + 1
    for attempt, outcome in enumerate(outcomes, start=1):
        if outcome is None:
            assert schedule.delay_for_attempt(attempt) is None
            assert schedule.level_for_attempt(attempt) is None
        else:
            assert schedule.level_for_attempt(attempt) == outcome[0]
            assert schedule.delay_for_attempt(attempt) == outcome[1]


@pytest.mark.parametrize("name", ["short", "a-b_c", "x" * 64])
def test_valid_names(name: str) -> None:
    validate_retry_schedule_name(name)


@pytest.mark.parametrize("name", ["", "x" * 65, "a b", "a.b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidParameter, match="^Invalid retry schedule name$"):
        validate_retry_schedule_name(name)
