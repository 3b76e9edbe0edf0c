"""The 6-field workflow schedule: ``sec;min;hour;day;month;weekday`` (semantics.md §5.1).

Rules of the string, as evQueue's ``Schedule`` parser applies them:
- Fields, in order: seconds 0–59, minutes 0–59, hours 0–23, day of month 0–30 (**0 is the 1st**),
  month 0–11 (**0 is January**), weekday 0–6 (**0 is Sunday**).
- A field is a comma list of integers; an empty field means every value. Each number is read
  like C ``strtol``: leading blanks and a sign are accepted, and a trailing comma too. There
  are no ranges, steps or ``*``.
- Trailing fields may be omitted and one trailing ``;`` is tolerated; more is "Garbage".
- Day of month and weekday must both match (AND, unlike cron's OR).
- A schedule that can never run is refused, as evQueue refuses it: the smallest listed day is
  the 30th and only February is allowed, or the 31st and only shorter months are allowed. Any
  other listed day that a month lacks (the 31st of April, the 29th of February of a common
  year) is simply skipped. Every schedule accepted here has an occurrence at most a few decades
  away, so :meth:`Schedule.next_time` always ends.

Errors are INVALID_SCHEDULE with evQueue's message followed by the field and the value.

Time is an argument: nothing here reads the clock. :meth:`Schedule.next_time` works on the wall
clock of the datetime it is given. A naive datetime is local time and the result is naive.
For an aware datetime the result is in the same zone, strictly later as an instant, and a wall
time that a DST jump skips is moved forward by the jump, as C ``mktime`` does. evQueue resets
only minutes and hours (not seconds) when a weekday mismatch sends it to the next day, which can
miss the first seconds of that day; we return the true earliest time.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, time, timedelta

from evqueue.errors import InvalidSchedule

__all__ = ["FIELDS", "Schedule"]

#: (attribute, label used in messages, number of values) for the six fields, in string order.
FIELDS: tuple[tuple[str, str, int], ...] = (
    ("seconds", "seconds", 60),
    ("minutes", "minutes", 60),
    ("hours", "hours", 24),
    ("days", "day of month", 31),
    ("months", "month", 12),
    ("weekdays", "weekday", 7),
)

# One strtol() number, then an optional comma: evQueue's field grammar.
_NUMBER = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+),?")
_FEBRUARY = frozenset({1})
_SHORT_MONTHS = frozenset({1, 3, 5, 8, 10})  # February, April, June, September, November
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Schedule:
    """A parsed workflow schedule. Each field is a sorted tuple; ``()`` means every value.

    Building one checks it like :meth:`parse` does; values are sorted and de-duplicated.
    """

    seconds: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    weekdays: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for attribute, label, size in FIELDS:
            values = getattr(self, attribute)
            for value in values:
                if type(value) is not int:
                    raise TypeError(f"{attribute} must hold integers, not {value!r}")
                _check_range(label, size, value)
            object.__setattr__(self, attribute, tuple(sorted(set(values))))
        _check_satisfiable(self.days, self.months)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Parse a schedule string.

        Args:
            text: e.g. ``"0;30;2;;;"`` (every day at 02:30:00).

        Returns:
            The schedule.

        Raises:
            InvalidSchedule: empty, non-numeric, out of range, trailing garbage, or impossible.
        """
        if text == "":
            raise InvalidSchedule("Empty schedule")
        parts = text.split(";")
        # zip() stops at the shorter: omitted trailing fields keep their default, every value.
        values = {
            attribute: _parse_field(label, size, part)
            for (attribute, label, size), part in zip(FIELDS, parts, strict=False)
        }
        rest = parts[len(FIELDS):]
        if rest and rest != [""]:
            raise InvalidSchedule(f"Garbage at end of schedule : '{';'.join(rest)}'")
        return cls(**values)

    def serialize(self) -> str:
        """The schedule string, six fields, e.g. ``"0;30;2;;;"``."""
        return ";".join(
            ",".join(str(v) for v in getattr(self, attribute)) for attribute, _, _ in FIELDS
        )

    def matches(self, moment: datetime) -> bool:
        """Tell whether the wall-clock time of ``moment`` (to the second) is a scheduled time."""
        return (
            _allowed(self.seconds, moment.second)
            and _allowed(self.minutes, moment.minute)
            and _allowed(self.hours, moment.hour)
            and self._date_allowed(moment.date())
        )

    def next_time(self, after: datetime) -> datetime:
        """The first scheduled time strictly after ``after``.

        Args:
            after: naive local time, or an aware datetime (see the module docstring).

        Returns:
            A datetime without microseconds, naive or in ``after``'s zone.

        Raises:
            OverflowError: no occurrence before the end of year 9999.
        """
        if after.tzinfo is None:
            return self._next_wall(after)
        return self._next_aware(after)

    def due_times(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Yield every scheduled time ``t`` with ``start < t <= end``, in order."""
        moment = start
        while True:
            try:
                moment = self.next_time(moment)
            except OverflowError:
                return
            if moment > end:
                return
            yield moment

    def _next_aware(self, after: datetime) -> datetime:
        zone = after.tzinfo
        limit = after.timestamp()
        wall = after.replace(tzinfo=None)
        while True:
            candidate = self._next_wall(wall)
            # fold=0 first: in a repeated hour it is the earlier instant; in a skipped hour it
            # is the instant after the jump, which is where mktime() puts such a time.
            for fold in (0, 1):
                instant = candidate.replace(tzinfo=zone, fold=fold).timestamp()
                if instant > limit:
                    return datetime.fromtimestamp(instant, zone)
            wall = candidate

    def _next_wall(self, after: datetime) -> datetime:
        start = after.replace(microsecond=0) + _ONE_SECOND
        for day in self._dates_from(start.date()):
            earliest = start.time() if day == start.date() else time.min
            found = self._first_time_of_day(earliest)
            if found is not None:
                return datetime.combine(day, found)
        raise OverflowError(f"schedule '{self.serialize()}' has no occurrence after {after}")

    def _dates_from(self, first: date) -> Iterator[date]:
        """Scheduled dates (day of month, month and weekday all match) from ``first`` on."""
        year, month = first.year, first.month
        while year <= MAXYEAR:
            if _allowed(self.months, month - 1):
                length = calendar.monthrange(year, month)[1]
                for day in self.days or range(length):
                    if day >= length:
                        break  # days are sorted: the rest do not exist in this month either
                    candidate = date(year, month, day + 1)
                    if candidate >= first and _allowed(self.weekdays, _weekday(candidate)):
                        yield candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def _first_time_of_day(self, earliest: time) -> time | None:
        """The first scheduled time of day at or after ``earliest``, or None."""
        for hour in _from(self.hours, 24, earliest.hour):
            same_hour = hour == earliest.hour
            for minute in _from(self.minutes, 60, earliest.minute if same_hour else 0):
                same_minute = same_hour and minute == earliest.minute
                for second in _from(self.seconds, 60, earliest.second if same_minute else 0):
                    return time(hour, minute, second)
        return None

    def _date_allowed(self, day: date) -> bool:
        return (
            _allowed(self.days, day.day - 1)
            and _allowed(self.months, day.month - 1)
            and _allowed(self.weekdays, _weekday(day))
        )


def _parse_field(label: str, size: int, text: str) -> tuple[int, ...]:
    values: list[int] = []
    position = 0
    while position < len(text):
        match = _NUMBER.match(text, position)
        if match is None:
            raise InvalidSchedule(
                f"Non numeric data in schedule offset : {label} field '{text}'"
            )
        value = int(match.group(1))
        _check_range(label, size, value)
        values.append(value)
        position = match.end()
    return tuple(values)


def _check_range(label: str, size: int, value: int) -> None:
    if not 0 <= value < size:
        raise InvalidSchedule(
            f"Out of range schedule offset : {label} {value} (allowed 0-{size - 1})"
        )


def _check_satisfiable(days: tuple[int, ...], months: tuple[int, ...]) -> None:
    # evQueue's rule, on the smallest listed day only: every smaller day exists in every month.
    if not days or not months:
        return
    smallest = min(days)
    if (smallest == 29 and set(months) <= _FEBRUARY) or (
        smallest == 30 and set(months) <= _SHORT_MONTHS
    ):
        raise InvalidSchedule(
            "Schedule constraints are impossible to satisfy : "
            f"day of month {smallest} never occurs in the allowed months"
        )


def _allowed(values: tuple[int, ...], value: int) -> bool:
    return not values or value in values


def _from(values: tuple[int, ...], size: int, lowest: int) -> Iterator[int] | range:
    """The allowed values of a field that are >= ``lowest``, in order."""
    if not values:
        return range(lowest, size)
    return iter(values[bisect_left(values, lowest):])


def _weekday(day: date) -> int:
    """evQueue's weekday number: 0 is Sunday (C ``tm_wday``)."""
    return (day.weekday() + 1) % 7
