"""Retry schedules: ``<schedule><level retry_delay retry_times/>…</schedule>`` (§2.2, §5.2).

Rules:
- A schedule has one or more levels; each level has a positive ``retry_delay`` (seconds) and a
  positive ``retry_times`` (number of retries at that delay). Checked by ``retry_schedule.xsd``
  when parsed, and again when a :class:`RetrySchedule` is built directly.
- Retries walk the levels in order: with ``10×3, 600×2`` the 1st–3rd retries wait 10 s, the
  4th–5th wait 600 s, and the 6th failure is definitive. A task thus runs at most
  ``1 + max_retries`` times. This is what evQueue's ``retry_task`` / ``schedule_update`` do,
  step by step, with the counters kept on the task element.
- Names are 1–64 characters from ``[A-Za-z0-9_-]`` (``Invalid retry schedule name``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from evqueue.errors import InvalidParameter
from evqueue.model.content import decode_content, validate_name
from evqueue.model.document import parse_xml, validate_against

__all__ = ["RetryLevel", "RetrySchedule", "validate_retry_schedule_name"]


def validate_retry_schedule_name(name: str) -> None:
    """Check a retry-schedule name.

    Raises:
        InvalidParameter: ``Invalid retry schedule name``.
    """
    validate_name(name, "retry schedule")


@dataclass(frozen=True)
class RetryLevel:
    """One level: ``times`` retries, each ``delay`` seconds after the failure."""

    delay: int
    times: int

    def __post_init__(self) -> None:
        for field, value in (("retry_delay", self.delay), ("retry_times", self.times)):
            if type(value) is not int or value < 1:
                raise InvalidParameter(f"Invalid retry level: {field} must be a positive integer")


@dataclass(frozen=True)
class RetrySchedule:
    """A checked retry schedule."""

    levels: tuple[RetryLevel, ...]

    def __post_init__(self) -> None:
        if not self.levels:
            raise InvalidParameter("A retry schedule needs at least one level")
        if not all(isinstance(level, RetryLevel) for level in self.levels):
            raise TypeError("levels must be RetryLevel instances")

    @classmethod
    def parse(cls, xml: str | bytes) -> RetrySchedule:
        """Parse and check a retry-schedule document.

        Raises:
            InvalidXml: not well formed, or not valid against ``retry_schedule.xsd``.
        """
        root = parse_xml(xml)
        validate_against("retry_schedule.xsd", root)
        return cls.from_element(root)

    @classmethod
    def from_element(cls, element: etree._Element) -> RetrySchedule:
        """Read the levels of a ``<schedule>`` element: a parsed document, or the copy an
        instance holds in its ``<schedules>`` (§1.4).

        Raises:
            InvalidParameter: no level, or a level whose attributes are not positive integers.
        """
        # xs:positiveInteger allows surrounding blanks and a leading "+": int() accepts both.
        try:
            levels = tuple(
                RetryLevel(int(level.get("retry_delay", "")), int(level.get("retry_times", "")))
                for level in element.iterfind("level")
            )
        except ValueError:
            raise InvalidParameter(
                "Invalid retry level: retry_delay and retry_times must be positive integers"
            ) from None
        return cls(levels)

    @classmethod
    def from_base64(cls, content: str) -> RetrySchedule:
        """Decode the ``content`` attribute of a create/edit request, then :meth:`parse` it.

        Raises:
            InvalidParameter: bad base64 or bad UTF-8.
            InvalidXml: see :meth:`parse`.
        """
        return cls.parse(decode_content(content))

    def to_element(self, name: str | None = None) -> etree._Element:
        """Build the ``<schedule>`` element; with ``name`` as an instance imports it (§1.4)."""
        root = etree.Element("schedule")
        if name is not None:
            root.set("name", name)
        for level in self.levels:
            etree.SubElement(
                root, "level", retry_delay=str(level.delay), retry_times=str(level.times)
            )
        return root

    def serialize(self, name: str | None = None) -> str:
        """The schedule document, as stored in ``t_schedule.schedule_xml``."""
        return etree.tostring(self.to_element(name), encoding="unicode")

    @property
    def max_retries(self) -> int:
        """How many retries the schedule allows in all."""
        return sum(level.times for level in self.levels)

    def level_for_attempt(self, attempt: int) -> int | None:
        """The 1-based level that the ``attempt``-th retry belongs to.

        Args:
            attempt: the retry number, 1 for the retry after the first failure.

        Returns:
            The level number (as the task's ``retry_schedule_level``), or None once the
            schedule is exhausted and the failure is definitive.

        Raises:
            ValueError: ``attempt`` is below 1.
        """
        if attempt < 1:
            raise ValueError(f"retry numbers start at 1, got {attempt}")
        remaining = attempt
        for number, level in enumerate(self.levels, start=1):
            if remaining <= level.times:
                return number
            remaining -= level.times
        return None

    def delay_for_attempt(self, attempt: int) -> int | None:
        """The delay in seconds before the ``attempt``-th retry, or None when exhausted.

        Raises:
            ValueError: ``attempt`` is below 1.
        """
        number = self.level_for_attempt(attempt)
        return None if number is None else self.levels[number - 1].delay
