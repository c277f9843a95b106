"""CrmSync and its SQS consumer: latest version wins, stale drops, visibility-timeout retries,
permanent failures to the DLQ with a reason."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from socialcare.crm.base import CrmAdapter, CrmTuning, Permanent, Retryable, UpsertResult
from socialcare.crm.samples import sample_view
from socialcare.crm.sync import CrmSync, SyncConsumer, retry_delay
from socialcare.models.crm import CaseUpserted, CaseView, CrmState

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/stack-crm-sync-queue.fifo"
DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/stack-crm-sync-dlq.fifo"


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
    def __init__(self, *views: CaseView) -> None:
        self.views = {v.case.id: v for v in views}

    def get_case_view(self, case_id: str) -> CaseView | None:
        return self.views.get(case_id)


class FakeRecords:
    def __init__(self, **states: CrmState) -> None:
        self.states = dict(states)

    def state(self, case_id: str) -> CrmState | None:
        return self.states.get(case_id.replace("-", "_"))

    def record(self, case_id: str, *, provider: str, record_id: str | None, version: int) -> bool:
        key = case_id.replace("-", "_")
        current = self.states.get(key, CrmState())
        if current.synced_version >= version:
            return False
        self.states[key] = CrmState(record_id, provider, version)
        return True


class MemoryGuard:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


class FakeSqs:
    def __init__(self, visibility_timeout: str | None = None) -> None:
        self.visibility: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.visibility_timeout = visibility_timeout

    def change_message_visibility(self, **kw: Any) -> None:
        self.visibility.append(kw)

    def change_message_visibility_batch(self, **kw: Any) -> None:
        self.visibility.extend(
            {"ReceiptHandle": e["ReceiptHandle"], "VisibilityTimeout": e["VisibilityTimeout"]} for e in kw["Entries"]
        )

    def send_message(self, **kw: Any) -> dict[str, str]:
        self.sent.append(kw)
        return {"MessageId": "dlq-1"}

    def get_queue_attributes(self, **kw: Any) -> dict[str, Any]:
        arn = "arn:aws:sqs:eu-west-1:123456789012:stack-crm-sync-dlq.fifo"
        attrs = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 8})}
        if self.visibility_timeout is not None:
            attrs["VisibilityTimeout"] = self.visibility_timeout
        return {"Attributes": attrs}


def _service(adapter: FakeAdapter, view: CaseView, **states: CrmState) -> CrmSync:
    return CrmSync(adapter, FakeCases(view), FakeRecords(**states), MemoryGuard())  # type: ignore[arg-type]


def _record(
    case_id: str = "SC-2026-1", version: int = 1, *, receives: int = 1, body: str | None = None
) -> dict[str, Any]:
    return {
        "messageId": f"m-{case_id}-{version}-{receives}",
        "receiptHandle": f"rh-{case_id}-{version}",
        "body": body if body is not None else json.dumps({"schema_version": 1, "case_id": case_id, "version": version}),
        "attributes": {"ApproximateReceiveCount": str(receives), "MessageGroupId": case_id, "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:stack-crm-sync-queue.fifo",
        "awsRegion": "eu-west-1",
    }


def _consumer(service: CrmSync, sqs: FakeSqs) -> SyncConsumer:
    tuning = CrmTuning(retry_base_seconds=4, retry_max_seconds=60)
    return SyncConsumer(lambda: service, queue_url=QUEUE, sqs=sqs, tuning=tuning)


# ------------------------------------------------------------------ CrmSync


def test_a_retry_of_an_old_message_sends_the_current_version() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    service = _service(adapter, sample_view(version=5), SC_2026_1=CrmState(synced_version=2))

    result = service.sync(CrmSyncRequest(case_id="SC-2026-1", version=3))

    assert result.outcome == "synced" and result.version == 5
    assert [e.case.version for e in adapter.sent] == [5]
    assert service.records.state("SC-2026-1") == CrmState("crm-SC-2026-1", "webhook", 5)  # type: ignore[union-attr]


def test_versions_the_crm_already_acknowledged_are_dropped() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    service = _service(adapter, sample_view(version=5), SC_2026_1=CrmState("crm-1", "webhook", 5))

    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=4)).outcome == "stale"
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=5)).outcome == "stale"
    assert adapter.sent == []


def test_the_stored_record_id_is_passed_to_the_adapter() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    service = _service(adapter, sample_view(version=2), SC_2026_1=CrmState("zd-77", "webhook", 1))
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=2)).record_id == "zd-77"


def test_a_case_that_no_longer_exists_is_dropped() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    service = _service(adapter, sample_view())
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1)).outcome == "missing"


def test_same_delivery_is_not_sent_twice_when_recording_failed_after_it() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    records = FakeRecords(SC_2026_1=CrmState())
    calls = {"n": 0}
    original = records.record

    def flaky_record(case_id: str, **kw: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB throttled")
        return original(case_id, **kw)

    records.record = flaky_record  # type: ignore[method-assign]
    service = CrmSync(adapter, FakeCases(sample_view(version=1)), records, MemoryGuard())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1))
    assert service.sync(CrmSyncRequest(case_id="SC-2026-1", version=1)).outcome == "synced"
    assert len(adapter.sent) == 1


def test_a_merged_case_the_crm_holds_is_closed_there_with_a_pointer() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    view = sample_view("SC-2026-9", version=4, status="merged", merged_into="SC-2026-1")
    service = _service(adapter, view, SC_2026_9=CrmState("crm-9", "webhook", 3))

    assert service.sync(CrmSyncRequest(case_id="SC-2026-9", version=4)).outcome == "synced"
    (sent,) = adapter.sent
    assert (sent.case.status, sent.case.is_open, sent.case.merged_into) == ("merged", False, "SC-2026-1")


def test_a_case_merged_before_the_crm_ever_saw_it_creates_no_record() -> None:
    from socialcare.models.crm import CrmSyncRequest

    adapter = FakeAdapter()
    view = sample_view("SC-2026-9", version=2, status="merged", merged_into="SC-2026-1")
    service = _service(adapter, view, SC_2026_9=CrmState())

    assert service.sync(CrmSyncRequest(case_id="SC-2026-9", version=2)).outcome == "merged_unsynced"
    assert adapter.sent == []
    assert service.records.state("SC-2026-9").synced_version == 2  # type: ignore[union-attr]  # reconcile: settled


# ------------------------------------------------------------------ consumer


def test_retryable_failure_delays_the_record_by_retry_after_and_reports_it_failed() -> None:
    sqs = FakeSqs()
    adapter = FakeAdapter([Retryable("crm answered 429", status=429, retry_after=17)])
    consumer = _consumer(_service(adapter, sample_view(), SC_2026_1=CrmState()), sqs)

    response = consumer.handle_batch({"Records": [_record()]}, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-SC-2026-1-1-1"}]}
    assert sqs.visibility == [{"QueueUrl": QUEUE, "ReceiptHandle": "rh-SC-2026-1-1", "VisibilityTimeout": 17}]
    assert sqs.sent == []


def test_backoff_grows_with_receives_when_the_crm_gives_no_hint() -> None:
    tuning = CrmTuning(retry_base_seconds=4, retry_max_seconds=60)
    rng = random.Random(1)
    delays = [retry_delay(n, None, tuning, rng=rng) for n in (1, 2, 3, 4, 5, 9)]
    assert 2 <= delays[0] <= 4 and 4 <= delays[1] <= 8 and 8 <= delays[2] <= 16
    assert 30 <= delays[-1] <= 60  # capped
    assert retry_delay(1, 0.2, tuning) == 1  # never 0: that would spin
    assert retry_delay(1, 10**6, tuning) == 43_200  # SQS maximum


def test_backoff_never_exceeds_the_queues_visibility_timeout() -> None:
    # The local stack scales the template's 180 s down to a few seconds; so do our retries.
    sqs = FakeSqs(visibility_timeout="4")
    adapter = FakeAdapter([Retryable("503", status=503)])
    consumer = _consumer(_service(adapter, sample_view(), SC_2026_1=CrmState()), sqs)

    consumer.handle_batch({"Records": [_record(receives=7)]}, None)

    assert 2 <= sqs.visibility[0]["VisibilityTimeout"] <= 4  # not base 4 x 2^6, capped at 60


def test_permanent_failure_goes_to_the_dlq_with_its_reason_and_is_not_retried() -> None:
    sqs = FakeSqs()
    adapter = FakeAdapter([Permanent("webhook POST /hooks answered 400: bad customer", status=400)])
    consumer = _consumer(_service(adapter, sample_view(), SC_2026_1=CrmState()), sqs)

    response = consumer.handle_batch({"Records": [_record()]}, None)

    assert response == {"batchItemFailures": []}
    assert sqs.visibility == []
    (dead,) = sqs.sent
    assert dead["QueueUrl"] == DLQ
    assert dead["MessageGroupId"] == "SC-2026-1"
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "webhook POST /hooks answered 400: bad customer"
    assert json.loads(dead["MessageBody"])["case_id"] == "SC-2026-1"


def test_malformed_message_is_dead_lettered_with_the_validation_reason() -> None:
    sqs = FakeSqs()
    consumer = _consumer(_service(FakeAdapter(), sample_view()), sqs)
    response = consumer.handle_batch({"Records": [_record(body='{"version": 1}')]}, None)
    assert response == {"batchItemFailures": []}
    assert "malformed crm-sync message" in sqs.sent[0]["MessageAttributes"]["reason"]["StringValue"]


def test_unconfigured_crm_keeps_messages_for_later_instead_of_dead_lettering() -> None:
    sqs = FakeSqs()

    def broken() -> CrmSync:
        raise Permanent("crm_credentials has no 'zendesk' object")

    consumer = SyncConsumer(broken, queue_url=QUEUE, sqs=sqs, tuning=CrmTuning(retry_base_seconds=4))
    response = consumer.handle_batch({"Records": [_record()]}, None)
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-SC-2026-1-1-1"}]
    assert sqs.sent == [] and len(sqs.visibility) == 1


def test_a_failing_case_does_not_hold_back_other_cases_in_the_batch() -> None:
    sqs = FakeSqs()
    adapter = FakeAdapter([Retryable("503", status=503)])
    views = FakeCases(sample_view("SC-2026-1"), sample_view("SC-2026-2", customer_id="cus-other"))
    records = FakeRecords(SC_2026_1=CrmState(), SC_2026_2=CrmState())
    consumer = _consumer(CrmSync(adapter, views, records, MemoryGuard()), sqs)  # type: ignore[arg-type]

    response = consumer.handle_batch(
        {"Records": [_record("SC-2026-1", 1), _record("SC-2026-1", 2), _record("SC-2026-2", 1)]}, None
    )

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {"m-SC-2026-1-1-1", "m-SC-2026-1-2-1"}  # the later message of that case waits too
    assert [e.case.id for e in adapter.sent] == ["SC-2026-2"]
    # ... for exactly as long as the failed one: SQS serves nothing of a group while any of
    # its messages is in flight, so a longer wait would stretch the case's own backoff.
    delays = {v["ReceiptHandle"]: v["VisibilityTimeout"] for v in sqs.visibility}
    assert set(delays) == {"rh-SC-2026-1-1", "rh-SC-2026-1-2"}
    assert delays["rh-SC-2026-1-1"] == delays["rh-SC-2026-1-2"]
