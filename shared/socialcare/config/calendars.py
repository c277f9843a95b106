"""Business calendars (``calendars.yaml``): opening hours, public holidays from the ``holidays``
library (python-holidays), and the brand's own closures.

Holidays used to be typed into the YAML by hand, so SLA clocks silently ignored them once the
list ran out. A calendar now names its ``country`` (and ``subdivision``: a region, province or
city the library knows) and the library gives that place's public holidays for any year: moving
feasts, substitute days, new laws. On top come the brand's ``closures`` (one date, or ``MM-DD``
for every year) and ``open_on``, the days the brand works although the library or a yearly
closure says closed (a call centre staffed on a minor national day, a sales day on a closure).

Cold starts. ``import holidays`` costs 25-50 ms once the application's own imports are loaded
(65-110 ms in a bare interpreter), but the first country lookup imports all of the library's ~250
country modules (0.1-0.2 s more). So checking a ``country`` at load reads only the library's
registry, and a country's holidays are computed, one year at a time (~1 ms) and cached, when a due
time first needs them. Only a calendar naming a ``subdivision`` loads its country at load, to check
the code against the country's own list.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_SHOWN_SUBDIVISIONS = 150  # all of Italy's 114 provinces and cities: the admin looks for theirs


class MonthDay(NamedTuple):
    """A day of every year (``"12-24"`` in YAML)."""

    month: int
    day: int

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


def parse_day(value: Any) -> date | MonthDay:
    """``2026-12-24`` (one date; YAML reads it unquoted as a date) or ``"12-24"`` (every year)."""
    if isinstance(value, datetime):
        raise ValueError(f"bad day {value!r}: a closure is a whole day, give the date without a time")
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if match := _MONTH_DAY.match(text):
            month, day = int(match.group(1)), int(match.group(2))
            date(2000, month, day)  # a leap year: 02-29 is a day of some years, 02-30 of none
            return MonthDay(month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad day {value!r}: use YYYY-MM-DD for one date or MM-DD for every year") from None


Day = Annotated[date | MonthDay, BeforeValidator(parse_day)]


def country_code(country: str) -> str:
    """The alpha-2 code of a country the library knows (``it``, ``ITA`` -> ``IT``).

    Read from the library's registry: its public ``list_supported_countries()`` also lists every
    country's subdivisions, and so imports every country module (~0.1 s of a cold start)."""
    from holidays.registry import COUNTRIES

    wanted = country.strip().upper()
    for names in COUNTRIES.values():
        codes = [name for name in names[1:] if 2 <= len(name) <= 3]
        if wanted in codes:
            return codes[0]
    raise ValueError(
        f"unknown country {country!r}: use an ISO 3166-1 code the holidays library knows (IT, FR, GB, US, ...)"
    )


def subdivision_code(country: str, subdivision: str) -> str:
    """The library's code for a subdivision of ``country`` (``RM``; ``Roma`` -> ``RM``)."""
    import holidays

    entity = holidays.country_holidays(country)  # no years: nothing computed yet
    aliases: dict[str, str] = dict(entity.subdivisions_aliases)
    for candidate in dict.fromkeys((subdivision.strip(), subdivision.strip().upper())):
        if candidate in entity.subdivisions:
            return candidate
        if candidate in aliases:
            return aliases[candidate]
    known = sorted(entity.subdivisions)
    shown = ", ".join(known[:_SHOWN_SUBDIVISIONS]) + (", ..." if len(known) > _SHOWN_SUBDIVISIONS else "")
    raise ValueError(
        f"unknown subdivision {subdivision!r} of {country}: "
        + (f"the holidays library knows {shown}" if known else "the holidays library knows none for it")
    )


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of ``country`` (and ``subdivision``) in ``year``, substitute days
    included (the library's default: a business is closed on the observed day too)."""
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _clock(text: str) -> time:
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class CalendarRules(BaseModel):
    """One team's business calendar: weekly opening hours in its timezone; closed on the public
    holidays of ``country``/``subdivision`` and on ``closures``, unless the day is in ``open_on``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    hours: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)
    country: str | None = Field(default=None, description="ISO 3166-1 code: its public holidays, any year")
    subdivision: str | None = Field(default=None, description="a region/province/city code of the country (RM)")
    closures: list[Day] = Field(default_factory=list, description="the brand's closed days: YYYY-MM-DD or MM-DD")
    open_on: list[Day] = Field(default_factory=list, description="open although a public holiday or yearly closure")

    @model_validator(mode="before")
    @classmethod
    def _holidays_is_a_deprecated_alias(cls, data: Any) -> Any:
        """``holidays:`` (the hand-typed list of old) still reads as brand closures."""
        if not isinstance(data, dict) or "holidays" not in data:
            return data
        warnings.warn(
            "calendars.yaml: `holidays:` is deprecated and read as `closures:`; name the calendar's `country` "
            "(and `subdivision`) for public holidays of every year, and keep only the brand's own days in "
            "`closures:`",
            FutureWarning,
            stacklevel=2,
        )
        data = dict(data)
        data["closures"] = [*(data.pop("holidays") or []), *(data.get("closures") or [])]
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _weekdays_and_clocks(cls, value: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        for day, intervals in value.items():
            if str(day).lower()[:3] not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}")
            for start, end in intervals:
                _clock(start), _clock(end)  # noqa: B018 - raises on a malformed clock
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "country" not in info.data:  # a bad country is reported on its own
            return value
        if info.data["country"] is None:
            raise ValueError(f"subdivision {value!r} needs the calendar's country")
        return subdivision_code(info.data["country"], value)

    @model_validator(mode="after")
    def _days_that_mean_something(self) -> CalendarRules:
        if not self.hours and (self.country or self.closures or self.open_on):
            raise ValueError("a calendar without hours is open around the clock: holidays and closures need hours")
        both = set(self.closures) & set(self.open_on)
        if both:
            raise ValueError(f"days both in closures and open_on: {', '.join(sorted(map(str, both)))}")
        return self

    def intervals(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """Weekday (0 = Monday) -> its opening intervals, sorted."""
        return {
            WEEKDAYS.index(str(day).lower()[:3]): tuple(sorted((_clock(a), _clock(b)) for a, b in spans))
            for day, spans in self.hours.items()
        }
