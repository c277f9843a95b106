"""The stakeholder report, end to end on moto (issue 14, item 4).

Messages of three customers over three days go through the real processor; agents answer and
resolve through the case actions; both tables' streams are counted by the real
ReportAggregatorFunction with the template's filters - twice, as Lambda redelivers a stream -
and the report is built from the counters. The HTML is then read back: every chart's SVG has one
data mark per number, and those numbers are what the tables hold - the interactions on the
timelines, the cases' sentiments, categories, first responses and resolutions - and what the
table beside the chart and its CSV file say.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from reportkit import (  # tests/integration/reportkit.py
    ReportPage,
    aggregate,
    aggregator_feeds,
    assert_charts_match_tables_and_csvs,
    chart_values,
    message,
    process,
)

from socialcare.domain.reporting.report import Report, build
from socialcare.flows.report import WeeklyReport
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Channel, Kind
from socialcare.store.codec import from_item

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
D0, D1, D2 = (TODAY - timedelta(days=n) for n in (2, 1, 0))
ANNA, BRUNO, CARLA = "+393331112222", "+393335550000", "carla@example.org"


def story() -> list[Any]:
    """Anna complains on X and Facebook, writes on WhatsApp the next day and then phones; Bruno
    comments on Instagram and posts on X two days later; Carla e-mails once."""
    return [
        message(Channel.X, Kind.PUBLIC_POST, "9001", "x-anna", D0 + timedelta(hours=9), phone=ANNA, followers=1200),
        message(Channel.INSTAGRAM, Kind.COMMENT, "ig-1", "ig-bruno", D0 + timedelta(hours=9, minutes=5),
                phone=BRUNO, followers=50, text="Adoro il vostro servizio, grazie mille!"),
        message(Channel.FACEBOOK, Kind.COMMENT, "fb-1", "fb-anna", D0 + timedelta(hours=10), phone=ANNA, followers=300),
        message(Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "wa-1", "393331112222", D1 + timedelta(hours=8), phone=ANNA),
        message(Channel.EMAIL, Kind.EMAIL, "<m1@example.org>", CARLA, D1 + timedelta(hours=9),
                text="Vorrei cambiare l'indirizzo di consegna dell'ordine"),
        message(Channel.PHONE, Kind.CALL, "call-1", ANNA, D1 + timedelta(hours=11), phone=ANNA, text=None),
        message(Channel.X, Kind.PUBLIC_POST, "9002", "x-bruno", D2 + timedelta(hours=7), phone=BRUNO, followers=80),
    ]


@pytest.fixture
def reported(aws: AwsStack, wiring: Wiring) -> tuple[Report, dict[str, Any]]:
    feeds = aggregator_feeds(aws)
    process(aws, story())
    cases = [from_item(i) for i in _scan(aws.tables["CasesTable"]) if _is_case(i)]
    # agents: Anna's case answered within its SLA and resolved; Bruno's answered a day late
    for case in cases:
        sla = case["sla"]
        started = datetime.fromisoformat(sla["started_at"])
        late = datetime.fromisoformat(sla["first_response_due"]) + timedelta(days=1)
        answer = late if case["customer_id"] == _customer(aws, BRUNO) else started + timedelta(minutes=5)
        wiring.case_actions.record_first_response(case["id"], answer)
        if case["customer_id"] == _customer(aws, ANNA):
            wiring.case_actions.resolve(case["id"], now=started + timedelta(minutes=30))
    assert aggregate(feeds) > 0
    for feed in feeds:  # Lambda delivers the whole streams again: nothing may be counted twice
        feed.rewind()
    aggregate(feeds)
    last = datetime.now(UTC).date() + timedelta(days=3)  # first responses land on the day they are recorded
    return build(wiring.reports, D0.date(), last), stored(aws)


def _scan(table: str) -> list[dict[str, Any]]:
    return [item for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table)
            for item in page["Items"]]


def _is_case(item: dict[str, Any]) -> bool:
    return item["sk"]["S"] == "CASE" and item["pk"]["S"].startswith("CASE#")


def _customer(aws: AwsStack, phone: str) -> str:
    item = boto3.client("dynamodb").get_item(TableName=aws.tables["ProfilesTable"],
                                             Key={"pk": {"S": f"ID#phone#{phone}"}, "sk": {"S": "CLAIM"}})["Item"]
    return str(item["customer_id"]["S"])


def stored(aws: AwsStack) -> dict[str, Any]:
    """What the tables hold, counted the slow way (a scan) - what the report must show."""
    timeline = [from_item(i) for i in _scan(aws.tables["ProfilesTable"]) if i["sk"]["S"].startswith("TS#")]
    case_items = [from_item(i) for i in _scan(aws.tables["CasesTable"])]
    volume = Counter((t["occurred_at"][:10], t["channel"]) for t in timeline if t["direction"] == "inbound")
    public = [t for t in timeline if t["kind"] in ("public_post", "comment", "public_reply")]
    sentiment = Counter((i["occurred_at"][:10], i["sentiment"]) for i in case_items
                        if i["sk"].startswith("INT#") and i["pk"].startswith("CASE#") and i.get("sentiment")
                        and i["direction"] == "inbound")
    cases = [i for i in case_items if i["sk"] == "CASE" and i["pk"].startswith("CASE#")]
    return {
        "volume": volume,
        "mentions": Counter(t["occurred_at"][:10] for t in public),
        "reach": Counter({d: sum(t.get("followers") or 0 for t in public if t["occurred_at"][:10] == d)
                          for d in {t["occurred_at"][:10] for t in public}}),
        "sentiment": sentiment,
        "categories": Counter(c for case in cases for c in case["categories"]),
        "first_responses": [(case["team"], case["first_response_at"] <= case["sla"]["first_response_due"])
                            for case in cases if case.get("first_response_at")],
        "resolutions": [(case["team"], case["resolved_at"] <= case["sla"]["resolution_due"])
                        for case in cases if case.get("resolved_at")],
    }


def test_every_chart_draws_the_stored_counts_and_its_table_and_csv_hold_the_same(
        reported: tuple[Report, dict[str, Any]]) -> None:
    report, truth = reported
    page = ReportPage(report.html())
    assert page.scripts == 0 and "http" not in report.html().split("<main>")[1].replace("http://www.w3.org", "")
    assert_charts_match_tables_and_csvs(report, page)
    drawn = {section.id: chart_values(page, section.id) for section, _ in report.sections}

    assert drawn["volume"] == {(c, d): n for (d, c), n in truth["volume"].items()}
    assert drawn["volume"] == {("x", D0.date().isoformat()): 1, ("facebook", D0.date().isoformat()): 1,
                               ("instagram", D0.date().isoformat()): 1, ("whatsapp", D1.date().isoformat()): 1,
                               ("email", D1.date().isoformat()): 1, ("phone", D1.date().isoformat()): 1,
                               ("x", D2.date().isoformat()): 1}
    assert {d: v for (name, d), v in drawn["reach"].items() if name == "public mentions"} == truth["mentions"]
    assert {d: v for (name, d), v in drawn["reach"].items() if name.startswith("people")} == truth["reach"]
    assert drawn["sentiment"] == {(s, d): n for (d, s), n in truth["sentiment"].items()}
    top = dict(truth["categories"].most_common(10))
    assert {label: v for (_, label), v in drawn["categories"].items()} == top


def test_customers_sla_and_touchpoints_are_counted_once_per_fact(reported: tuple[Report, dict[str, Any]]) -> None:
    report, truth = reported
    page = ReportPage(report.html())
    d0, d1, d2 = (d.date().isoformat() for d in (D0, D1, D2))
    assert chart_values(page, "returning") == {
        ("new customers", d0): 2, ("new customers", d1): 1,  # Anna and Bruno, then Carla
        ("returning customers", d1): 1, ("returning customers", d2): 1,  # Anna back on WhatsApp, Bruno on X
    }
    # Anna's call came after X, Facebook and WhatsApp, in that order
    assert chart_values(page, "journeys") == {("calls", "x → facebook → whatsapp → phone call"): 1}
    assert chart_values(page, "touchpoints") == {("whatsapp", "last before the call"): 1,
                                                 ("facebook", "2 steps before"): 1, ("x", "3 steps before"): 1}
    sla = chart_values(page, "sla_by_team")
    expected: Counter[tuple[str, str]] = Counter()
    for team, met in truth["first_responses"]:
        expected[("within the SLA" if met else "after the SLA", f"{team} · first response")] += 1
    for team, met in truth["resolutions"]:
        expected[("within the SLA" if met else "after the SLA", f"{team} · resolution")] += 1
    assert sla == dict(expected)
    assert sum(v for (name, _), v in sla.items() if name == "after the SLA") >= 1  # Bruno waited a day
    histogram = chart_values(page, "response_histogram")
    assert sum(histogram.values()) == len(truth["first_responses"])


def test_the_weekly_report_lands_in_the_media_bucket(aws: AwsStack, wiring: Wiring) -> None:
    answer = WeeklyReport(wiring).handle({}, today=datetime(2026, 3, 11, tzinfo=UTC).date())

    assert answer["week"] == "2026-W10" and answer["first"] == "2026-03-02" and answer["last"] == "2026-03-08"
    s3 = boto3.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=aws.buckets["MediaBucket"], Prefix="reports/")["Contents"]}
    assert keys == set(answer["keys"]) and "reports/2026-W10.html" in keys and "reports/2026-W10/volume.csv" in keys
    body = s3.get_object(Bucket=aws.buckets["MediaBucket"], Key="reports/2026-W10.html")["Body"].read().decode()
    assert body.startswith("<!DOCTYPE html>") and body.count("<svg") == len(answer["keys"]) - 1
