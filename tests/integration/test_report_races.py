"""The report aggregator racing another writer that counts the same facts (docs/reports.md,
Guarantees), through ReportAggregatorFunction's handler on ProfilesTable's real stream.

A transaction that loses a race is read again and retried; one that keeps losing reports its
run's first record, so Lambda retries from there: the runs before it stay counted and nothing is
counted twice. The other writer is a second aggregator on its own client, counting a record of
our batch right before our transaction goes out (a botocore hook on the wire, below our code).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from reportkit import REGION, aggregator_feeds  # tests/integration/reportkit.py
from webhook_calls import Context  # tests/integration/webhook_calls.py

from socialcare import aws as aws_clients
from socialcare.domain.reporting.aggregator import ATTEMPTS, ReportAggregator
from socialcare.store.codec import to_item
from socialcare.store.journeys import Journeys
from socialcare.store.profiles.items import customer_pk, iso, timeline_sk
from socialcare.store.reports import ReportsRepository
from socialcare_infra.esm import matches_any
from socialcare_infra.handlers import load_app
from socialcare_infra.streams import lambda_stream_event

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
CHANNELS = ("x", "facebook", "instagram", "messenger", "whatsapp", "email", "chat", "web")
DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


def stored_messages(aws: AwsStack, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` first messages of as many customers, written to ProfilesTable as timeline items
    (generated: channels, kinds and followers drawn at random); the stream records Lambda
    would deliver for them, with the template's filter."""
    rng, client = random.Random(seed), boto3.client("dynamodb", region_name=REGION)
    for n in range(count):
        channel, at = rng.choice(CHANNELS), DAY + timedelta(minutes=rng.randint(0, 600))
        kind = "public_post" if channel == "x" and rng.random() < 0.5 else "direct_message"
        interaction = f"{channel}:m{seed}-{n}"
        client.put_item(TableName=aws.tables["ProfilesTable"], Item=to_item({
            "pk": customer_pk(f"cust-{seed}-{n}"), "sk": timeline_sk(at, interaction), "id": interaction,
            "channel": channel, "kind": kind, "direction": "inbound", "occurred_at": iso(at),
            "followers": rng.randint(0, 5000) if kind == "public_post" else None}))
    (feed,) = [f for f in aggregator_feeds(aws) if f.table == aws.tables["ProfilesTable"]]
    records = [r for r in feed.reader.read() if matches_any(r, feed.filters)]
    assert len(records) == count
    return lambda_stream_event(records, feed.arn, REGION)["Records"]


def counted(aws: AwsStack) -> tuple[Counter[str], Counter[str]]:
    """The day's VOL counters by channel and CUST counters, as ReportsTable holds them."""
    reports = ReportsRepository(aws.tables["ReportsTable"], boto3.client("dynamodb", region_name=REGION))
    day = reports.days(DAY.date(), DAY.date(), ["VOL", "CUST"]).get(DAY.date().isoformat(), {})
    return (Counter({k.removeprefix("in#"): v for k, v in day.get("VOL", {}).items()}),
            Counter(day.get("CUST", {})))


def truth(records: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    volume = Counter(r["dynamodb"]["NewImage"]["channel"]["S"] for r in records)
    return volume, Counter({"active": len(records), "new": len(records)}) if records else Counter()


@contextmanager
def rival_before_each_transaction(aws: AwsStack, records: list[dict[str, Any]]) -> Iterator[list[int]]:
    """From our second transaction on, another aggregator counts one of ``records`` (from the
    last) just before ours is sent; yields the list of our transactions' sizes."""
    client = boto3.client("dynamodb", region_name=REGION)
    other = ReportAggregator(ReportsRepository(aws.tables["ReportsTable"], client),
                             Journeys(aws.tables["ProfilesTable"], client))
    pending, sent = list(records), list[int]()

    def rival(params: dict[str, Any], **_: Any) -> None:
        if sent and pending:
            assert other.aggregate([pending.pop()]).failed_sequence is None
        sent.append(len(params["TransactItems"]))

    events = aws_clients.client("dynamodb").meta.events  # the client ReportAggregatorFunction's flow uses
    events.register("before-parameter-build.dynamodb.TransactWriteItems", rival)
    try:
        yield sent
    finally:
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", rival)


def handle(records: list[dict[str, Any]]) -> dict[str, Any]:
    app = load_app("report_aggregator")
    return dict(app.handler({"Records": records}, Context(60_000, function_name="ReportAggregatorFunction")))


def test_a_transaction_that_lost_a_race_is_read_again_and_counts_the_rest_once(aws: AwsStack) -> None:
    records = stored_messages(aws, 40, seed=3)

    with rival_before_each_transaction(aws, records[-1:]) as sent:
        answer = handle(records)

    assert answer == {"batchItemFailures": []}
    assert len(sent) >= 3  # two runs, the second one sent twice
    assert counted(aws) == truth(records)


def test_a_run_that_keeps_losing_is_retried_from_its_first_record_and_nothing_counts_twice(aws: AwsStack) -> None:
    records = stored_messages(aws, 40, seed=4)
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]

    with rival_before_each_transaction(aws, records[-ATTEMPTS:]):
        answer = handle(records)

    (failed,) = answer["batchItemFailures"]
    start = sequences.index(failed["itemIdentifier"])
    assert 0 < start < len(records) - ATTEMPTS  # the first run is written, the second is not
    rivals = records[-ATTEMPTS:]
    assert counted(aws) == truth(records[:start] + rivals)  # our first run and the rival's records

    assert handle(records[start:]) == {"batchItemFailures": []}  # Lambda retries from the failed record
    assert counted(aws) == truth(records)
