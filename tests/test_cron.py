"""Cron schedules: when one last fired and fires next (Vixie cron semantics)."""

from __future__ import annotations

from datetime import datetime

import pytest

from dataops_nb.cron import CronError, parse_cron


@pytest.mark.parametrize(("expression", "at", "previous", "following"), [
    ("30 6 * * mon-fri", datetime(2026, 12, 2, 5, 0), datetime(2026, 12, 1, 6, 30), datetime(2026, 12, 2, 6, 30)),
    ("30 6 * * mon-fri", datetime(2026, 12, 5, 12, 0), datetime(2026, 12, 4, 6, 30), datetime(2026, 12, 7, 6, 30)),
    ("*/15 * * * *", datetime(2026, 12, 2, 5, 7), datetime(2026, 12, 2, 5, 0), datetime(2026, 12, 2, 5, 15)),
    ("@daily", datetime(2026, 12, 2, 0, 0), datetime(2026, 12, 2, 0, 0), datetime(2026, 12, 3, 0, 0)),
    ("0 0 29 2 *", datetime(2026, 12, 2), datetime(2024, 2, 29), datetime(2028, 2, 29)),
    # day of month and weekday both restricted: either fires
    ("0 12 1 * sun", datetime(2026, 12, 2, 0, 0), datetime(2026, 12, 1, 12, 0), datetime(2026, 12, 6, 12, 0)),
    ("0 9 * jan,jul 7", datetime(2026, 12, 2), datetime(2026, 7, 26, 9, 0), datetime(2027, 1, 3, 9, 0)),
])
def test_previous_and_next(expression, at, previous, following):
    cron = parse_cron(expression)
    assert cron.previous(at) == previous
    assert cron.next(at) == following


def test_airflow_presets_without_a_time_are_never_due():
    assert parse_cron("@once").previous(datetime(2026, 1, 1)) is None


@pytest.mark.parametrize(("expression", "problem"), [
    ("* * * *", "it has 4 field(s)"),
    ("0 24 * * *", "the hour field allows 0-23, not '24'"),
    ("0 0 * * mon-", "'' is not a number in the day of week field"),
    ("*/0 * * * *", "the step in the minute field must be at least 1"),
    ("@fortnightly", "unknown preset"),
    ("5-1 * * * *", "not '5-1'"),
])
def test_what_is_not_cron_says_why(expression, problem):
    with pytest.raises(CronError) as raised:
        parse_cron(expression)
    assert problem in str(raised.value)
