"""schedule.js agrees with the engine's schedule model (evqueue.model.schedule): the same
strings are accepted or refused, and the next-run preview lists the times the engine would use."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from evqueue.errors import InvalidSchedule
from evqueue.model.schedule import Schedule
from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node

S = {"S": "schedule.js"}
START = datetime(2026, 11, 27, 17, 25, 46)
VALID = ["0;30;2;;;", "0;0;0;0;;", "0;0;12;14;11;", "0;0;0;12;;5", ";;;;;",
         "0,30;15,45;8,20;;;1,3", "0;0;0;28;1;", "0;0;0;30;;", "5;;;;;", "0;0;6;;0,6;", "0;0;0",
         "0;0;0;;;0;"]
INVALID = ["*;;;;;", "60;;;;;", "", "0;0;0;29;1;", "0;0;0;30;3,5;", "1;2;3;4;5;6;7", "0;0;24;;;",
           "a;;;;;"]
ISO = """const two = (n) => String(n).padStart(2, '0');
const iso = (d) => `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T`
  + `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;"""


def python_runs(text: str, count: int = 5) -> list[str]:
    schedule = Schedule.parse(text)
    out, moment = [], START
    for _ in range(count):
        moment = schedule.next_time(moment)
        out.append(moment.isoformat())
    return out


def test_next_runs_match_the_engine_model() -> None:
    got = run_js(S, ISO + f"""
        const start = new Date(2026, 10, 27, 17, 25, 46);
        return {json.dumps(VALID)}
          .map((t) => S.nextRuns(S.parseSchedule(t), start, 5).map(iso));""")
    assert got == [python_runs(t) for t in VALID]


@pytest.mark.parametrize("text", INVALID)
def test_refused_like_the_engine(text: str) -> None:
    with pytest.raises(InvalidSchedule):
        Schedule.parse(text)
    got = run_js(S, f"""
        try {{ S.parseSchedule({json.dumps(text)}); return 'accepted'; }}
        catch (e) {{ return 'refused'; }}""")
    assert got == "refused"


def test_format_round_trips_and_keeps_zero_based_days_and_months() -> None:
    got = run_js(S, """
        const s = S.parseSchedule('0;30;6;12;;5');
        return [S.formatSchedule(s), s.days, s.weekdays,
                S.formatSchedule(S.parseSchedule('0;0;0;;11,0;'))];""")
    assert got == ["0;30;6;12;;5", [12], [5], "0;0;0;;0,11;"]


def test_sentences_for_people() -> None:
    got = run_js(S, """
        return ['0;30;6;;;', '0;0;12;14;11;', '0;0;0;12;;5', ';;;;;']
          .map((t) => S.describeSchedule(S.parseSchedule(t)));""")
    assert got == [
        "at 06:30:00, every day",
        "at 12:00:00, on the 15th in December",
        "at 00:00:00, on the 13th if it is a Friday",
        "every second of every minute of every hour, every day",
    ]


def test_daily_shape_is_recognised() -> None:
    got = run_js(S, """
        return ['0;30;6;;;', '0;30;6;1;;', '0;30,45;6;;;']
          .map((t) => S.dailyTime(S.parseSchedule(t)));""")
    assert got == [{"hour": 6, "minute": 30}, None, None]
