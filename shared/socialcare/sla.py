"""SLA policies and business-hours calendars (``config/sla.yaml``, ``config/calendars.yaml``).

A policy gives, per visibility (public/private) and priority, the first-response and resolution
targets as *business time* on the owning team's calendar: a private e-mail at 21:50 on Friday
to a call centre open 09-18 on weekdays is due on Monday morning, not at 01:50 on Saturday.
Calendars carry their own IANA timezone (zoneinfo), so daylight saving is handled by the
library and never by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from socialcare import config
from socialcare.models.case import Priority, Sla

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no opening hours at all would loop forever looking for one; two years of
# searching means the config is wrong, and then wall-clock time is the safe answer.
_MAX_DAYS = 731


def parse_duration(text: str | int | float) -> timedelta:
    """``"30m"``, ``"4h"``, ``"2d"`` (a bare number is minutes)."""
    if isinstance(text, int | float):
        return timedelta(minutes=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"bad duration {text!r}: use <n>m, <n>h or <n>d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _clock(text: str) -> time:
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Calendar:
    name: str
    tz: ZoneInfo
    hours: dict[int, tuple[tuple[time, time], ...]]  # weekday (0=Mon) -> intervals
    holidays: frozenset[date]

    @classmethod
    def from_config(cls, name: str, data: dict[str, Any]) -> Calendar:
        hours: dict[int, tuple[tuple[time, time], ...]] = {}
        for day, intervals in (data.get("hours") or {}).items():
            index = _WEEKDAYS.index(str(day).lower()[:3])
            hours[index] = tuple(sorted((_clock(a), _clock(b)) for a, b in intervals or []))
        holidays = frozenset(date.fromisoformat(str(d)) for d in data.get("holidays") or [])
        return cls(name=name, tz=ZoneInfo(str(data.get("timezone", "UTC"))), hours=hours, holidays=holidays)

    @property
    def always_open(self) -> bool:
        return not self.hours

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        found = []
        for start, end in self.hours.get(day.weekday(), ()):
            opens = datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
                if end == time.max
                else datetime.combine(day, end, tzinfo=self.tz)
            ).astimezone(UTC)
            if closes > opens:
                found.append((opens, closes))
        return found

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of opening time (UTC in, UTC out)."""
        start = start.astimezone(UTC)
        if self.always_open:
            return start + duration
        remaining = duration
        day = start.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS):
            for opens, closes in self._intervals(day):
                if closes <= start:
                    continue
                begin = max(start, opens)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        return start + duration

    def is_open(self, at: datetime) -> bool:
        at = at.astimezone(UTC)
        if self.always_open:
            return True
        day = at.astimezone(self.tz).date()
        return any(opens <= at < closes for opens, closes in self._intervals(day))


@lru_cache(maxsize=1)
def _config() -> tuple[dict[str, Any], dict[str, Calendar]]:
    policies = dict(config.load("sla.yaml").get("policies") or {})
    calendars = {
        name: Calendar.from_config(name, data or {})
        for name, data in (config.load("calendars.yaml").get("calendars") or {}).items()
    }
    return policies, calendars


def reset() -> None:
    _config.cache_clear()


def calendar(team: str) -> Calendar:
    _, calendars = _config()
    # A team without a calendar works around the clock (safer than never being due).
    return calendars.get(team) or Calendar(team, ZoneInfo("UTC"), {}, frozenset())


def targets(public: bool, priority: Priority) -> tuple[timedelta, timedelta]:
    policies, _ = _config()
    visibility = "public" if public else "private"
    policy = (policies.get(visibility) or {}).get(priority.value)
    if not policy:
        raise ValueError(f"no SLA policy for {visibility}/{priority.value}")
    return parse_duration(policy["first_response"]), parse_duration(policy["resolution"])


def compute(started_at: datetime, *, public: bool, priority: Priority, team: str) -> Sla:
    first, resolution = targets(public, priority)
    cal = calendar(team)
    return Sla(
        policy=f"{'public' if public else 'private'}/{priority.value}",
        calendar=team,
        started_at=started_at.astimezone(UTC),
        first_response_due=cal.add(started_at, first),
        resolution_due=cal.add(started_at, resolution),
    )


def tighten(current: Sla | None, started_at: datetime, *, public: bool, priority: Priority, team: str) -> Sla:
    """The SLA after a change of priority, visibility or team.

    Automatic changes only ever bring due times closer: a case that became urgent must be
    answered sooner, but a hand-off to a team that is closed tonight must not quietly push the
    promise to tomorrow morning.
    """
    fresh = compute(current.started_at if current else started_at, public=public, priority=priority, team=team)
    if current is None:
        return fresh
    return Sla(
        policy=fresh.policy,
        calendar=fresh.calendar,
        started_at=current.started_at,
        first_response_due=min(current.first_response_due, fresh.first_response_due),
        resolution_due=min(current.resolution_due, fresh.resolution_due),
    )
