"""The report as data: the counters of a period, a chart's series, and the sections.

A section is one declarative entry - id, title, what it means, the chart kind, the counter
families it reads and a function from the period's counters to its ``Series`` - and the chart,
the table beside it and its CSV file are all drawn from that one ``Series``, so they cannot
disagree. Counters another table keeps come with their own sections through a ``CounterSource``
(docs/reports.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, Protocol

ChartKind = Literal["stacked_bar", "bar", "line", "horizontal_bar", "dot"]
DAILY_UP_TO_DAYS = 62  # longer periods are drawn week by week (ISO weeks)
Number = int | float | None


@dataclass
class Aggregates:
    """The counters of the days ``first``..``last``: day (ISO) -> family -> attribute -> value."""

    first: date
    last: date
    data: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def days(self) -> list[str]:
        return [(self.first + timedelta(days=n)).isoformat() for n in range((self.last - self.first).days + 1)]

    @property
    def weekly(self) -> bool:
        return (self.last - self.first).days + 1 > DAILY_UP_TO_DAYS

    @property
    def axis(self) -> str:
        """The header of a time series' label column."""
        return "week" if self.weekly else "day"

    def labels(self) -> list[str]:
        """The label of each period: its day, or its ISO week."""
        return [label for label, _ in self.periods()]

    def periods(self) -> list[tuple[str, list[str]]]:
        """(label, its days): each day, or each ISO week (``2026-W03``) for a long period."""
        if not self.weekly:
            return [(day, [day]) for day in self.days()]
        weeks: dict[str, list[str]] = {}
        for day in self.days():
            year, week, _ = date.fromisoformat(day).isocalendar()
            weeks.setdefault(f"{year}-W{week:02d}", []).append(day)
        return list(weeks.items())

    def value(self, family: str, attribute: str, days: Iterable[str]) -> int:
        return sum(self.data.get(day, {}).get(family, {}).get(attribute, 0) for day in days)

    def per_period(self, family: str, attribute: str) -> list[int]:
        return [self.value(family, attribute, days) for _, days in self.periods()]

    def total(self, family: str, attribute: str) -> int:
        return self.value(family, attribute, self.days())

    def totals(self, family: str, prefix: str) -> dict[str, int]:
        """Every attribute of ``family`` starting with ``prefix`` (prefix removed), summed over the period."""
        out: dict[str, int] = {}
        for day in self.days():
            for attribute, value in self.data.get(day, {}).get(family, {}).items():
                if attribute.startswith(prefix):
                    name = attribute.removeprefix(prefix)
                    out[name] = out.get(name, 0) + value
        return out


@dataclass
class Series:
    """A chart's numbers: one value per label for each named series (None: nothing to draw).
    ``extra`` columns (a share, a mean) are in the table and the CSV but not drawn."""

    axis: str  # the header of the label column: "day", "team", "category"...
    labels: list[str]
    values: dict[str, list[Number]]
    unit: str = ""
    extra: dict[str, list[Number]] = field(default_factory=dict)
    secondary: tuple[str, ...] = ()  # series drawn against a second y axis (another unit)
    decimals: int = 1  # how fractional values are written in the chart, the table and the CSV

    def columns(self) -> dict[str, list[Number]]:
        return {**self.values, **self.extra}

    def is_empty(self) -> bool:
        return not any(v for values in self.values.values() for v in values)


@dataclass(frozen=True)
class Section:
    id: str  # also the CSV file's name
    title: str
    description: str  # what the chart means, for people who did not build it
    chart: ChartKind
    families: tuple[str, ...]  # the counter families it reads (ReportsTable sk)
    series: Callable[[Aggregates], Series]
    colors: dict[str, str] = field(default_factory=dict)  # series name -> colour (else the palette)
    empty: str = "nothing counted in this period"  # the note drawn instead of a chart with no data


DayCounters = dict[str, dict[str, dict[str, int]]]  # day (ISO) -> family -> attribute -> value


class CounterSource(Protocol):
    """Day counters another table keeps (StateTable's CSAT, share of voice, listening:
    ``domain.reporting.satisfaction``), read into ``Aggregates`` families beside ReportsTable's,
    with the sections drawn from them and their headline figures."""

    @property
    def families(self) -> frozenset[str]: ...

    @property
    def sections(self) -> Sequence[Section]: ...

    def days(self, first: date, last: date, families: Iterable[str]) -> DayCounters: ...

    def kpis(self, agg: Aggregates) -> list[tuple[str, str]]: ...


def share(part: float, whole: float) -> Number:
    """``part`` as a whole percentage of ``whole``; None (nothing to divide) when ``whole`` is 0."""
    return round(100 * part / whole) if whole else None
