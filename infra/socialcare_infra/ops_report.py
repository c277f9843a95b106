"""``socialcare report``: the stakeholder report of a deployed stack or the running local one.

Reads the stack's ReportsTable (the day counters ReportAggregatorFunction maintains) and
StateTable's day counters of surveys and listening (``CSAT#``, ``SOV#``, ``LISTENING#``; the
brand and competitor names and the prices from listening.yaml: the shipped one, or the one in
``SOCIALCARE_CONFIG_DIR``) with the admin's own AWS credentials - one BatchGetItem per 100 day
counters - and writes one self-contained HTML file (inline SVG charts, a table beside each) and, with ``--csv``, one CSV
per chart. The rendering is the layer's (``socialcare.domain.reporting``), the same the weekly
report uses. Nothing heavier than typer is imported until the command runs.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from socialcare_infra.ops_cli import Local, StackName, failures, target_of

if TYPE_CHECKING:
    from socialcare_infra.ops import Target


def report_command(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="the HTML file to write")],
    stack: StackName = None, local: Local = False,
    since: Annotated[str, typer.Option(
        "--since", metavar="30d|DATE",
        help="the last N days (30d, today included) or a first day (2026-01-01)")] = "30d",
    until: Annotated[str | None, typer.Option(
        "--until", metavar="DATE", help="the last day (default: today, UTC)")] = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", metavar="DIR", help="also write one CSV per chart into this directory")] = None,
) -> None:
    """The stakeholder report (HTML with inline SVG charts; CSVs) from the stack's day counters."""
    from socialcare.domain.reporting.report import period

    try:
        first, last = period(since, date.fromisoformat(until) if until else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--until") from None
    with failures("report"):
        written = write(target_of(stack, local), first, last, out, csv)
    for path in written:
        typer.echo(f"wrote {path}")


def write(target: Target, first: date, last: date, out: Path, csv_dir: Path | None) -> list[Path]:
    from socialcare.config.loader import load_rules
    from socialcare.config.rules import ListeningRules
    from socialcare.flows.report import report_from, write_files
    from socialcare.store.reports import ReportsRepository
    from socialcare.store.state import StateRepository

    client = target.client("dynamodb")
    search = load_rules(ListeningRules, os.environ.get("SOCIALCARE_CONFIG_DIR", "")).search
    built = report_from(ReportsRepository(target.resource("ReportsTable").physical_id, client),
                        StateRepository(target.resource("StateTable").physical_id, client), search, first, last)
    return write_files(built, out, csv_dir)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
