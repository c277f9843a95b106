"""Business calendars whose holidays never run out: public holidays of any year from the
``holidays`` library per country and subdivision, plus the brand's own closures and re-openings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.easter import easter

from socialcare.config.calendars import CalendarRules
from socialcare.config.loader import load_rules
from socialcare.config.rules import Calendars, SlaPolicies
from socialcare.domain.sla import SlaClock
from socialcare.errors import ConfigurationError
from socialcare.models.case import Priority

ROME = ZoneInfo("Europe/Rome")
WEEK = {"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]],
        "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]], "sat": [["09:00", "18:00"]]}
EVERY_DAY = {**WEEK, "sun": [["09:00", "18:00"]]}


@pytest.fixture(scope="module")
def sla() -> SlaClock:
    # The shipped config/sla.yaml and config/calendars.yaml.
    return SlaClock(load_rules(SlaPolicies, ""), load_rules(Calendars, ""))


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def clock_with(tmp_path: Path, calendars: dict[str, dict[str, object]]) -> SlaClock:
    """The shipped SLA policies on a deployment's own calendars.yaml (SOCIALCARE_CONFIG_DIR)."""
    import yaml

    (tmp_path / "calendars.yaml").write_text(yaml.safe_dump({"version": 1, "calendars": calendars}))
    return SlaClock(load_rules(SlaPolicies, ""), load_rules(Calendars, str(tmp_path)))


def italian_holidays(year: int) -> list[date]:
    """Italy's national holidays by the law, computed here and not by the library under test."""
    fixed = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)]
    return sorted([date(year, m, d) for m, d in fixed] + [easter(year) + timedelta(days=1)])


def test_christmas_2027_is_skipped_and_the_call_centre_reopens_on_the_27th(sla: SlaClock) -> None:
    # Friday 24 Dec 2027 17:00: one business hour left that day; Saturday 25 (Christmas) and
    # Sunday 26 (Santo Stefano) are closed; the second hour runs on Monday 27 from 09:00.
    due = sla.compute(rome(2027, 12, 24, 17), public=False, priority=Priority.HIGH, team="callcentre")
    assert due.first_response_due == rome(2027, 12, 27, 10).astimezone(UTC)


@pytest.mark.parametrize("years_ahead", [1, 2])
def test_next_years_national_holidays_stop_the_call_centre_clock(sla: SlaClock, years_ahead: int) -> None:
    year = datetime.now(UTC).year + years_ahead  # never stale: always the years no one typed in
    holidays = set(italian_holidays(year))
    cal = sla.calendar("callcentre")
    checked = 0
    for day in sorted(holidays):
        if day.weekday() == 6:
            continue  # closed on Sundays anyway
        # A case opened at 11:00 on the holiday with one business hour to go is due at 10:00 on
        # the next day the call centre opens (not a Sunday, not a holiday).
        reopens = day + timedelta(days=1)
        while reopens.weekday() == 6 or reopens in holidays:
            reopens += timedelta(days=1)
        start = rome(day.year, day.month, day.day, 11)
        assert not cal.is_open(start), day
        assert cal.add(start, timedelta(hours=1)) == rome(reopens.year, reopens.month, reopens.day, 10), day
        checked += 1
    assert checked >= 8


def test_liberation_day_2027_and_easter_monday_2028_close_a_seven_day_calendar(tmp_path: Path) -> None:
    clock = clock_with(tmp_path, {"daily": {"timezone": "Europe/Rome", "hours": EVERY_DAY, "country": "IT"}})
    cal = clock.calendar("daily")
    assert cal.is_open(rome(2027, 4, 24, 12)) and not cal.is_open(rome(2027, 4, 25, 12))  # Sunday, Liberazione
    assert cal.is_open(rome(2028, 4, 15, 12)) and cal.is_open(rome(2028, 4, 18, 12))
    assert not cal.is_open(rome(2028, 4, 16, 12)) and not cal.is_open(rome(2028, 4, 17, 12))  # Easter, Easter Monday
    # Saturday 24 Apr 2027 17:30 + 1 h: half an hour on the 24th, the rest on Monday 26 from 09:00.
    due = clock.compute(rome(2027, 4, 24, 17, 30), public=True, priority=Priority.HIGH, team="daily")
    assert due.first_response_due == rome(2027, 4, 26, 9, 30).astimezone(UTC)


def test_the_social_team_works_public_holidays_but_not_christmas_or_new_year(sla: SlaClock) -> None:
    cal = sla.calendar("social")
    year = datetime.now(UTC).year + 2
    assert cal.is_open(rome(year, 4, 25, 12)) and cal.is_open(rome(year, 6, 2, 12))
    assert not cal.is_open(rome(year, 12, 25, 12)) and not cal.is_open(rome(year + 1, 1, 1, 12))
    assert cal.is_open(rome(year, 12, 26, 12))


def test_brand_closures_and_reopenings(tmp_path: Path) -> None:
    clock = clock_with(tmp_path, {"brand": {
        "timezone": "Europe/Rome", "hours": WEEK, "country": "IT",
        "closures": ["2027-03-15", "08-14"],  # a one-off inventory day; every 14 August
        "open_on": ["2027-08-14", "06-02"],  # open this one 14 August; staffed every Republic Day
    }})
    cal = clock.calendar("brand")
    # Monday 15 Mar 2027 10:00 + 1 h: closed all day, due Tuesday 10:00.
    due = clock.compute(rome(2027, 3, 15, 10), public=True, priority=Priority.HIGH, team="brand")
    assert due.first_response_due == rome(2027, 3, 16, 10).astimezone(UTC)
    assert cal.is_open(rome(2028, 3, 15, 12))  # the one-off closure was 2027's only
    assert not cal.is_open(rome(2028, 8, 14, 12)) and not cal.is_open(rome(2029, 8, 14, 12))  # every year
    assert cal.is_open(rome(2027, 8, 14, 12))  # a dated opening beats the yearly closure
    assert cal.is_open(rome(2027, 6, 2, 12)) and cal.is_open(rome(2028, 6, 2, 12))  # Republic Day re-opened
    assert not cal.is_open(rome(2027, 12, 8, 12))  # other national holidays still close it
    assert not cal.is_open(rome(2027, 6, 6, 12))  # open_on does not open a closed weekday (Sunday)


def test_a_subdivision_holiday_only_closes_the_calendar_naming_it(tmp_path: Path) -> None:
    clock = clock_with(tmp_path, {
        "rome": {"timezone": "Europe/Rome", "hours": WEEK, "country": "IT", "subdivision": "RM"},
        "roma": {"timezone": "Europe/Rome", "hours": WEEK, "country": "it", "subdivision": "Roma"},
        "milan": {"timezone": "Europe/Rome", "hours": WEEK, "country": "IT", "subdivision": "MI"},
        "italy": {"timezone": "Europe/Rome", "hours": WEEK, "country": "IT"},
    })
    peter_and_paul = rome(2027, 6, 29, 12)  # Tuesday: Rome's patron saints
    ambrose = rome(2027, 12, 7, 12)  # Tuesday: Milan's patron saint
    assert not clock.calendar("rome").is_open(peter_and_paul) and clock.calendar("rome").is_open(ambrose)
    assert not clock.calendar("roma").is_open(peter_and_paul)
    assert clock.calendar("milan").is_open(peter_and_paul) and not clock.calendar("milan").is_open(ambrose)
    assert clock.calendar("italy").is_open(peter_and_paul) and clock.calendar("italy").is_open(ambrose)
    assert not clock.calendar("rome").is_open(rome(2028, 4, 25, 12))  # and the national ones too
    due = clock.compute(rome(2027, 6, 28, 17, 30), public=True, priority=Priority.HIGH, team="rome")
    assert due.first_response_due == rome(2027, 6, 30, 9, 30).astimezone(UTC)


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        ({"hours": WEEK, "country": "ZZ"}, r"unknown country 'ZZ'"),
        ({"hours": WEEK, "country": "Italy"}, r"unknown country 'Italy'"),
        ({"hours": WEEK, "country": "IT", "subdivision": "XX"}, r"unknown subdivision 'XX' of IT: .*RM"),
        ({"hours": WEEK, "subdivision": "RM"}, r"subdivision 'RM' needs the calendar's country"),
        ({"hours": WEEK, "closures": ["2027-02-30"]}, r"bad day '2027-02-30'"),
        ({"hours": WEEK, "closures": ["02-30"]}, r"bad day '02-30'"),
        ({"hours": WEEK, "closures": ["12-24"], "open_on": ["12-24"]}, r"both in closures and open_on: 12-24"),
        ({"country": "IT"}, r"without hours is open around the clock"),
    ],
)
def test_a_bad_calendar_fails_at_load_with_the_file_named(tmp_path: Path, calendar: dict[str, object],
                                                          problem: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"calendars\.yaml is invalid: calendars\.t.*{problem}"):
        clock_with(tmp_path, {"t": calendar})


def test_the_old_holidays_list_still_closes_but_warns(tmp_path: Path) -> None:
    with pytest.warns(FutureWarning, match=r"`holidays:` is deprecated and read as `closures:`"):
        clock = clock_with(tmp_path, {"old": {"timezone": "Europe/Rome", "hours": WEEK, "country": "IT",
                                              "holidays": ["2027-03-15"], "closures": ["2027-03-16"]}})
    cal = clock.calendar("old")
    assert not cal.is_open(rome(2027, 3, 15, 12)) and not cal.is_open(rome(2027, 3, 16, 12))
    assert cal.is_open(rome(2027, 3, 17, 12)) and not cal.is_open(rome(2027, 4, 25, 12))


def test_country_codes_are_normalised() -> None:
    assert CalendarRules.model_validate({"hours": WEEK, "country": "ita"}).country == "IT"
    assert CalendarRules.model_validate({"hours": WEEK, "country": "UK"}).country == "GB"


def test_loading_the_calendars_leaves_the_country_modules_for_the_first_due_time() -> None:
    """Cold starts validate the shipped calendars without importing the library's ~250 country
    modules (~0.1 s); the first due time loads them."""
    code = textwrap.dedent("""
        import sys
        from datetime import UTC, datetime
        from socialcare.config.loader import load_rules
        from socialcare.config.rules import Calendars, SlaPolicies
        from socialcare.domain.sla import SlaClock
        from socialcare.models.case import Priority
        clock = SlaClock(load_rules(SlaPolicies, ""), load_rules(Calendars, ""))
        print("holidays.countries" in sys.modules)
        due = clock.compute(datetime(2027, 12, 24, 16, tzinfo=UTC), public=False, priority=Priority.HIGH,
                            team="callcentre")
        print("holidays.countries" in sys.modules, due.first_response_due.isoformat())
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.split() == ["False", "True", "2027-12-27T09:00:00+00:00"]
