"""SLA policies and business-hours calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from socialcare import config, sla
from socialcare.models.case import Priority
from socialcare.sla import Calendar, parse_duration


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    config.reset()
    sla.reset()
    yield
    sla.reset()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_durations() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(15) == timedelta(minutes=15)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_default_targets_are_hours_not_days() -> None:
    assert sla.targets(True, Priority.URGENT)[0] == timedelta(minutes=30)
    assert sla.targets(True, Priority.NORMAL)[0] == timedelta(hours=1)
    assert sla.targets(False, Priority.NORMAL)[0] == timedelta(hours=4)
    for public in (True, False):
        for priority in Priority:
            first, resolution = sla.targets(public, priority)
            assert first < resolution


def test_public_urgent_during_opening_hours_is_due_in_30_minutes() -> None:
    start = utc(2026, 11, 23, 10, 0)  # Monday 11:00 Rome
    due = sla.compute(start, public=True, priority=Priority.URGENT, team="social")
    assert due.first_response_due == start + timedelta(minutes=30)
    assert due.policy == "public/urgent" and due.calendar == "social"


def test_clock_stops_outside_opening_hours() -> None:
    # Friday 17:30 Rome (16:30 UTC): the call centre closes at 18:00 and reopens Saturday 09:00.
    start = utc(2026, 11, 27, 16, 30)
    due = sla.compute(start, public=False, priority=Priority.HIGH, team="callcentre")  # 2h first response
    assert due.first_response_due == utc(2026, 11, 28, 9, 30)  # 30 min Friday + 90 min Saturday from 09:00 Rome


def test_lunch_break_and_sunday_are_closed() -> None:
    cal = sla.calendar("callcentre")
    assert not cal.is_open(utc(2026, 11, 23, 12, 30))  # 13:30 Rome, lunch
    assert cal.is_open(utc(2026, 11, 23, 13, 30))
    assert not cal.is_open(utc(2026, 11, 29, 10, 0))  # Sunday
    # Saturday 12:00 Rome + 2h: one hour to 13:00, then Monday 09:00 + 1h
    assert cal.add(utc(2026, 11, 28, 11, 0), timedelta(hours=2)) == utc(2026, 11, 30, 9, 0)


def test_holidays_are_closed() -> None:
    cal = sla.calendar("callcentre")
    # Thursday 24 Dec 17:00 Rome + 2h -> 25 and 26 Dec are holidays, 27 is Sunday -> Monday 28 Dec 10:00 Rome
    assert cal.add(utc(2026, 12, 24, 16, 0), timedelta(hours=2)) == utc(2026, 12, 28, 9, 0)


def test_daylight_saving_change_is_handled_by_zoneinfo() -> None:
    cal = Calendar("t", ZoneInfo("Europe/Rome"), {i: ((time(9), time(18)),) for i in range(7)}, frozenset())
    # Clocks go forward on 29 Mar 2026: 09:00 Rome is 08:00 UTC on the 28th but 07:00 UTC on the 29th.
    # Starting at Saturday's closing (18:00 CET), one business hour ends at 10:00 CEST = 08:00 UTC.
    assert cal.add(utc(2026, 3, 28, 17, 0), timedelta(hours=1)) == utc(2026, 3, 29, 8, 0)
    assert cal.add(utc(2026, 3, 28, 7, 0), timedelta(hours=1)) == utc(2026, 3, 28, 9, 0)


def test_team_without_calendar_runs_around_the_clock() -> None:
    start = utc(2026, 11, 29, 3, 0)
    assert sla.calendar("nobody").add(start, timedelta(hours=5)) == start + timedelta(hours=5)


def test_calendar_parsing_and_24h_days() -> None:
    cal = Calendar.from_config(
        "x", {"timezone": "UTC", "hours": {"mon": [["00:00", "24:00"]]}, "holidays": ["2026-11-30"]}
    )
    assert cal.add(utc(2026, 11, 23, 23, 0), timedelta(hours=2)) == utc(2026, 12, 7, 1, 0)
    assert date(2026, 11, 30) in cal.holidays


def test_tighten_only_brings_due_times_closer() -> None:
    start = utc(2026, 11, 23, 10, 0)
    normal = sla.compute(start, public=False, priority=Priority.NORMAL, team="social")
    urgent = sla.tighten(normal, start + timedelta(minutes=10), public=True, priority=Priority.URGENT, team="social")
    assert urgent.first_response_due == start + timedelta(minutes=30)  # from the case start, not from now
    assert urgent.started_at == start
    relaxed = sla.tighten(urgent, start, public=False, priority=Priority.LOW, team="callcentre")
    assert relaxed.first_response_due == urgent.first_response_due
    assert relaxed.resolution_due == urgent.resolution_due
