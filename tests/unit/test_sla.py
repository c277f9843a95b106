"""SLA policies and business-hours calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from socialcare.config.loader import load_rules
from socialcare.config.rules import CalendarRules, Calendars, SlaPolicies, parse_duration
from socialcare.domain.sla import Calendar, SlaClock
from socialcare.errors import ConfigurationError
from socialcare.models.case import Priority


@pytest.fixture(scope="module")
def sla() -> SlaClock:
    # The shipped config/sla.yaml and config/calendars.yaml (no override directory).
    return SlaClock(load_rules(SlaPolicies, ""), load_rules(Calendars, ""))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_durations() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(15) == timedelta(minutes=15)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_default_targets_are_hours_not_days(sla: SlaClock) -> None:
    assert sla.targets(True, Priority.URGENT)[0] == timedelta(minutes=30)
    assert sla.targets(True, Priority.NORMAL)[0] == timedelta(hours=1)
    assert sla.targets(False, Priority.NORMAL)[0] == timedelta(hours=4)
    for public in (True, False):
        for priority in Priority:
            first, resolution = sla.targets(public, priority)
            assert first < resolution


def test_public_urgent_during_opening_hours_is_due_in_30_minutes(sla: SlaClock) -> None:
    start = utc(2026, 11, 23, 10, 0)  # Monday 11:00 Rome
    due = sla.compute(start, public=True, priority=Priority.URGENT, team="social")
    assert due.first_response_due == start + timedelta(minutes=30)
    assert due.policy == "public/urgent" and due.calendar == "social"


def test_clock_stops_outside_opening_hours(sla: SlaClock) -> None:
    # Friday 17:30 Rome (16:30 UTC): the call centre closes at 18:00 and reopens Saturday 09:00.
    start = utc(2026, 11, 27, 16, 30)
    due = sla.compute(start, public=False, priority=Priority.HIGH, team="callcentre")  # 2h first response
    assert due.first_response_due == utc(2026, 11, 28, 9, 30)  # 30 min Friday + 90 min Saturday from 09:00 Rome


def test_lunch_break_and_sunday_are_closed(sla: SlaClock) -> None:
    cal = sla.calendar("callcentre")
    assert not cal.is_open(utc(2026, 11, 23, 12, 30))  # 13:30 Rome, lunch
    assert cal.is_open(utc(2026, 11, 23, 13, 30))
    assert not cal.is_open(utc(2026, 11, 29, 10, 0))  # Sunday
    # Saturday 12:00 Rome + 2h: one hour to 13:00, then Monday 09:00 + 1h
    assert cal.add(utc(2026, 11, 28, 11, 0), timedelta(hours=2)) == utc(2026, 11, 30, 9, 0)


def test_holidays_are_closed(sla: SlaClock) -> None:
    cal = sla.calendar("callcentre")
    # Thursday 24 Dec 17:00 Rome + 2h -> 25 and 26 Dec are holidays, 27 is Sunday -> Monday 28 Dec 10:00 Rome
    assert cal.add(utc(2026, 12, 24, 16, 0), timedelta(hours=2)) == utc(2026, 12, 28, 9, 0)


def test_daylight_saving_change_is_handled_by_zoneinfo() -> None:
    cal = Calendar("t", ZoneInfo("Europe/Rome"), {i: ((time(9), time(18)),) for i in range(7)}, frozenset())
    # Clocks go forward on 29 Mar 2026: 09:00 Rome is 08:00 UTC on the 28th but 07:00 UTC on the 29th.
    # Starting at Saturday's closing (18:00 CET), one business hour ends at 10:00 CEST = 08:00 UTC.
    assert cal.add(utc(2026, 3, 28, 17, 0), timedelta(hours=1)) == utc(2026, 3, 29, 8, 0)
    assert cal.add(utc(2026, 3, 28, 7, 0), timedelta(hours=1)) == utc(2026, 3, 28, 9, 0)


def test_team_without_calendar_runs_around_the_clock(sla: SlaClock) -> None:
    start = utc(2026, 11, 29, 3, 0)
    assert sla.calendar("nobody").add(start, timedelta(hours=5)) == start + timedelta(hours=5)


def test_calendar_parsing_and_24h_days() -> None:
    rules = CalendarRules.model_validate(
        {"timezone": "UTC", "hours": {"mon": [["00:00", "24:00"]]}, "closures": ["2026-11-30"]}
    )
    cal = Calendar.from_rules("x", rules)
    assert cal.add(utc(2026, 11, 23, 23, 0), timedelta(hours=2)) == utc(2026, 12, 7, 1, 0)
    assert cal.is_holiday(date(2026, 11, 30)) and not cal.is_open(utc(2026, 11, 30, 12, 0))


@pytest.mark.parametrize(
    ("calendars", "problem"),
    [
        ("version: 1\ncalendars:\n  t: {timezone: Mars/Olympus}\n", "unknown timezone"),
        ("version: 1\ncalendars:\n  t: {hours: {funday: [['09:00', '18:00']]}}\n", "unknown weekday"),
        ("version: 1\ncalendars:\n  t: {hours: {mon: [['nine', '18:00']]}}\n", "hours"),
    ],
)
def test_broken_calendars_are_refused_with_the_file_named(tmp_path: Path, calendars: str, problem: str) -> None:
    (tmp_path / "calendars.yaml").write_text(calendars)
    with pytest.raises(ConfigurationError, match=rf"calendars\.yaml.*{problem}"):
        load_rules(Calendars, str(tmp_path))


def test_a_policy_with_a_bad_duration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sla.yaml").write_text(
        "version: 1\npolicies:\n  public:\n    urgent: {first_response: soon, resolution: 4h}\n"
    )
    with pytest.raises(ConfigurationError, match=r"sla\.yaml.*first_response"):
        load_rules(SlaPolicies, str(tmp_path))


def test_tighten_only_brings_due_times_closer(sla: SlaClock) -> None:
    start = utc(2026, 11, 23, 10, 0)
    normal = sla.compute(start, public=False, priority=Priority.NORMAL, team="social")
    urgent = sla.tighten(normal, start + timedelta(minutes=10), public=True, priority=Priority.URGENT, team="social")
    assert urgent.first_response_due == start + timedelta(minutes=30)  # from the case start, not from now
    assert urgent.started_at == start
    relaxed = sla.tighten(urgent, start, public=False, priority=Priority.LOW, team="callcentre")
    assert relaxed.first_response_due == urgent.first_response_due
    assert relaxed.resolution_due == urgent.resolution_due
