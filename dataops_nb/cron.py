"""Cron schedules (`schedule:` in the spec): five fields or a preset, and when one last fired.

The syntax is Vixie cron's, as Airflow reads it: `minute hour day-of-month month
day-of-week`, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of
those; month and weekday names (`jan`, `mon`); weekday 0 or 7 is Sunday. When both the
day of the month and the weekday are restricted, a day matching either fires (as cron
does). `@once` and `@continuous` are Airflow's: they have no expected time to be late for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import DataOpsError

PRESETS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@quarterly": "0 0 1 */3 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
UNTIMED = ("@once", "@continuous")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {name: number for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)},
    4: {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_LOOKBACK_DAYS = 366 * 5  # covers every expression that fires at all (29 February included)


class CronError(DataOpsError):
    """A schedule that is not a cron expression."""

    def __init__(self, expression: str, problem: str) -> None:
        super().__init__(f"schedule {expression!r} is not a cron expression: {problem}")
        self.expression = expression
        self.problem = problem


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is `*`
    any_weekday: bool
    timed: bool = True

    def _day_matches(self, moment: datetime) -> bool:
        if moment.month not in self.months:
            return False
        weekday = (moment.weekday() + 1) % 7
        by_day, by_weekday = moment.day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def previous(self, moment: datetime) -> datetime | None:
        """The latest time at or before `moment` the schedule fires (None for @once/@continuous)."""
        if not self.timed:
            return None
        moment = moment.replace(second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0)
        for back in range(_LOOKBACK_DAYS):
            candidate = day - timedelta(days=back)
            if not self._day_matches(candidate):
                continue
            limit = (moment.hour, moment.minute) if back == 0 else (23, 59)
            times = [(h, m) for h in self.hours for m in self.minutes if (h, m) <= limit]
            if times:
                hour, minute = max(times)
                return candidate.replace(hour=hour, minute=minute)
        return None

    def next(self, moment: datetime) -> datetime | None:
        """The first time strictly after `moment` the schedule fires."""
        if not self.timed:
            return None
        moment = moment.replace(second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0)
        for ahead in range(_LOOKBACK_DAYS):
            candidate = day + timedelta(days=ahead)
            if not self._day_matches(candidate):
                continue
            floor = (moment.hour, moment.minute) if ahead == 0 else (-1, -1)
            times = [(h, m) for h in self.hours for m in self.minutes if (h, m) > floor]
            if times:
                hour, minute = min(times)
                return candidate.replace(hour=hour, minute=minute)
        return None


def parse_cron(expression: str) -> Cron:
    text = str(expression).strip()
    if text in UNTIMED:
        every = frozenset()
        return Cron(text, every, every, every, every, every, True, True, timed=False)
    fields = PRESETS.get(text.lower(), text).split()
    if text.startswith("@") and text.lower() not in PRESETS:
        raise CronError(text, "unknown preset (use one of " + ", ".join(sorted([*PRESETS, *UNTIMED])) + ")")
    if len(fields) != 5:
        raise CronError(text, f"it has {len(fields)} field(s), and cron has five (minute hour day month weekday)")
    values = [_field(text, index, part) for index, part in enumerate(fields)]
    weekdays = frozenset(0 if day == 7 else day for day in values[4])
    return Cron(text, values[0], values[1], values[2], values[3], weekdays,
                any_day=fields[2] in ("*", "?"), any_weekday=fields[4] in ("*", "?"))


def _field(expression: str, index: int, part: str) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    found: set[int] = set()
    for item in part.lower().split(","):
        body, _, step_text = item.partition("/")
        step = _number(expression, name, step_text, index) if step_text else 1
        if step < 1:
            raise CronError(expression, f"the step in the {name} field must be at least 1")
        if body in ("*", "?"):
            start, stop = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, stop = _number(expression, name, first, index), _number(expression, name, last, index)
        else:
            start = _number(expression, name, body, index)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high) or start > stop:
            raise CronError(expression, f"the {name} field allows {low}-{high}, not '{item}'")
        found.update(range(start, stop + 1, step))
    return frozenset(found)


def _number(expression: str, name: str, text: str, index: int) -> int:
    text = text.strip()
    if text in _NAMES.get(index, {}):
        return _NAMES[index][text]
    if not text.isdigit():
        raise CronError(expression, f"'{text}' is not a number in the {name} field")
    return int(text)
