"""The stakeholder report as files: built from the day counters, written where it is asked for.

Both read ReportsTable's day counters and StateTable's of surveys and listening
(``domain.reporting.satisfaction``). ``write_files`` serves ``socialcare report`` (an HTML file
and, optionally, a directory of CSVs); ``WeeklyReport`` is WeeklyReportFunction's flow: on its
schedule, the last complete ISO
week's report to the media bucket as ``reports/<yyyy-Www>.html`` and
``reports/<yyyy-Www>/<section>.csv`` (written again, the same keys are overwritten: a retried
run changes nothing).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from socialcare.config.listening_search import ListeningSearch
from socialcare.config.rules import ListeningRules
from socialcare.config.settings import WeeklyReportSettings, load
from socialcare.domain.reporting.report import Report, build, last_week
from socialcare.domain.reporting.satisfaction import SatisfactionSource
from socialcare.flows.wiring import Wiring
from socialcare.observability import count, logger
from socialcare.store.reports import ReportsRepository
from socialcare.store.state import StateRepository

PREFIX = "reports/"


def report(wiring: Wiring, first: date, last: date) -> Report:
    """The report of the wired tables, with the deployed listening.yaml's names and prices."""
    return report_from(wiring.reports, wiring.state, wiring.rules(ListeningRules).search, first, last)


def report_from(reports: ReportsRepository, state: StateRepository, search: ListeningSearch,
                first: date, last: date) -> Report:
    """ReportsTable's counters, and StateTable's of surveys and listening (their sections)."""
    return build(reports, first, last, sources=[SatisfactionSource(state, search)])


def write_files(built: Report, out: Path, csv_dir: Path | None = None) -> list[Path]:
    """The report's HTML at ``out`` and, with ``csv_dir``, one CSV per chart there; the paths written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(built.html(), encoding="utf-8")
    written = [out]
    if csv_dir is not None:
        csv_dir.mkdir(parents=True, exist_ok=True)
        for name, text in built.csv_files().items():
            path = csv_dir / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


class WeeklyReport:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def handle(self, event: dict[str, Any] | None = None, context: Any = None, *,
               today: date | None = None) -> dict[str, Any]:
        first, last, week = last_week(today or datetime.now(UTC).date())
        built = report(self.w, first, last)
        store = self.w.media_store
        keys = [f"{PREFIX}{week}.html"]
        store.put_bytes(keys[0], built.html().encode(), "text/html; charset=utf-8")
        for name, text in built.csv_files().items():
            keys.append(f"{PREFIX}{week}/{name}")
            store.put_bytes(keys[-1], text.encode(), "text/csv; charset=utf-8")
        logger.info("weekly report written", extra={"week": week, "objects": len(keys)})
        count("WeeklyReportsWritten", 1)
        return {"week": week, "first": first.isoformat(), "last": last.isoformat(), "keys": keys}


def build_weekly() -> WeeklyReport:
    """WeeklyReportFunction's flow, its settings validated at cold start."""
    return WeeklyReport(Wiring(load(WeeklyReportSettings)))
