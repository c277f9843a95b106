"""The stakeholder report: a period's counters read once, each section's series, and the outputs -
one self-contained HTML file (inline SVG charts, a table beside each) and one CSV per chart.

Built from the day counters only (``store.reports``: one BatchGetItem per 100 day-family items),
never from the interactions themselves, so a year of traffic costs the same as a quiet week.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from socialcare.domain.reporting import charts
from socialcare.domain.reporting.facts import CASES, CUSTOMERS, REACH, RESPONSE, VOLUME
from socialcare.domain.reporting.model import Aggregates, CounterSource, DayCounters, Number, Section, Series, share
from socialcare.domain.reporting.page import page
from socialcare.domain.reporting.sections import BUILT_IN
from socialcare.store.reports import ReportsRepository


@dataclass
class Report:
    first: date
    last: date
    generated_at: datetime
    sections: list[tuple[Section, Series]]
    aggregates: Aggregates
    title: str = "socialcare - customer care report"
    kpis: list[tuple[str, str]] = field(default_factory=list)

    @property
    def period(self) -> str:
        text = f"{self.first.isoformat()} to {self.last.isoformat()}"
        if self.aggregates.first != self.first:
            text += f" (nothing counted before {self.aggregates.first.isoformat()})"
        return text

    def html(self) -> str:
        generated = self.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return page(self.title, f"{self.period} (UTC days) · generated {generated}", self.kpis,
                    [(s, series, charts.svg(s, series)) for s, series in self.sections])

    def csv_files(self) -> dict[str, str]:
        """File name -> CSV text: one per chart, holding the numbers of its table."""
        return {f"{section.id}.csv": csv_text(series) for section, series in self.sections}


def csv_text(series: Series) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = series.columns()
    writer.writerow([series.axis, *columns])
    for index, label in enumerate(series.labels):
        writer.writerow([label, *(cell(values[index]) for values in columns.values())])
    return out.getvalue()


def cell(value: Number) -> str:
    return "" if value is None else str(value)


def period(since: str, until: date | None = None, *, today: date | None = None) -> tuple[date, date]:
    """``since`` is ``30d`` (the last 30 days, today included) or a date (``2026-01-01``)."""
    last = until or today or datetime.now(UTC).date()
    text = since.strip().lower()
    if text.endswith("d") and text[:-1].isdigit():
        days = int(text[:-1])
        if days < 1:
            raise ValueError("--since needs at least 1d")
        first = last - timedelta(days=days - 1)
    else:
        try:
            first = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"--since: a number of days (30d) or a date (2026-01-01), not {since!r}") from None
    if first > last:
        raise ValueError(f"the period starts ({first}) after it ends ({last})")
    return first, last


def last_week(today: date) -> tuple[date, date, str]:
    """The last complete ISO week before ``today``: (Monday, Sunday, ``2026-W03``)."""
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return monday, monday + timedelta(days=6), f"{year}-W{week:02d}"


def build(repo: ReportsRepository, first: date, last: date, *, sources: Sequence[CounterSource] = (),
          sections: Sequence[Section] | None = None, now: datetime | None = None) -> Report:
    """The report of ``first``..``last``: ReportsTable's day counters, and each of ``sources``'
    families (StateTable's CSAT, share of voice, listening) read from its own table; the sections
    are the built-in ones, then the sources' (unless ``sections`` are given)."""
    chosen = list(sections) if sections is not None else [*BUILT_IN, *(s for src in sources for s in src.sections)]
    families = {f for s in chosen for f in s.families} | {VOLUME, REACH, CUSTOMERS, RESPONSE, CASES}
    data: DayCounters = {}
    for source in sources:
        if mine := families & source.families:
            _merge(data, source.days(first, last, mine))
            families -= mine
    _merge(data, repo.days(first, last, families))
    # A period asked from long before anything was counted (--since 2020-01-01) is drawn from
    # its first counted day: years of empty bars would hide the weeks that matter.
    shown = max(first, min((date.fromisoformat(d) for d in data), default=first))
    agg = Aggregates(shown, last, data)
    report = Report(first, last, now or datetime.now(UTC), [(s, s.series(agg)) for s in chosen], agg)
    report.kpis = [*kpis(agg), *(kpi for source in sources for kpi in source.kpis(agg))]
    return report


def _merge(data: DayCounters, more: DayCounters) -> None:
    for day, families in more.items():
        data.setdefault(day, {}).update(families)


def kpis(agg: Aggregates) -> list[tuple[str, str]]:
    """The headline figures above the charts."""
    inbound = sum(agg.totals(VOLUME, "in#").values())
    met = sum(agg.totals(RESPONSE, "met#").values())
    within = share(met, met + sum(agg.totals(RESPONSE, "breached#").values()))
    new, back = agg.total(CUSTOMERS, "new"), agg.total(CUSTOMERS, "returning")
    returning = share(back, new + back)
    return [
        ("messages received", f"{inbound:,}"),
        ("public mentions", f"{agg.total(REACH, 'mentions'):,}"),
        ("people reached", f"{agg.total(REACH, 'reach'):,}"),
        ("cases opened", f"{sum(agg.totals(CASES, 'opened#').values()):,}"),
        ("first responses within the SLA", "-" if within is None else f"{within}%"),
        ("returning customers", "-" if returning is None else f"{returning}%"),
    ]

