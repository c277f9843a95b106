"""Helpers of the report tests: drive messages through the real processor, count the tables'
streams with the real ReportAggregatorFunction (the template's filters, Lambda's event shape),
and read a report's HTML back - every chart's data marks, every table's cells."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from event_source import run_event_source  # tests/integration/event_source.py
from test_customers_api import T0  # tests/integration/test_customers_api.py
from test_customers_api import event as customers_event
from webhook_calls import Context  # tests/integration/webhook_calls.py

from socialcare import aws as aws_clients
from socialcare.models.interaction import Author, Channel, Identifier, IdentifierKind, InboundEvent, Kind
from socialcare.publish import Publisher
from socialcare_infra.esm import filter_patterns, matches_any
from socialcare_infra.handlers import load_app
from socialcare_infra.streams import StreamReader, lambda_stream_event, streams_client
from socialcare_infra.template import load_template

if TYPE_CHECKING:
    from socialcare.domain.reporting.report import Report

REGION = "eu-west-1"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


COMPLAINT = "Il pacco non è mai arrivato, pessimo servizio"


def message(channel: Channel, kind: Kind, mid: str, author: str, at: datetime, *, phone: str | None = None,
            followers: int | None = None, text: str | None = COMPLAINT) -> InboundEvent:
    """The customers API tests' event, at ``at`` (whole minutes) rather than minutes after their T0."""
    identifiers = [Identifier(kind=IdentifierKind(channel.value), value=author)]
    if phone:
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value=phone))
    return customers_event(channel, kind, mid, Author(id=author, followers=followers), text,
                 (at - T0) // timedelta(minutes=1), identifiers, "test")


def process(aws: Any, events: list[InboundEvent]) -> None:
    """What the webhooks and ProcessorFunction do with ``events``, one after the other (each its
    own batch, so a customer's messages are threaded in order)."""
    publisher = Publisher(aws_clients.sqs(), inbound_url=aws.queue_urls["InboundQueue"])
    processor = load_app("processor")
    for event in events:
        publisher.inbound([event])
        run_event_source(lambda e: processor.handler(e, Context(30_000)), aws.queue_urls["InboundQueue"])


@dataclass
class StreamFeed:
    """One event source mapping of ReportAggregatorFunction: its stream, read from the start, and its filter."""

    table: str
    event_name: str
    events: dict[str, Any]
    reader: StreamReader = field(init=False)

    def __post_init__(self) -> None:
        self.arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=self.table)["Table"][
            "LatestStreamArn"]
        self.filters = filter_patterns(self.events[self.event_name]["Properties"].get("FilterCriteria"))
        self.batch_size = int(self.events[self.event_name]["Properties"].get("BatchSize", 100))
        self.rewind()

    def rewind(self) -> None:
        self.reader = StreamReader(streams_client(REGION), self.arn, "TRIM_HORIZON")

    def deliver(self, handler: Callable[[dict[str, Any]], Any]) -> int:
        records = [r for r in self.reader.read() if matches_any(r, self.filters)]
        for start in range(0, len(records), self.batch_size):
            answer = handler(lambda_stream_event(records[start:start + self.batch_size], self.arn, REGION))
            assert answer == {"batchItemFailures": []}, answer
        return len(records)


@functools.cache
def _aggregator_events() -> dict[str, Any]:
    """ReportAggregatorFunction's event source mappings in template.yaml (read, never changed).
    Parsed here rather than taken from conftest.py: run with tests/unit, ``conftest`` is that one."""
    return dict(load_template(TEMPLATE)["Resources"]["ReportAggregatorFunction"]["Properties"]["Events"])


def aggregator_feeds(aws: Any) -> list[StreamFeed]:
    events = _aggregator_events()
    tables = {"Interactions": aws.tables["ProfilesTable"], "Cases": aws.tables["CasesTable"]}
    return [StreamFeed(tables[name], name, events) for name in events]


def aggregate(feeds: list[StreamFeed]) -> int:
    app = load_app("report_aggregator")
    return sum(feed.deliver(lambda e: app.handler(e, Context(60_000, function_name="ReportAggregatorFunction")))
               for feed in feeds)


# ---------------------------------------------------------------------- reading the HTML back
@dataclass
class Chart:
    legend: list[str] = field(default_factory=list)
    marks: list[tuple[int, str, float]] = field(default_factory=list)  # (series index, x label, value)


@dataclass
class Table:
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class ReportPage(HTMLParser):
    """Each section's chart (legend, data marks with their values) and table, by section id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.charts: dict[str, Chart] = {}
        self.tables: dict[str, Table] = {}
        self.scripts = 0
        self._section = ""
        self._groups: list[tuple[int, bool]] = []  # open <g>: (series index or -1, is the legend)
        self._mark: list[Any] | None = None
        self._desc = ""
        self._text: list[str] | None = None
        self._table: Table | None = None
        self._thead = False
        self.feed(text)

    @property
    def _series(self) -> int:
        return next((index for index, _ in reversed(self._groups) if index >= 0), -1)

    @property
    def _legend(self) -> bool:
        return any(legend for _, legend in self._groups)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "script":
            self.scripts += 1
        elif tag == "section":
            self._section = a["id"]
            self.charts[self._section] = Chart()
        elif tag == "g":
            index = next((int(c.removeprefix("serie-")) for c in classes if c.startswith("serie-")), -1)
            self._groups.append((index, "legend" in classes))
        elif tag in ("rect", "circle") and "reactive" in classes and self._series >= 0 and not self._legend:
            self._mark = [self._series, "", None]
            self.charts[self._section].marks.append(self._mark)  # type: ignore[arg-type]
        elif tag == "desc" or (tag == "text" and self._legend) or tag in ("th", "td"):
            self._desc = a.get("class", "")
            self._text = []
        elif tag == "table":
            self._table = self.tables[a["data-section"]] = Table()
        elif tag in ("thead", "tbody"):
            self._thead = tag == "thead"
        elif tag == "tr" and self._table is not None and not self._thead:
            self._table.rows.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "g":
            self._groups.pop()

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text or []).strip()
        if tag == "g" and self._groups:
            self._groups.pop()
        elif tag == "desc" and self._mark is not None and self._text is not None:
            if self._desc == "value":
                self._mark[2] = float(text.replace(",", "")) if text else None
            elif self._desc == "x_label":
                self._mark[1] = text
        elif tag == "text" and self._legend and self._text is not None:
            self.charts[self._section].legend.append(text)
        elif tag in ("th", "td") and self._table is not None and self._text is not None:
            (self._table.header if self._thead else self._table.rows[-1]).append(text)
        elif tag == "table":
            self._table = None
        if tag in ("desc", "text", "th", "td"):
            self._text = None


def chart_values(page: ReportPage, section: str) -> dict[tuple[str, str], float]:
    """(series name, x label) -> the value of each data mark drawn, zeros left out."""
    chart = page.charts[section]
    return {(chart.legend[index], label): value for index, label, value in chart.marks if value}


def table_values(page: ReportPage, section: str) -> dict[tuple[str, str], float]:
    """(column, row label) -> each number of the table beside the chart, zeros and blanks left out."""
    table = page.tables[section]
    return {(name, row[0]): float(cell.replace(",", "")) for row in table.rows if len(row) == len(table.header)
            for name, cell in zip(table.header[1:], row[1:], strict=True) if cell not in ("–", "", "0")}


def csv_values(report: Report, section: str) -> dict[tuple[str, str], float]:
    """(column, row label) -> each number of the section's CSV file, zeros and blanks left out."""
    rows = list(csv.reader(io.StringIO(report.csv_files()[f"{section}.csv"])))
    return {(name, row[0]): float(cell) for row in rows[1:] for name, cell in zip(rows[0][1:], row[1:], strict=True)
            if cell not in ("", "0")}


def assert_charts_match_tables_and_csvs(report: Report, page: ReportPage) -> None:
    """Every chart draws the numbers of its table's drawn columns, and the table is its CSV."""
    for section, series in report.sections:
        plotted = {k: v for k, v in table_values(page, section.id).items() if k[0] in series.values}
        assert chart_values(page, section.id) == plotted, section.id
        assert table_values(page, section.id) == csv_values(report, section.id), section.id
