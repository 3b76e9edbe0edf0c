"""The 6-field workflow schedule: parsing, serializing, and next_time over many calendars."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evqueue.errors import InvalidSchedule
from evqueue.model.schedule import FIELDS, Schedule

# --- parsing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (";;;;;", Schedule()),
    ("0;30;2;;;", Schedule(seconds=(0,), minutes=(30,), hours=(2,))),
    ("0;0;0;12;;5", Schedule((0,), (0,), (0,), (12,), (), (5,))),
    ("59;59;23;30;11;6", Schedule((59,), (59,), (23,), (30,), (11,), (6,))),
    ("5", Schedule(seconds=(5,))),                       # trailing fields omitted
    ("0;0", Schedule(seconds=(0,), minutes=(0,))),
    ("0;0;0;0;0;0;", Schedule((0,), (0,), (0,), (0,), (0,), (0,))),  # one trailing ';'
    ("30,0,15,0;;;;;", Schedule(seconds=(0, 15, 30))),  # sorted, repeats dropped
    ("1,;;;;;", Schedule(seconds=(1,))),                 # trailing comma, as strtol loops allow
    (" 1, 2;\t3;;;;", Schedule(seconds=(1, 2), minutes=(3,))),  # leading blanks
    ("+7;-0;;;;", Schedule(seconds=(7,), minutes=(0,))),  # signs
    ("1 2;;;;;", Schedule(seconds=(1, 2))),             # strtol skips the blank before 2
    (";;;28;1;", Schedule(days=(28,), months=(1,))),     # Feb 29: leap years only
    (";;;30;0,3;", Schedule(days=(30,), months=(0, 3))),  # the 31st exists in January
    (";;;29,30;1,2;", Schedule(days=(29, 30), months=(1, 2))),
])
def test_parse(text: str, expected: Schedule) -> None:
    assert Schedule.parse(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "Empty schedule"),
    ("*;;;;;", "Non numeric data in schedule offset : seconds field '*'"),
    ("a", "Non numeric data in schedule offset : seconds field 'a'"),
    (";1,,2;;;;", "Non numeric data in schedule offset : minutes field '1,,2'"),
    (";;1 ;;;", "Non numeric data in schedule offset : hours field '1 '"),
    (";;;0x1;;", "Non numeric data in schedule offset : day of month field '0x1'"),
    (";;;;1.5;", "Non numeric data in schedule offset : month field '1.5'"),
    (";;;;;mon", "Non numeric data in schedule offset : weekday field 'mon'"),
    (";;;;;+", "Non numeric data in schedule offset : weekday field '+'"),
    ("60;;;;;", "Out of range schedule offset : seconds 60 (allowed 0-59)"),
    (";60;;;;", "Out of range schedule offset : minutes 60 (allowed 0-59)"),
    (";;24;;;", "Out of range schedule offset : hours 24 (allowed 0-23)"),
    (";;;31;;", "Out of range schedule offset : day of month 31 (allowed 0-30)"),
    (";;;;12;", "Out of range schedule offset : month 12 (allowed 0-11)"),
    (";;;;;7", "Out of range schedule offset : weekday 7 (allowed 0-6)"),
    ("-1;;;;;", "Out of range schedule offset : seconds -1 (allowed 0-59)"),
    ("1-5;;;;;", "Out of range schedule offset : seconds -5 (allowed 0-59)"),  # no ranges
    ("99999999999999999999;;;;;",
     "Out of range schedule offset : seconds 99999999999999999999 (allowed 0-59)"),
    (";;;;;;1", "Garbage at end of schedule : '1'"),
    (";;;;;;;", "Garbage at end of schedule : ';'"),
    (";;;29;1;", "Schedule constraints are impossible to satisfy : "
                 "day of month 29 never occurs in the allowed months"),
    (";;;29,30;1;", "Schedule constraints are impossible to satisfy : "
                    "day of month 29 never occurs in the allowed months"),
    (";;;30;1,3,5,8,10;", "Schedule constraints are impossible to satisfy : "
                          "day of month 30 never occurs in the allowed months"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidSchedule) as info:
        Schedule.parse(text)
    assert info.value.code == "INVALID_SCHEDULE"
    assert info.value.message == message


def test_first_error_from_the_left_wins() -> None:
    with pytest.raises(InvalidSchedule, match="seconds 60"):
        Schedule.parse("60;x;;;;;;;")


def test_direct_construction_is_checked() -> None:
    assert Schedule(hours=(3, 1, 3)).hours == (1, 3)
    with pytest.raises(InvalidSchedule, match="day of month 31"):
        Schedule(days=(31,))
    with pytest.raises(InvalidSchedule, match="impossible"):
        Schedule(days=(30,), months=(3,))
    with pytest.raises(TypeError):
        Schedule(hours=(True,))
    with pytest.raises(TypeError):
        Schedule(hours=("1",))  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["0;30;2;;;", ";;;;;", "0,15,30,45;0;8,12,18;0,14;0,6;1,2,3"])
def test_serialize_round_trips(text: str) -> None:
    assert Schedule.parse(text).serialize() == text


def test_serialize_normalizes() -> None:
    assert Schedule.parse("5").serialize() == "5;;;;;"
    assert Schedule.parse(" 3,1,1;;;;;;").serialize() == "1,3;;;;;"


def test_fields_table() -> None:
    assert [size for _, _, size in FIELDS] == [60, 60, 24, 31, 12, 7]


# --- next_time --------------------------------------------------------------------------------

def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# The verified examples of semantics.md §5.1, all from 2026-11-27 17:25:46.
@pytest.mark.parametrize(("text", "expected"), [
    ("0;30;2;;;", "2026-11-28 02:30:00"),
    ("0;0;0;0;;", "2026-12-01 00:00:00"),
    ("0;0;12;14;11;", "2026-12-15 12:00:00"),
    ("0;0;0;12;;5", "2027-08-13 00:00:00"),  # Friday the 13th
    (";;;;;", "2026-11-27 17:25:47"),
])
def test_spec_examples(text: str, expected: str) -> None:
    assert Schedule.parse(text).next_time(at("2026-11-27 17:25:46")) == at(expected)


@pytest.mark.parametrize(("text", "after", "expected"), [
    # Every second, strictly after, fractions of a second dropped.
    (";;;;;", "2024-05-01 10:00:00", "2024-05-01 10:00:01"),
    (";;;;;", "2024-05-01 10:00:00.500000", "2024-05-01 10:00:01"),
    (";;;;;", "2024-12-31 23:59:59", "2025-01-01 00:00:00"),
    # Each field alone.
    ("30;;;;;", "2024-05-01 10:00:29", "2024-05-01 10:00:30"),
    ("30;;;;;", "2024-05-01 10:00:30", "2024-05-01 10:01:30"),
    (";5;;;;", "2024-05-01 10:04:10", "2024-05-01 10:05:00"),
    (";5;;;;", "2024-05-01 10:05:30", "2024-05-01 10:05:31"),
    (";5;;;;", "2024-05-01 10:05:59", "2024-05-01 11:05:00"),
    (";;3;;;", "2024-05-01 02:59:59", "2024-05-01 03:00:00"),
    (";;3;;;", "2024-05-01 03:59:59", "2024-05-02 03:00:00"),
    (";;;14;;", "2024-05-14 23:59:59", "2024-05-15 00:00:00"),
    (";;;14;;", "2024-05-15 00:00:00", "2024-05-15 00:00:01"),
    (";;;14;;", "2024-05-15 23:59:59", "2024-06-15 00:00:00"),
    (";;;;0;", "2024-02-01 00:00:00", "2025-01-01 00:00:00"),
    (";;;;0;", "2024-01-31 23:59:59", "2025-01-01 00:00:00"),
    (";;;;;0", "2024-06-01 12:00:00", "2024-06-02 00:00:00"),   # Saturday -> Sunday
    (";;;;;6", "2024-06-01 12:00:00", "2024-06-01 12:00:01"),   # Saturday is 6
    # Lists.
    ("0,30;0;9,17;;;1,2,3,4,5", "2024-06-03 09:00:00", "2024-06-03 09:00:30"),
    ("0,30;0;9,17;;;1,2,3,4,5", "2024-06-03 09:00:30", "2024-06-03 17:00:00"),
    ("0,30;0;9,17;;;1,2,3,4,5", "2024-06-07 17:00:30", "2024-06-10 09:00:00"),  # Fri -> Mon
    ("0;0,30;;;;", "2024-06-03 23:30:00", "2024-06-04 00:00:00"),
    # Month ends: a day a month lacks is skipped.
    ("0;0;0;30;;", "2024-01-31 00:00:00", "2024-03-31 00:00:00"),
    ("0;0;0;30;;", "2024-03-31 00:00:00", "2024-05-31 00:00:00"),
    ("0;0;0;30;;", "2024-07-31 00:00:00", "2024-08-31 00:00:00"),
    ("0;0;0;29;;", "2024-01-30 00:00:00", "2024-03-30 00:00:00"),
    ("0;0;0;29,30;1,2;", "2024-01-31 00:00:00", "2024-03-30 00:00:00"),
    ("0;0;0;27;;", "2023-01-28 00:00:00", "2023-02-28 00:00:00"),
    # Leap years: the 29th of February.
    ("0;0;0;28;1;", "2024-03-01 00:00:00", "2028-02-29 00:00:00"),
    ("0;0;0;28;;", "2023-02-28 00:00:00", "2023-03-29 00:00:00"),
    ("0;0;0;28;;", "2024-02-28 00:00:00", "2024-02-29 00:00:00"),
    ("0;0;0;28;1;", "2096-03-01 00:00:00", "2104-02-29 00:00:00"),  # 2100 is not leap
    ("0;0;0;28;1;", "1999-03-01 00:00:00", "2000-02-29 00:00:00"),  # 2000 is
    ("0;0;0;28;1;1", "2024-01-01 00:00:00", "2044-02-29 00:00:00"),  # a Monday Feb 29
    # Year rollover.
    ("0;0;0;0;0;", "2024-12-31 12:00:00", "2025-01-01 00:00:00"),
    ("0;0;0;0;0;", "2025-01-01 00:00:00", "2026-01-01 00:00:00"),
    # Day and weekday must both match.
    ("0;0;0;12;;5", "2024-09-13 00:00:00", "2024-12-13 00:00:00"),
    # evQueue would answer 00:00:30 here (it keeps the seconds when it moves to the next day
    # after a weekday mismatch); the earliest time is 00:00:00.
    ("0,30;0;0;;;1", "2024-06-02 00:00:10", "2024-06-03 00:00:00"),
])
def test_next_time(text: str, after: str, expected: str) -> None:
    assert Schedule.parse(text).next_time(at(after)) == at(expected)


def test_no_occurrence_before_year_10000() -> None:
    with pytest.raises(OverflowError):
        Schedule.parse("0;0;0;0;0;").next_time(at("9999-06-01 00:00:00"))


def test_matches() -> None:
    schedule = Schedule.parse("0;30;2;12;;5")
    assert schedule.matches(at("2024-09-13 02:30:00"))       # Friday 13 September
    assert schedule.matches(at("2024-09-13 02:30:00.999"))
    assert not schedule.matches(at("2024-09-13 02:30:01"))
    assert not schedule.matches(at("2024-10-13 02:30:00"))   # a Sunday
    assert Schedule().matches(at("2024-02-29 23:59:59"))


def test_due_times() -> None:
    every_second = Schedule()
    times = list(every_second.due_times(at("2024-01-01 00:00:00"), at("2024-01-01 00:00:03")))
    assert times == [at("2024-01-01 00:00:01"), at("2024-01-01 00:00:02"),
                     at("2024-01-01 00:00:03")]
    midnights = Schedule.parse("0;0;0;;;")
    days = list(midnights.due_times(at("2024-02-26 00:00:00"), at("2024-03-04 00:00:00")))
    assert [d.day for d in days] == [27, 28, 29, 1, 2, 3, 4]
    assert list(midnights.due_times(at("2024-02-26 00:00:00"), at("2024-02-26 23:59:59"))) == []
    end_of_time = Schedule.parse("0;0;0;0;0;")
    assert list(end_of_time.due_times(at("9998-06-01"), datetime.max)) == [at("9999-01-01")]


# --- aware datetimes --------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def test_aware_result_keeps_the_zone() -> None:
    after = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert Schedule.parse("0;0;12;;;").next_time(after) == datetime(2024, 5, 1, 12,
                                                                     tzinfo=UTC)


def test_skipped_wall_time_moves_forward_like_mktime() -> None:
    # 2024-03-31: Paris jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist that day.
    result = Schedule.parse("0;30;2;;;").next_time(datetime(2024, 3, 31, 1, 0, tzinfo=PARIS))
    assert result == datetime(2024, 3, 31, 3, 30, tzinfo=PARIS)
    assert result.utcoffset() == timedelta(hours=2)


def test_repeated_hour() -> None:
    # 2024-10-27: Paris goes back from 03:00 CEST to 02:00 CET; 02:xx happens twice.
    schedule = Schedule.parse("0;20;;;;")
    first_pass = datetime(2024, 10, 27, 2, 10, tzinfo=PARIS)              # 02:10 CEST
    assert schedule.next_time(first_pass) == datetime(2024, 10, 27, 2, 20, tzinfo=PARIS)
    assert schedule.next_time(first_pass).utcoffset() == timedelta(hours=2)
    second_pass = datetime(2024, 10, 27, 2, 10, fold=1, tzinfo=PARIS)     # 02:10 CET
    result = schedule.next_time(second_pass)
    assert result.timestamp() > second_pass.timestamp()
    assert (result.hour, result.minute, result.utcoffset()) == (2, 20, timedelta(hours=1))


# --- properties -------------------------------------------------------------------------------

def values(size: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.one_of(st.just(()), st.lists(st.integers(0, size - 1), min_size=1, max_size=3)
                     .map(tuple))


FIELD_VALUES = st.tuples(values(60), values(60), values(24), values(31), values(12), values(7))
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31))


def reference_next_time(schedule: Schedule, after: datetime) -> datetime:
    """Day by day, then every allowed (hour, minute, second) in order: slow but obvious."""
    start = after.replace(microsecond=0) + timedelta(seconds=1)
    day = start.date()
    clock = [schedule.hours or range(24), schedule.minutes or range(60),
             schedule.seconds or range(60)]
    while True:
        if schedule.matches(datetime.combine(day, time(*(c[0] for c in clock)))):
            for h, m, s in itertools.product(*clock):
                candidate = datetime.combine(day, time(h, m, s))
                if candidate >= start:
                    return candidate
        day += timedelta(days=1)
        start = datetime.combine(day, time.min)


def build(*fields: tuple[int, ...]) -> Schedule | None:
    try:
        return Schedule(*fields)
    except InvalidSchedule:
        return None


@settings(max_examples=300, deadline=None)
@given(FIELD_VALUES, moments)
def test_next_time_is_the_first_match_after(fields: tuple[tuple[int, ...], ...],
                                            after: datetime) -> None:
    schedule = build(*fields)
    assume(schedule is not None)
    assert schedule is not None
    result = schedule.next_time(after)
    assert result > after
    assert result.microsecond == 0
    assert schedule.matches(result)
    assert result == reference_next_time(schedule, after)


@settings(max_examples=100, deadline=None)
@given(FIELD_VALUES)
def test_parse_serialize_round_trip(fields: tuple[tuple[int, ...], ...]) -> None:
    schedule = build(*fields)
    assume(schedule is not None)
    assert schedule is not None
    assert Schedule.parse(schedule.serialize()) == schedule


@settings(max_examples=100, deadline=None)
@given(FIELD_VALUES,
       st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31),
                    timezones=st.just(PARIS)))
def test_aware_next_time_is_strictly_later(fields: tuple[tuple[int, ...], ...],
                                           after: datetime) -> None:
    schedule = build(*fields)
    assume(schedule is not None)
    assert schedule is not None
    result = schedule.next_time(after)
    assert result.timestamp() > after.timestamp()
    assert result.tzinfo is PARIS


def test_weekday_numbers() -> None:
    # 0 is Sunday: 2024-06-02 was a Sunday.
    assert date(2024, 6, 2).strftime("%A") == "Sunday"
    assert Schedule.parse(";;;;;0").matches(at("2024-06-02 12:00:00"))
    assert not Schedule.parse(";;;;;0").matches(at("2024-06-03 12:00:00"))
