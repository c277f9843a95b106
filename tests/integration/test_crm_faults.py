"""Fault suite: a real loopback CRM (pytest-httpserver) that answers 503, 429 with Retry-After
and times out before it recovers, behind real SQS FIFO/DLQ and DynamoDB tables from
template.yaml (moto). However the CRM misbehaves, each case ends up as exactly one CRM record,
every delivery is signed, and no delivery id is accepted twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import event_source  # tests/integration/event_source.py
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from socialcare import aws
from socialcare.crm.base import CrmTuning, Http, NoGuard
from socialcare.crm.ratelimit import TokenBucket
from socialcare.crm.samples import sample_view
from socialcare.crm.webhook import WebhookAdapter
from socialcare.crm.zendesk import ZendeskAdapter
from socialcare.flows.crm_sync import CrmSync, SyncConsumer
from socialcare.models.crm import CaseView, CrmSyncRequest
from socialcare.publish import Publisher, RecordQueue
from socialcare.store.cases import CasesRepository
from socialcare.store.idempotency import PowertoolsGuard
from socialcare.store.state import StateRepository
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
SECRET = "loopback-crm-secret"
CLIENT_TIMEOUT = 0.5


# ------------------------------------------------------------------ the world


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        aws.reset()
        made = Provisioner(Resolver(load_template(TEMPLATE), stack_name="t"), endpoint_url=None, environ={}).provision()  # type: ignore[arg-type]
        yield made
        aws.reset()


def records(made: Any) -> CasesRepository:
    """CasesTable's repository: the case items and the CRM state beside them."""
    return CasesRepository(made.names["CasesTable"], boto3.client("dynamodb"))


def crm_sync_queue(made: Any) -> RecordQueue:
    return RecordQueue(boto3.client("sqs"), made.queue_urls["CrmSyncQueue"])


@pytest.fixture
def httpserver() -> Iterator[HTTPServer]:
    # Threaded, like a real CRM: one slow answer must not delay (and time out) the next request.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


class Cases:
    """The cases service's read model, backed by real case items (version, for reconcile);
    each version it puts is published to crm-sync.fifo as the case stream relays it."""

    def __init__(self, made: Any) -> None:
        self.table = made.names["CasesTable"]
        self.views: dict[str, CaseView] = {}
        self.publisher = Publisher(boto3.client("sqs"), crm_sync_url=made.queue_urls["CrmSyncQueue"])

    def put(self, view: CaseView, *, publish: bool = True) -> None:
        self.views[view.case.id] = view
        boto3.client("dynamodb").update_item(
            TableName=self.table,
            Key={"pk": {"S": f"CASE#{view.case.id}"}, "sk": {"S": "CASE"}},
            UpdateExpression="SET version = :v",
            ExpressionAttributeValues={":v": {"N": str(view.case.version)}},
        )
        if publish:
            self.publisher.crm_syncs([CrmSyncRequest(case_id=view.case.id, version=view.case.version,
                                                     reason="pipeline")])

    def get_case_view(self, case_id: str) -> CaseView | None:
        return self.views.get(case_id)


def run_event_source(consumer: SyncConsumer, queue_url: str, *, deadline_s: float = 40.0, batch: int = 10) -> int:
    """Lambda's SQS event source for the CRM sync consumer, on moto."""
    return event_source.run_event_source(lambda event: consumer.handle_batch(event, None), queue_url,
                                         deadline_s=deadline_s, batch=batch)


def dlq_messages(queue_url: str) -> list[dict[str, Any]]:
    return (
        boto3.client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


# ------------------------------------------------------------------ loopback webhook CRM


@dataclass
class LoopbackCrm:
    """A CRM receiver that verifies signatures, dedupes on the delivery id, and misbehaves
    according to ``script`` (one entry per request, then healthy)."""

    script: list[str]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, bool, float]] = field(default_factory=list)  # (delivery, fault, signed, t)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected)
        delivery = request.headers.get("X-Socialcare-Delivery-Id", "")
        fault = self.script.pop(0) if self.script else "ok"
        self.requests.append((delivery, fault, signed, time.monotonic()))
        if not signed:
            return Response("bad signature", status=401)
        if fault == "503":
            return Response("maintenance", status=503)
        if fault.startswith("429"):
            return Response("slow down", status=429, headers={"Retry-After": fault.split(":")[1]})
        if fault == "timeout":
            time.sleep(CLIENT_TIMEOUT * 2.5)  # the client has given up; nothing was applied
            return Response("gateway timeout", status=504)
        doc = json.loads(body)
        with self.lock:
            if delivery not in self.accepted:
                self.accepted.append(delivery)
                current = self.records.get(doc["case"]["id"])
                if current is None or current["case"]["version"] < doc["case"]["version"]:
                    self.records[doc["case"]["id"]] = doc
        if fault == "lost":
            time.sleep(CLIENT_TIMEOUT * 2.5)  # applied, but our client never hears the answer
        return Response(json.dumps({"id": f"crm-{doc['case']['id']}"}), status=200, content_type="application/json")


def assert_no_delivery_resent_after_acknowledgement(crm: LoopbackCrm) -> None:
    """Our half of "no delivery id accepted twice": once the CRM's 2xx reached us, that
    delivery id is never sent again (only a lost answer may be retried - with the same id)."""
    heard: set[str] = set()
    for delivery, fault, _, _ in crm.requests:
        assert delivery not in heard, f"{delivery} was sent again after the CRM acknowledged it"
        if fault == "ok":
            heard.add(delivery)
    assert len(crm.accepted) == len(set(crm.accepted))


def _webhook_consumer(made: Any, httpserver: HTTPServer, cases: Cases, *, guard: Any = None) -> SyncConsumer:
    url = httpserver.url_for("/crm")
    tuning = CrmTuning(retry_base_seconds=1, retry_max_seconds=2, timeout_seconds=CLIENT_TIMEOUT)
    http = Http("webhook", timeout=CLIENT_TIMEOUT)
    service = CrmSync(WebhookAdapter(url, SECRET, http), cases, records(made), guard or NoGuard())
    return SyncConsumer(lambda: service, crm_sync_queue(made), tuning)


def _story(cases: Cases) -> None:
    """Giulia writes on x, facebook, messenger, whatsapp (one case, four versions); Marco
    praises the brand once (his own case)."""
    channels = ("x", "facebook", "messenger", "whatsapp")
    for version in range(1, 5):
        cases.put(sample_view("SC-2026-1", version=version, channels=channels[:version]))
    cases.put(
        sample_view(
            "SC-2026-2", customer_id="cus-marco", email="marco@example.com", phone=None, channels=("instagram",)
        )
    )


def test_503_429_and_timeouts_then_recovery_leave_one_record_per_case(made: Any, httpserver: HTTPServer) -> None:
    crm = LoopbackCrm(script=["503", "503", "429:1", "timeout", "lost"])
    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm.handle)
    cases = Cases(made)
    guard = PowertoolsGuard(made.names["IdempotencyTable"], boto3.client("dynamodb"))
    _story(cases)

    run_event_source(_webhook_consumer(made, httpserver, cases, guard=guard), made.queue_urls["CrmSyncQueue"])

    outcomes = [fault for _, fault, _, _ in crm.requests]
    assert outcomes[:5] == ["503", "503", "429:1", "timeout", "lost"]  # every fault was really served
    assert all(signed for _, _, signed, _ in crm.requests)
    assert sorted(crm.records) == ["SC-2026-1", "SC-2026-2"]  # exactly one record per case
    assert_no_delivery_resent_after_acknowledgement(crm)
    giulia = crm.records["SC-2026-1"]
    assert giulia["case"]["channels"] == ["x", "facebook", "messenger", "whatsapp"]
    assert giulia["case"]["version"] == 4
    assert crm.records["SC-2026-2"]["customer"]["id"] == "cus-marco"
    # The case items remember the CRM's id (behind CrmIndex) and what it acknowledged.
    repo = records(made)
    assert repo.crm_state("SC-2026-1").synced_version == 4  # type: ignore[union-attr]
    assert repo.case_for_crm_record("crm-SC-2026-1") == "SC-2026-1"
    assert dlq_messages(made.queue_urls["CrmSyncDLQ"]) == []


def test_a_lost_answer_is_retried_with_the_same_delivery_id(made: Any, httpserver: HTTPServer) -> None:
    crm = LoopbackCrm(script=["lost"])
    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm.handle)
    cases = Cases(made)
    cases.put(sample_view("SC-2026-1", version=1))

    run_event_source(_webhook_consumer(made, httpserver, cases), made.queue_urls["CrmSyncQueue"])

    deliveries = [d for d, _, _, _ in crm.requests]
    assert len(deliveries) == 2 and deliveries[0] == deliveries[1]  # the receiver can dedupe
    assert crm.accepted == deliveries[:1]


def test_a_permanent_4xx_goes_to_the_dlq_with_a_readable_reason(made: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/crm", method="POST").respond_with_json(
        {"error": "customer.tier 'gold' is not a known tier"}, status=422
    )
    cases = Cases(made)
    cases.put(sample_view("SC-2026-1", version=1))

    run_event_source(_webhook_consumer(made, httpserver, cases), made.queue_urls["CrmSyncQueue"])

    (dead,) = dlq_messages(made.queue_urls["CrmSyncDLQ"])
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert "422" in reason and "customer.tier 'gold' is not a known tier" in reason
    assert json.loads(dead["Body"]) | {"requested_at": None} == {
        "schema_version": 1,
        "case_id": "SC-2026-1",
        "version": 1,
        "reason": "pipeline",
        "requested_at": None,
    }
    assert len(httpserver.log) == 1  # tried once, not maxReceiveCount times
    assert records(made).crm_state("SC-2026-1").synced_version == 0  # type: ignore[union-attr]


def test_the_token_bucket_defers_instead_of_flooding_the_crm(made: Any, httpserver: HTTPServer) -> None:
    crm = LoopbackCrm(script=[])
    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm.handle)
    cases = Cases(made)
    for n in range(1, 5):
        cases.put(sample_view(f"SC-2026-{n}", customer_id=f"cus-{n}"))
    state = StateRepository(made.names["StateTable"], boto3.client("dynamodb"))
    bucket = TokenBucket("webhook", state, rate_per_second=2, burst=1)
    http = Http("webhook", timeout=CLIENT_TIMEOUT, limiter=bucket)
    service = CrmSync(WebhookAdapter(httpserver.url_for("/crm"), SECRET, http), cases, records(made), NoGuard())
    consumer = SyncConsumer(lambda: service, crm_sync_queue(made), CrmTuning(retry_base_seconds=1))

    run_event_source(consumer, made.queue_urls["CrmSyncQueue"])

    assert sorted(crm.records) == [f"SC-2026-{n}" for n in range(1, 5)]
    assert len(crm.requests) == 4  # deferred messages waited; none hit the CRM and failed
    arrivals = [t for _, _, _, t in crm.requests]
    # burst 1 at 2 tokens/s: four deliveries cannot arrive within 1.5 s of each other
    assert arrivals[-1] - arrivals[0] >= 1.5


# ------------------------------------------------------------------ the retry queue


def _retrying_consumer(made: Any, httpserver: HTTPServer, cases: Cases, attempts: int) -> SyncConsumer:
    """The webhook consumer with the template's CRM retry queue and a budget of ``attempts``."""
    service = CrmSync(WebhookAdapter(httpserver.url_for("/crm"), SECRET, Http("webhook", timeout=CLIENT_TIMEOUT)),
                      cases, records(made), NoGuard())
    tuning = CrmTuning(retry_base_seconds=1, retry_max_seconds=2, retry_attempts=attempts)
    return SyncConsumer(lambda: service, crm_sync_queue(made), tuning,
                        retries=Publisher(boto3.client("sqs"), crm_retry_url=made.queue_urls["CrmRetryQueue"]))


def _retried(case_id: str, version: int, attempt: int) -> CrmSyncRequest:  # handed back after failed tries
    return CrmSyncRequest(case_id=case_id, version=version, reason="retry", attempt=attempt, deferrals=attempt + 3)


def test_a_rate_limit_puts_the_sync_off_without_spending_its_budget(made: Any, httpserver: HTTPServer) -> None:
    crm = LoopbackCrm(script=["429:1"])
    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm.handle)
    cases = Cases(made)
    cases.put(sample_view("SC-2026-1", version=1), publish=False)
    cases.publisher.crm_syncs([_retried("SC-2026-1", 1, attempt=1)])  # one failure left in a budget of 2

    run_event_source(_retrying_consumer(made, httpserver, cases, attempts=2), made.queue_urls["CrmSyncQueue"])

    assert dlq_messages(made.queue_urls["CrmSyncDLQ"]) == []
    time.sleep(1.2)  # the CRM said Retry-After: 1; the retry is delayed that long on the retry queue
    (waiting,) = dlq_messages(made.queue_urls["CrmRetryQueue"])
    retry = CrmSyncRequest.model_validate_json(waiting["Body"])
    assert (retry.case_id, retry.version, retry.attempt, retry.deferrals) == ("SC-2026-1", 1, 1, 5)


def test_a_spent_budget_dead_letters_only_a_version_that_still_matters(made: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/crm", method="POST").respond_with_data("maintenance", status=503)
    cases = Cases(made)
    cases.put(sample_view("SC-2026-1", version=2), publish=False)  # v2 saved: its own trigger carries it
    cases.put(sample_view("SC-2026-2", customer_id="cus-marco", version=1), publish=False)
    cases.publisher.crm_syncs([_retried("SC-2026-1", 1, attempt=1), _retried("SC-2026-2", 1, attempt=1)])

    run_event_source(_retrying_consumer(made, httpserver, cases, attempts=2), made.queue_urls["CrmSyncQueue"])

    (dead,) = dlq_messages(made.queue_urls["CrmSyncDLQ"])  # not the superseded SC-2026-1 v1
    assert json.loads(dead["Body"])["case_id"] == "SC-2026-2"  # whose v1 is its latest
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert "2 failed tries" in reason and "503" in reason
    assert dlq_messages(made.queue_urls["CrmRetryQueue"]) == []  # nothing left circulating


# ------------------------------------------------------------------ loopback Zendesk


@dataclass
class FakeZendesk:
    """Enough of Zendesk's tickets API to show that a create whose answer is lost, followed by
    a retry, still leaves one ticket per external_id."""

    faults: list[str]
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        fault = self.faults.pop(0) if self.faults else "ok"
        self.served.append(f"{method} {path} {fault}")
        if fault == "503":
            return Response("down", status=503)
        if fault.startswith("429"):
            return Response("", status=429, headers={"Retry-After": fault.split(":")[1]})
        if path.endswith("/users/create_or_update"):
            return self._json({"user": {"id": 901}})
        if path.endswith("/tickets") and method == "GET":
            wanted = request.args.get("external_id")
            return self._json({"tickets": [t for t in self.tickets.values() if t["external_id"] == wanted]})
        if path.endswith("/tickets") and method == "POST":
            ticket = json.loads(request.get_data())["ticket"]
            ticket_id = 1000 + len(self.tickets)
            self.tickets[ticket_id] = {**ticket, "id": ticket_id, "comments": [ticket["comment"]]}
            if fault == "lost":
                time.sleep(CLIENT_TIMEOUT * 2.5)
            return self._json({"ticket": {"id": ticket_id}}, 201)
        match = re.search(r"/tickets/(\d+)$", path)
        if match and method == "PUT":
            ticket = self.tickets[int(match.group(1))]
            update = json.loads(request.get_data())["ticket"]
            if "comment" in update:
                ticket["comments"].append(update.pop("comment"))
            ticket.update(update)
            return self._json({"ticket": {"id": ticket["id"]}})
        return Response("not found", status=404)

    @staticmethod
    def _json(doc: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(doc), status=status, content_type="application/json")


def test_zendesk_ticket_create_with_a_lost_answer_and_rate_limits_stays_single(
    made: Any, httpserver: HTTPServer
) -> None:
    # user, lookup, create (applied, answer lost) | then 429 | then healthy
    zendesk = FakeZendesk(faults=["ok", "ok", "lost", "429:1", "503"])
    httpserver.expect_request(re.compile(r"^/api/v2/.*$")).respond_with_handler(zendesk.handle)
    cases = Cases(made)
    _story(cases)
    guard = PowertoolsGuard(made.names["IdempotencyTable"], boto3.client("dynamodb"))
    creds = {"base_url": httpserver.url_for("/").rstrip("/"), "email": "bot@acme.test", "api_token": "t"}
    adapter = ZendeskAdapter(creds, Http("zendesk", timeout=CLIENT_TIMEOUT), guard=guard)
    service: Callable[[], CrmSync] = lambda: CrmSync(adapter, cases, records(made), guard)  # noqa: E731
    consumer = SyncConsumer(service, crm_sync_queue(made), CrmTuning(retry_base_seconds=1, retry_max_seconds=2))

    run_event_source(consumer, made.queue_urls["CrmSyncQueue"])

    by_case: dict[str, list[int]] = {}
    for ticket in zendesk.tickets.values():
        by_case.setdefault(ticket["external_id"], []).append(ticket["id"])
    assert {k: len(v) for k, v in by_case.items()} == {"SC-2026-1": 1, "SC-2026-2": 1}
    giulia = zendesk.tickets[by_case["SC-2026-1"][0]]
    assert {"channel_x", "channel_facebook", "channel_messenger", "channel_whatsapp"} <= set(giulia["tags"])
    notes = [c["body"] for c in giulia["comments"][1:]]
    assert len(notes) == len(set(notes)) == 4  # each interaction noted exactly once
    assert records(made).crm_state("SC-2026-1").record_id == str(by_case["SC-2026-1"][0])  # type: ignore[union-attr]
