"""SLA policies and business-hours calendars (``config/sla.yaml``, ``config/calendars.yaml``).

A policy gives, per visibility (public/private) and priority, the first-response and resolution
targets as *business time* on the owning team's calendar: a private e-mail at 21:50 on Friday
to a call centre open 09-18 on weekdays is due on Monday morning, not at 01:50 on Saturday.
Calendars carry their own IANA timezone (zoneinfo), so daylight saving is handled by the
library and never by hand, and name their country (and subdivision): public holidays come from
the ``holidays`` library for whatever year a due time falls in, one year at a time, loaded the
first time a due time needs them (config/calendars.py), so no clock runs out of holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from socialcare.config.calendars import CalendarRules, MonthDay, public_holidays
from socialcare.config.rules import Calendars, SlaPolicies
from socialcare.models.case import Priority, Sla

# A calendar with no opening hours at all would loop forever looking for one; two years of
# searching means the config is wrong, and then wall-clock time is the safe answer.
_MAX_DAYS = 731


@dataclass(frozen=True)
class Calendar:
    name: str
    tz: ZoneInfo
    hours: dict[int, tuple[tuple[time, time], ...]]  # weekday (0=Mon) -> intervals
    closures: frozenset[date] = frozenset()  # the brand's one-off closed days
    country: str | None = None  # public holidays of this country (alpha-2) and subdivision
    subdivision: str | None = None
    yearly_closures: frozenset[MonthDay] = frozenset()
    open_on: frozenset[date] = frozenset()
    yearly_open_on: frozenset[MonthDay] = frozenset()

    @classmethod
    def from_rules(cls, name: str, rules: CalendarRules) -> Calendar:
        return cls(
            name=name, tz=ZoneInfo(rules.timezone), hours=rules.intervals(),
            closures=frozenset(d for d in rules.closures if isinstance(d, date)),
            country=rules.country, subdivision=rules.subdivision,
            yearly_closures=frozenset(d for d in rules.closures if isinstance(d, MonthDay)),
            open_on=frozenset(d for d in rules.open_on if isinstance(d, date)),
            yearly_open_on=frozenset(d for d in rules.open_on if isinstance(d, MonthDay)),
        )

    def is_holiday(self, day: date) -> bool:
        """Closed all day, whatever the weekday's hours: a dated entry beats a yearly one, and an
        explicit one (closure, open_on) beats the country's public holidays."""
        if day in self.closures:
            return True
        if day in self.open_on:
            return False
        yearly = MonthDay(day.month, day.day)
        if yearly in self.yearly_closures:
            return True
        if yearly in self.yearly_open_on:
            return False
        return self.country is not None and day in public_holidays(self.country, self.subdivision, day.year)

    @property
    def always_open(self) -> bool:
        return not self.hours

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        spans = self.hours.get(day.weekday(), ())
        if not spans or self.is_holiday(day):  # a closed weekday needs no holiday lookup
            return []
        found = []
        for start, end in spans:
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


class SlaClock:
    """Due times from the SLA policies and the teams' business calendars."""

    def __init__(self, policies: SlaPolicies, calendars: Calendars) -> None:
        self.policies = policies
        self.calendars = {name: Calendar.from_rules(name, rules) for name, rules in calendars.calendars.items()}

    def calendar(self, team: str) -> Calendar:
        # A team without a calendar works around the clock (safer than never being due).
        return self.calendars.get(team) or Calendar(team, ZoneInfo("UTC"), {})

    def targets(self, public: bool, priority: Priority) -> tuple[timedelta, timedelta]:
        visibility: Literal["public", "private"] = "public" if public else "private"
        policy = self.policies.policies.get(visibility, {}).get(priority)
        if policy is None:
            raise ValueError(f"no SLA policy for {visibility}/{priority.value}")
        return policy.first_response, policy.resolution

    def compute(self, started_at: datetime, *, public: bool, priority: Priority, team: str) -> Sla:
        first, resolution = self.targets(public, priority)
        cal = self.calendar(team)
        return Sla(
            policy=f"{'public' if public else 'private'}/{priority.value}",
            calendar=team,
            started_at=started_at.astimezone(UTC),
            first_response_due=cal.add(started_at, first),
            resolution_due=cal.add(started_at, resolution),
        )

    def tighten(self, current: Sla | None, started_at: datetime, *, public: bool, priority: Priority,
                team: str) -> Sla:
        """The SLA after a change of priority, visibility or team.

        Automatic changes only ever bring due times closer: a case that became urgent must be
        answered sooner, but a hand-off to a team that is closed tonight must not quietly push
        the promise to tomorrow morning.
        """
        fresh = self.compute(current.started_at if current else started_at, public=public, priority=priority,
                             team=team)
        if current is None:
            return fresh
        return Sla(
            policy=fresh.policy,
            calendar=fresh.calendar,
            started_at=current.started_at,
            first_response_due=min(current.first_response_due, fresh.first_response_due),
            resolution_due=min(current.resolution_due, fresh.resolution_due),
        )
