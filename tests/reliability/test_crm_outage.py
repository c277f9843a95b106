"""A CRM outage for a whole run, then recovery, through the real functions on moto.

Cases are threaded by the real cases service; their versions reach crm-sync.fifo through the
CasesTable stream (the ``case_versions`` fixture relays it with the template's filter); Lambda's
event sources run the real CrmSyncFunction on crm-sync.fifo and CrmRetryFunction on the CRM
retry queue (``run_event_sources`` honours visibility timeouts and per-message delays); the CRM
is a loopback webhook receiver (pytest-httpserver) that answers 429 with ``Retry-After``
(RFC 9110 §10.2.3), 503 and timeouts before it recovers. It verifies each delivery's signature,
dedupes on ``X-Socialcare-Delivery-Id`` as docs/crm.md asks receivers to, and keeps the newest
version per case.

Each outage lasts until every case has been given to CrmSyncFunction in more than crm-sync.fifo's
``maxReceiveCount`` invocations: waiting that long by visibility timeout (each wait one more
receive of the case's oldest trigger) would have dead-lettered its triggers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from event_source import run_event_sources  # tests/integration/event_source.py
from pytest_httpserver import HTTPServer
from webhook_calls import Context  # tests/integration/webhook_calls.py
from werkzeug import Request, Response

from socialcare.config.settings import Settings
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Author, Channel, Interaction, Kind
from socialcare_infra.handlers import load_app
from socialcare_infra.template import load_template

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
MAX_RECEIVES = load_template(TEMPLATE)["Resources"]["CrmSyncQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
CLIENT_TIMEOUT = 0.5
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@dataclass
class OutageCrm:
    """A webhook CRM that, while ``down()`` says so, answers with the next of ``faults`` (cycled):
    ``429:<seconds>`` (with Retry-After), ``503``, ``timeout`` (answers after our client gave up,
    applying nothing). Then it accepts: one record per case, each delivery id applied once."""

    secret: str
    faults: list[str]
    down: Callable[[], bool] = lambda: False
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, list[int]] = field(default_factory=dict)  # case id -> versions, per accepted delivery
    deliveries: set[str] = field(default_factory=set)
    served: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected):
            return Response("bad signature", status=401)
        if self.down():
            with self.lock:
                fault = self.faults[sum(self.served.values()) % len(self.faults)]
                self.served[fault] += 1
            if fault.startswith("429"):
                return Response("slow down", status=429, headers={"Retry-After": fault.split(":")[1]})
            if fault == "timeout":
                time.sleep(CLIENT_TIMEOUT * 2.5)
                return Response("gateway timeout", status=504)
            return Response("maintenance", status=503)
        doc = json.loads(body)
        case = doc["case"]
        with self.lock:
            delivery = request.headers.get("X-Socialcare-Delivery-Id", "")
            if delivery not in self.deliveries:
                self.deliveries.add(delivery)
                self.applied.setdefault(case["id"], []).append(case["version"])
                if case["id"] not in self.records or self.records[case["id"]]["case"]["version"] < case["version"]:
                    self.records[case["id"]] = doc
        return Response(json.dumps({"id": f"crm-{case['id']}"}), content_type="application/json")


@pytest.fixture
def crm_server() -> Iterator[HTTPServer]:
    # Threaded, like a real CRM: an answer held past our timeout must not hold the next request.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@dataclass
class World:
    aws: Any
    case_versions: Any
    wiring: Wiring
    crm: OutageCrm
    seen: Counter[str] = field(default_factory=Counter)  # case id -> CrmSyncFunction invocations given it

    def write(self, customer: str, n: int) -> None:
        """The customer's n-th message, threaded into her case: a new case version, relayed to
        crm-sync.fifo by the CasesTable stream."""
        channel = (Channel.X, Channel.WHATSAPP, Channel.MESSENGER)[n % 3]
        kind = Kind.PUBLIC_POST if channel is Channel.X else Kind.DIRECT_MESSAGE
        interaction = Interaction(
            id=f"{channel.value}:{customer}-{n}", channel=channel, kind=kind, account_id="brand",
            platform_message_id=f"{customer}-{n}", author=Author(id=f"{customer}-{channel.value}"),
            text=f"message {n}: il pacco non è arrivato", occurred_at=NOW + timedelta(minutes=n),
        )
        self.wiring.threading.on_interaction(interaction, customer, {}, now=interaction.occurred_at)
        assert self.case_versions.relay() == {"batchItemFailures": []}

    def run(self, *, between: Callable[[], Any] | None = None, deadline_s: float = 40.0) -> None:
        """Lambda's event sources: CrmSyncFunction (batch 5) and CrmRetryFunction, until both
        queues are empty, delayed retries included."""
        sync, relay = load_app("crm_sync").handler, load_app("crm_retry").handler
        urls = self.aws.queue_urls

        def sync_batch(event: dict[str, Any]) -> Any:
            # One count per invocation: the receive count of a case's oldest waiting trigger.
            self.seen.update({json.loads(r["body"])["case_id"] for r in event["Records"]})
            return sync(event, Context(function_name="CrmSyncFunction"))

        def relay_batch(event: dict[str, Any]) -> Any:
            return relay(event, Context(function_name="CrmRetryFunction"))

        run_event_sources({urls["CrmSyncQueue"]: sync_batch, urls["CrmRetryQueue"]: relay_batch},
                          batches={urls["CrmSyncQueue"]: 5}, between=between, deadline_s=deadline_s)

    def case_ids(self, customers: list[str]) -> list[str]:
        ids = []
        for customer in customers:
            case = self.wiring.case_queries.open_case_for(customer)
            assert case is not None
            ids.append(case.id)
        return ids

    def dead_letters(self, queue: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        got = sqs.receive_message(QueueUrl=self.aws.queue_urls[queue], MaxNumberOfMessages=10,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        return [json.loads(m["Body"]) | {"reason": m["MessageAttributes"]["reason"]["StringValue"]}
                if "MessageAttributes" in m else json.loads(m["Body"]) for m in got]

    def assert_every_case_synced_once_per_version_at_its_latest(self, customers: list[str]) -> None:
        ids = self.case_ids(customers)
        assert sorted(self.crm.records) == sorted(ids)  # one CRM record per case, no other
        for case_id in ids:
            case = self.wiring.case_queries.get_case(case_id, with_interactions=False)
            assert self.crm.records[case_id]["case"]["version"] == case.version
            assert self.wiring.cases_repo.crm_state(case_id).synced_version == case.version  # type: ignore[union-attr]
            versions = self.crm.applied[case_id]
            assert len(versions) == len(set(versions)), f"{case_id}: a version was applied twice: {versions}"


@pytest.fixture
def world(aws: Any, case_versions: Any, crm_server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> World:
    crm = OutageCrm(secret=aws.secret_values["CrmWebhookSecret"], faults=["429:1"])
    crm_server.expect_request("/crm", method="POST").respond_with_handler(crm.handle)
    for name, value in {
        "SOCIALCARE_CRM_PROVIDER": "webhook", "SOCIALCARE_CRM_WEBHOOK_URL": crm_server.url_for("/crm"),
        "SOCIALCARE_CRM_RETRY_BASE_SECONDS": "1", "SOCIALCARE_CRM_RETRY_MAX_SECONDS": "2",
        "SOCIALCARE_CRM_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
        # a quick token refill: after a 429's hold, waiting cases retry within the next second
        "SOCIALCARE_CRM_RATE_PER_SECOND": "50",
    }.items():
        monkeypatch.setenv(name, value)
    # Built after the CRM settings above, like every function's cold start (load_app).
    return World(aws, case_versions, Wiring(Settings()), crm)


def test_a_crm_rate_limiting_for_longer_than_the_receive_budget_loses_no_case(world: World) -> None:
    customers = [f"cust-{n}" for n in range(4)]
    for customer in customers:
        world.write(customer, 0)
    world.write(customers[0], 1)  # one case with two versions waiting
    ids = world.case_ids(customers)
    world.crm.down = lambda: min(world.seen[c] for c in ids) <= MAX_RECEIVES

    world.run()

    assert world.crm.served["429:1"] >= 1
    assert min(world.seen.values()) > MAX_RECEIVES  # each trigger outlived crm-sync.fifo's receive budget
    world.assert_every_case_synced_once_per_version_at_its_latest(customers)
    assert world.dead_letters("CrmSyncDLQ") == []
    assert world.dead_letters("CrmRetryDLQ") == []


def test_a_mixed_outage_while_cases_change_dead_letters_nothing_and_ends_at_the_latest_versions(
    world: World,
) -> None:
    customers = [f"cust-{n}" for n in range(3)]
    for customer in customers:
        world.write(customer, 0)
    world.crm.faults = ["503", "429:1", "timeout", "429:1", "429:1", "503"]
    # Two rounds past the receive budget: the versions written during the outage are younger.
    ids = world.case_ids(customers)
    world.crm.down = lambda: min(world.seen[c] for c in ids) <= MAX_RECEIVES + 2
    later = [(customer, n) for n in (1, 2) for customer in customers]  # two more versions per case
    next_at = [time.monotonic() + 1.0]

    def customers_write_again() -> None:  # during the outage, a version per case every second
        if later and time.monotonic() >= next_at[0]:
            for _ in customers:
                world.write(*later.pop(0))
            next_at[0] = time.monotonic() + 1.0

    world.run(between=customers_write_again)

    assert not later, "the outage ended before every version was written"
    assert {"503", "429:1", "timeout"} <= set(world.crm.served)
    world.assert_every_case_synced_once_per_version_at_its_latest(customers)
    assert all(world.wiring.case_queries.get_case(c, with_interactions=False).version >= 3
               for c in world.case_ids(customers))
    assert world.dead_letters("CrmSyncDLQ") == []  # no superseded (nor any other) trigger
    assert world.dead_letters("CrmRetryDLQ") == []


def test_an_outage_that_outlives_the_retries_is_caught_up_by_the_scheduled_reconcile(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALCARE_CRM_RETRY_ATTEMPTS", "2")  # a short budget: the outage outlives it
    customers = ["cust-a", "cust-b"]
    for n in (0, 1):
        for customer in customers:
            world.write(customer, n)
    world.crm.faults = ["503"]
    world.crm.down = lambda: True

    world.run()

    ids = world.case_ids(customers)
    assert world.crm.records == {}
    latest = {c: world.wiring.case_queries.get_case(c, with_interactions=False).version for c in ids}
    dead = world.dead_letters("CrmSyncDLQ")
    # Only what really failed is dead-lettered: each case's latest version, once; no superseded one.
    assert sorted((d["case_id"], d["version"]) for d in dead) == sorted(latest.items())
    assert all("503" in d["reason"] for d in dead)

    world.crm.down = lambda: False  # the CRM is back; nobody runs the CLI
    sweep = load_app("crm_reconcile").handler
    scheduled = {"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "123456789012", "time": datetime.now(UTC).isoformat(), "region": "eu-west-1",
                 "resources": ["arn:aws:events:eu-west-1:123456789012:rule/CrmReconcileFunction-Sweep"],
                 "detail": {}}
    assert sweep(scheduled, Context(function_name="CrmReconcileFunction")) == {
        "lagging": 2, "enqueued": 2, "failed": 0}
    world.run()

    world.assert_every_case_synced_once_per_version_at_its_latest(customers)
    assert sweep(scheduled, Context(function_name="CrmReconcileFunction"))["lagging"] == 0
