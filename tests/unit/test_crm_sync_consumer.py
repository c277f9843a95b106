"""CrmSync and its SQS consumer: latest version wins, stale drops, visibility-timeout retries,
permanent failures to the DLQ with a reason.

CasesTable (the CRM state of each case) and crm-sync.fifo with its DLQ are moto, provisioned from
template.yaml; the adapter, the case views and the once-guard are in-memory implementations of
our own interfaces. What the consumer asks of SQS is recorded through botocore's own event hooks
on a real client (moto still answers every call).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from socialcare.crm.base import CrmAdapter, CrmTuning, Permanent, Retryable, UpsertResult
from socialcare.crm.samples import sample_view
from socialcare.flows.crm_sync import CrmSync, SyncConsumer, retry_delay
from socialcare.models.crm import CaseUpserted, CaseView, CrmState, CrmSyncRequest
from socialcare.publish import Publisher, RecordQueue
from socialcare.store.cases import CasesRepository
from socialcare_infra.esm import lambda_sqs_record
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "eu-west-1"


class FakeAdapter(CrmAdapter):
    provider = "webhook"

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[CaseUpserted] = []

    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(event)
        return UpsertResult(record_id=record_id or f"crm-{event.case.id}")


class FakeCases:
    """A ``CaseSource``: the case views the CRM would be sent."""

    def __init__(self, *views: CaseView) -> None:
        self.views = {v.case.id: v for v in views}

    def get_case_view(self, case_id: str) -> CaseView | None:
        return self.views.get(case_id)


class MemoryGuard:
    """An in-memory ``OnceGuard``."""

    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


class SqsCalls:
    """The visibility changes a real SQS client was asked for, and whether SQS accepted them."""

    def __init__(self, client: Any) -> None:
        self.visibility: list[dict[str, Any]] = []
        self.refused: list[Any] = []
        events = client.meta.events
        events.register("provide-client-params.sqs.ChangeMessageVisibilityBatch", self._asked)
        events.register("after-call.sqs.ChangeMessageVisibilityBatch", self._answered)

    def _asked(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params["Entries"]:
            self.visibility.append(
                {
                    "QueueUrl": params["QueueUrl"],
                    "ReceiptHandle": entry["ReceiptHandle"],
                    "VisibilityTimeout": entry["VisibilityTimeout"],
                }
            )

    def _answered(self, parsed: dict[str, Any], **_: Any) -> None:
        self.refused.extend(parsed.get("Failed") or [])


@dataclass
class Stack:
    cases_table: str
    queue: str
    dlq: str
    queue_arn: str
    ddb: Any
    sqs: Any
    calls: SqsCalls

    def seed(self, case_id: str, version: int, state: CrmState | None = None) -> None:
        """The case item at ``version``, and what its CRM acknowledged (``state``)."""
        self.ddb.put_item(
            TableName=self.cases_table,
            Item={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}, "version": {"N": str(version)}},
        )
        if state is not None and state.synced_version:
            assert self.records().record_crm_sync(
                case_id, provider=state.provider or "webhook", record_id=state.record_id, version=state.synced_version
            )

    def records(self, client: Any = None) -> CasesRepository:
        return CasesRepository(self.cases_table, client or self.ddb)

    def service(self, adapter: FakeAdapter, *views: CaseView, client: Any = None) -> CrmSync:
        return CrmSync(adapter, FakeCases(*views), self.records(client), MemoryGuard())

    def consumer(self, factory: Callable[[], CrmSync], tuning: CrmTuning | None = None) -> SyncConsumer:
        tuning = tuning or CrmTuning(retry_base_seconds=4, retry_max_seconds=60)
        return SyncConsumer(factory, RecordQueue(self.sqs, self.queue), tuning)

    def deliver(self, *syncs: tuple[str, int], body: str | None = None, receives: int = 1) -> list[dict[str, Any]]:
        """Publish crm-sync messages (or one raw ``body``), receive them ``receives`` times, and
        return them as the Lambda SQS event records of the last receive."""
        if body is not None:
            self.sqs.send_message(
                QueueUrl=self.queue, MessageBody=body, MessageGroupId="SC-2026-1", MessageDeduplicationId="raw"
            )
        else:
            Publisher(self.sqs, crm_sync_url=self.queue).crm_syncs(
                [CrmSyncRequest(case_id=case_id, version=version) for case_id, version in syncs]
            )
        expected = len(syncs) or 1
        got: list[dict[str, Any]] = []
        for attempt in range(receives):
            # Visibility 0 leaves the messages for the next receive; the last receive keeps them.
            visibility = {} if attempt == receives - 1 else {"VisibilityTimeout": 0}
            got = []
            deadline = time.monotonic() + 5
            while len(got) < expected and time.monotonic() < deadline:
                got += self.sqs.receive_message(
                    QueueUrl=self.queue, MaxNumberOfMessages=10, AttributeNames=["All"], **visibility
                ).get("Messages", [])
            assert len(got) == expected, f"receive {attempt + 1}: {len(got)} of {expected} messages"
        return [lambda_sqs_record(m, self.queue_arn, REGION) for m in got]

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.dlq, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])


@pytest.fixture(scope="module")
def provisioned() -> Iterator[Any]:
    # Provisioned once per module from template.yaml (timeouts not scaled); each test gets an
    # empty CasesTable and its own copy of crm-sync.fifo and its DLQ (``stack``).
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
        }.items():
            mp.setenv(key, value)
        resolver = Resolver(load_template(TEMPLATE), stack_name="t")
        yield Provisioner(resolver, endpoint_url=None, environ={}, time_scale=1.0).provision()


_COPIED = (
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "SqsManagedSseEnabled",
)


def _copy_queue(sqs: Any, template_url: str, name: str, redrive_to: str | None = None) -> tuple[str, str]:
    """A fresh queue with the attributes the template gave ``template_url`` (FIFO deduplication
    lasts five minutes, so tests publishing the same case versions never share a queue)."""
    given = sqs.get_queue_attributes(QueueUrl=template_url, AttributeNames=["All"])["Attributes"]
    attributes = {k: given[k] for k in _COPIED if k in given}
    if redrive_to is not None:
        policy = json.loads(given["RedrivePolicy"])
        attributes["RedrivePolicy"] = json.dumps({**policy, "deadLetterTargetArn": redrive_to})
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def stack(provisioned: Any, request: pytest.FixtureRequest) -> Iterator[Stack]:
    ddb, sqs = boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
    table, urls = provisioned.names["CasesTable"], provisioned.queue_urls
    name = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    dlq, dlq_arn = _copy_queue(sqs, urls["CrmSyncDLQ"], f"{name}-dlq")
    queue, queue_arn = _copy_queue(sqs, urls["CrmSyncQueue"], f"{name}-sync", redrive_to=dlq_arn)
    yield Stack(cases_table=table, queue=queue, dlq=dlq, queue_arn=queue_arn, ddb=ddb, sqs=sqs, calls=SqsCalls(sqs))
    for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            ddb.delete_item(TableName=table, Key=item)


def _service(stack: Stack, adapter: FakeAdapter, view: CaseView, state: CrmState | None = None) -> CrmSync:
    """CrmSync of one case at ``view``'s version; ``state`` None: the case does not exist."""
    if state is not None:
        stack.seed(view.case.id, view.case.version, state)
    return stack.service(adapter, view)


# ------------------------------------------------------------------ CrmSync


def test_a_retry_of_an_old_message_sends_the_current_version(stack: Stack) -> None:
    adapter = FakeAdapter()
    service = _service(stack, adapter, sample_view(version=5), CrmState(synced_version=2))

    result = service.sync(CrmSyncRequest(case_id="SC-2026-1", version=3))

    assert result.outcome == "synced" and result.version == 5
    assert [e.case.version for e in adapter.sent] == [5]
    assert service.records.crm_state("SC-2026-1") == CrmState("crm-SC-2026-1", "webhook", 5, case_version=5)


def test_versions_the_crm_already_acknowledged_are_dropped(stack: Stack) -> None:
    adapter = FakeAdapter()
    service = _service(stack, adapter, sample_view(version=5), CrmState("crm-1", "webhook", 5))

    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=4)).outcome == "stale"
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=5)).outcome == "stale"
    assert adapter.sent == []


def test_the_stored_record_id_is_passed_to_the_adapter(stack: Stack) -> None:
    adapter = FakeAdapter()
    service = _service(stack, adapter, sample_view(version=2), CrmState("zd-77", "webhook", 1))
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=2)).record_id == "zd-77"


def test_a_case_that_no_longer_exists_is_dropped(stack: Stack) -> None:
    adapter = FakeAdapter()
    service = _service(stack, adapter, sample_view())  # erased: no case item, even if a view lingers
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1)).outcome == "missing"
    assert adapter.sent == []


def test_same_delivery_is_not_sent_twice_when_recording_failed_after_it(stack: Stack) -> None:
    adapter = FakeAdapter()
    stack.seed("SC-2026-1", 1, CrmState())
    # DynamoDB fails the first write of the acknowledgement (a real client; botocore's hook).
    client = boto3.client("dynamodb", region_name=REGION)
    calls = {"n": 0}

    def throttle_once(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB throttled")

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", throttle_once)
    service = stack.service(adapter, sample_view(version=1), client=client)

    with pytest.raises(RuntimeError):
        service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1))
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1)).outcome == "synced"
    assert len(adapter.sent) == 1
    assert service.records.crm_state("SC-2026-1") == CrmState("crm-SC-2026-1", "webhook", 1, case_version=1)


def test_a_merged_case_the_crm_holds_is_closed_there_with_a_pointer(stack: Stack) -> None:
    adapter = FakeAdapter()
    view = sample_view("SC-2026-9", version=4, status="merged", merged_into="SC-2026-1")
    service = _service(stack, adapter, view, CrmState("crm-9", "webhook", 3))

    assert service.sync(CrmSyncRequest(case_id="SC-2026-9", version=4)).outcome == "synced"
    (sent,) = adapter.sent
    assert (sent.case.status, sent.case.is_open, sent.case.merged_into) == ("merged", False, "SC-2026-1")


def test_a_case_merged_before_the_crm_ever_saw_it_creates_no_record(stack: Stack) -> None:
    adapter = FakeAdapter()
    view = sample_view("SC-2026-9", version=2, status="merged", merged_into="SC-2026-1")
    service = _service(stack, adapter, view, CrmState())

    assert service.sync(CrmSyncRequest(case_id="SC-2026-9", version=2)).outcome == "merged_unsynced"
    assert adapter.sent == []
    state = service.records.crm_state("SC-2026-9")
    assert state is not None and state.synced_version == 2 and state.record_id is None  # reconcile: settled


# ------------------------------------------------------------------ consumer


def test_retryable_failure_delays_the_record_by_retry_after_and_reports_it_failed(stack: Stack) -> None:
    adapter = FakeAdapter([Retryable("crm answered 429", status=429, retry_after=17)])
    service = _service(stack, adapter, sample_view(), CrmState())
    consumer = stack.consumer(lambda: service)
    (record,) = stack.deliver(("SC-2026-1", 1))

    response = consumer.handle_batch({"Records": [record]}, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert stack.calls.visibility == [
        {"QueueUrl": stack.queue, "ReceiptHandle": record["receiptHandle"], "VisibilityTimeout": 17}
    ]
    assert stack.calls.refused == []
    assert stack.dead_letters() == []


def test_backoff_grows_with_receives_when_the_crm_gives_no_hint() -> None:
    tuning = CrmTuning(retry_base_seconds=4, retry_max_seconds=60)
    rng = random.Random(1)
    delays = [retry_delay(n, None, tuning, rng=rng) for n in (1, 2, 3, 4, 5, 9)]
    assert 2 <= delays[0] <= 4 and 4 <= delays[1] <= 8 and 8 <= delays[2] <= 16
    assert 30 <= delays[-1] <= 60  # capped
    assert retry_delay(1, 0.2, tuning) == 1  # never 0: that would spin
    assert retry_delay(1, 10**6, tuning) == 43_200  # SQS maximum


def test_backoff_never_exceeds_the_queues_visibility_timeout(stack: Stack) -> None:
    # The local stack scales the template's 180 s down to a few seconds; so do our retries.
    stack.sqs.set_queue_attributes(QueueUrl=stack.queue, Attributes={"VisibilityTimeout": "4"})
    adapter = FakeAdapter([Retryable("503", status=503)])
    service = _service(stack, adapter, sample_view(), CrmState())
    consumer = stack.consumer(lambda: service)
    (record,) = stack.deliver(("SC-2026-1", 1), receives=7)
    assert record["attributes"]["ApproximateReceiveCount"] == "7"

    consumer.handle_batch({"Records": [record]}, None)

    assert 2 <= stack.calls.visibility[0]["VisibilityTimeout"] <= 4  # not base 4 x 2^6, capped at 60


def test_permanent_failure_goes_to_the_dlq_with_its_reason_and_is_not_retried(stack: Stack) -> None:
    adapter = FakeAdapter([Permanent("webhook POST /hooks answered 400: bad customer", status=400)])
    service = _service(stack, adapter, sample_view(), CrmState())
    consumer = stack.consumer(lambda: service)
    (record,) = stack.deliver(("SC-2026-1", 1))

    response = consumer.handle_batch({"Records": [record]}, None)

    assert response == {"batchItemFailures": []}
    assert stack.calls.visibility == []
    (dead,) = stack.dead_letters()
    assert dead["Attributes"]["MessageGroupId"] == "SC-2026-1"
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "webhook POST /hooks answered 400: bad customer"
    assert dead["MessageAttributes"]["source_message_id"]["StringValue"] == record["messageId"]
    assert json.loads(dead["Body"])["case_id"] == "SC-2026-1"


def test_malformed_message_is_dead_lettered_with_the_validation_reason(stack: Stack) -> None:
    service = _service(stack, FakeAdapter(), sample_view())
    consumer = stack.consumer(lambda: service)
    (record,) = stack.deliver(body='{"version": 1}')

    response = consumer.handle_batch({"Records": [record]}, None)

    assert response == {"batchItemFailures": []}
    (dead,) = stack.dead_letters()
    assert "malformed crm-sync message" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert dead["Body"] == '{"version": 1}'


def test_unconfigured_crm_keeps_messages_for_later_instead_of_dead_lettering(stack: Stack) -> None:
    def broken() -> CrmSync:
        raise Permanent("crm_credentials has no 'zendesk' object")

    consumer = stack.consumer(broken, CrmTuning(retry_base_seconds=4))
    (record,) = stack.deliver(("SC-2026-1", 1))

    response = consumer.handle_batch({"Records": [record]}, None)

    assert response["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    assert stack.dead_letters() == [] and len(stack.calls.visibility) == 1


def test_a_failing_case_does_not_hold_back_other_cases_in_the_batch(stack: Stack) -> None:
    adapter = FakeAdapter([Retryable("503", status=503)])
    stack.seed("SC-2026-1", 1, CrmState())
    stack.seed("SC-2026-2", 1, CrmState())
    service = stack.service(adapter, sample_view("SC-2026-1"), sample_view("SC-2026-2", customer_id="cus-other"))
    consumer = stack.consumer(lambda: service)
    records = stack.deliver(("SC-2026-1", 1), ("SC-2026-1", 2), ("SC-2026-2", 1))
    by_sync = {(json.loads(r["body"])["case_id"], json.loads(r["body"])["version"]): r for r in records}
    first, second = by_sync[("SC-2026-1", 1)], by_sync[("SC-2026-1", 2)]

    response = consumer.handle_batch({"Records": records}, None)

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {first["messageId"], second["messageId"]}  # the later message of that case waits too
    assert [e.case.id for e in adapter.sent] == ["SC-2026-2"]
    # ... for exactly as long as the failed one: SQS serves nothing of a group while any of
    # its messages is in flight, so a longer wait would stretch the case's own backoff.
    delays = {v["ReceiptHandle"]: v["VisibilityTimeout"] for v in stack.calls.visibility}
    assert set(delays) == {first["receiptHandle"], second["receiptHandle"]}
    assert delays[first["receiptHandle"]] == delays[second["receiptHandle"]]
    assert stack.calls.refused == []
