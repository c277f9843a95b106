"""Retention and the CRM side of an erasure (docs/privacy.md).

* The retention sweep, on moto: a customer last heard from 40 months ago is erased, one heard
  from last month is not (RetentionIndex, no scan).
* The erasure reaches the CRM through the stack's adapter: the generic webhook adapter against a
  loopback CRM (signed ``customer.erased`` with the CRM's record ids), and the adapters' own
  requests against ``responses`` (webhook, Zendesk's permanent deletion).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import responses
from data_rights_scan import leftovers
from event_source import run_event_source
from pytest_httpserver import HTTPServer
from test_customers_api import Api, x_post

from socialcare.config.settings import Settings
from socialcare.crm.base import CrmErasure, Http, Retryable
from socialcare.crm.webhook import WebhookAdapter
from socialcare.crm.zendesk import ZendeskAdapter
from socialcare.flows.api.app import build
from socialcare.flows.privacy import ErasureConsumer
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.store.profiles import ProfilesRepository

if TYPE_CHECKING:
    from conftest import AwsStack
    from werkzeug import Request, Response

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
MONTH = 30 * 24 * 60  # minutes


class ReceivedAt(Wiring):
    """A processor's wiring whose store received every message at ``when`` (its clock)."""

    def __init__(self, settings: Settings, when: datetime) -> None:
        super().__init__(settings)
        self.when = when

    @cached_property
    def profiles(self) -> ProfilesRepository:
        return ProfilesRepository(str(self.settings.profiles_table), self.client("dynamodb"), clock=lambda: self.when)


def run_erasures(aws: AwsStack, wiring: Wiring) -> int:
    consumer = ErasureConsumer(wiring)
    return run_event_source(lambda event: consumer.handle_batch(event, None), aws.queue_urls["ErasureQueue"])


def test_the_retention_sweep_erases_the_aged_customer_and_keeps_the_recent_one(aws: AwsStack, wiring: Wiring) -> None:
    processor = Processor(wiring)
    api = Api(build(wiring), aws.api_token)
    # T0 is 2026-11-02: one customer wrote (and was heard) 40 months before, the other a month ago
    Processor(ReceivedAt(Settings(), NOW - timedelta(days=40 * 30))).process(
        x_post("1700000000000000001", "5550001", "old_timer", "Olga Vecchi", "@brand ciao", -40 * MONTH))
    processor.process(x_post("1850000000000000002", "2002", "marco_v", "Marco Verdi", "@brand ordine ORD-777777", 5))
    # a third is heard from today, by a message dated 30 months ago (a late e-mail, a replay)
    processor.process(x_post("1850000000000000003", "3003", "lia_t", "Lia Tardi", "@brand l'ordine di allora",
                             -30 * MONTH))
    assert api.get("/api/customers", x="5550001")["customers"]

    report = wiring.privacy.retention.sweep(now=NOW)
    run_erasures(aws, wiring)

    assert len(report.jobs) == 1 and report.cutoff.startswith("2024-12-02")
    assert api.get("/api/customers", x="5550001")["customers"] == []
    assert api.get("/api/customers", x="2002")["customers"]
    assert api.get("/api/customers", x="3003")["customers"]
    assert leftovers(boto3.client("dynamodb"), boto3.client("s3"), ["5550001", "vecchi", "old_timer"]) == []
    status, page = api.call("GET", f"/api/data-deletion/{report.jobs[0]}", token=None)
    assert status == 200 and (page["status"], page["source"]) == ("done", "retention")
    # a second sweep finds nobody more to erase
    assert wiring.privacy.retention.sweep(now=NOW).jobs == []


# ---------------------------------------------------------------------------------- the CRM
@pytest.fixture
def crm_wiring(aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[Wiring, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    secret = aws.secret_values["CrmWebhookSecret"]

    def crm(request: Request) -> Response:
        from werkzeug import Response

        body = request.get_data()
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        received.append({"signed": request.headers.get("X-Socialcare-Signature") == expected,
                         "event": request.headers.get("X-Socialcare-Event"), **json.loads(body)})
        return Response("{}", status=200, content_type="application/json")

    httpserver.expect_request("/crm", method="POST").respond_with_handler(crm)
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "webhook")
    monkeypatch.setenv("SOCIALCARE_CRM_WEBHOOK_URL", httpserver.url_for("/crm"))
    yield Wiring(Settings()), received


def test_the_erasure_tells_the_crm_to_erase_her_records(aws: AwsStack, crm_wiring: tuple[Wiring, list[Any]]) -> None:
    wiring, received = crm_wiring
    Processor(wiring).process(x_post("1850000000000000001", "2244994945", "anna_bianchi", "Anna Bianchi",
                                     "@brand il mio ordine ORD-123456 non è ancora arrivato!", 0))
    customer = wiring.identity.find_customer("x", "2244994945")
    assert customer is not None
    (case,) = wiring.cases_repo.customer_cases(customer)
    wiring.cases_repo.record_crm_sync(case.id, provider="webhook", record_id="crm-77", version=case.version)
    api = Api(build(wiring), aws.api_token)

    assert api.call("DELETE", f"/api/customers/{customer}")[0] == 202
    run_erasures(aws, wiring)

    erased = [r for r in received if r["event"] == "customer.erased"]
    assert len(erased) == 1 and erased[0]["signed"]
    assert erased[0]["customer_id"] == customer
    assert erased[0]["records"] == [{"case_id": case.id, "record_id": "crm-77"}]
    state = wiring.cases_repo.crm_state(case.id)
    # settled: the scrubbed case is never sent again (reconcile sees nothing lagging)
    assert state is not None and state.record_id is None and state.synced_version == state.case_version
    assert wiring.crm_views.get_case_view(case.id) is None


def test_the_crm_is_told_to_erase_every_customer_she_was_known_as_after_a_merge(
        aws: AwsStack, crm_wiring: tuple[Wiring, list[Any]]) -> None:
    wiring, received = crm_wiring
    processor = Processor(wiring)
    processor.process(x_post("1850000000000000011", "2244994945", "anna_bianchi", "Anna Bianchi",
                             "@brand il mio ordine non è ancora arrivato!", 0))
    processor.process(x_post("1850000000000000012", "7700770077", "anna_b_alt", "A. B.",
                             "@brand sono sempre io, dal mio altro account", 1))
    first, second = (wiring.identity.find_customer("x", i) for i in ("2244994945", "7700770077"))
    assert first and second and first != second
    wiring.merges.merge(second, first, actor="test")  # the CRM may hold a contact for each

    api = Api(build(wiring), aws.api_token)
    assert api.call("DELETE", f"/api/customers/{first}")[0] == 202
    run_erasures(aws, wiring)

    erased = {r["customer_id"] for r in received if r["event"] == "customer.erased"}
    assert erased == {first, second}


REQUEST = CrmErasure(customer_id="cus_anna", records=(("SC-2026-000001", "4711"),), delivery_id="job-1")


@responses.activate
def test_the_webhook_adapter_posts_a_signed_customer_erased_event() -> None:
    responses.add(responses.POST, "https://crm.example/hooks", status=404)  # never had her: fine
    WebhookAdapter("https://crm.example/hooks", "s3cret", Http("webhook", timeout=2)).erase_customer(REQUEST)
    call = responses.calls[0]
    body = call.request.body
    assert isinstance(body, bytes)
    assert call.request.headers["X-Socialcare-Signature"] == "sha256=" + hmac.new(
        b"s3cret", body, hashlib.sha256).hexdigest()
    assert call.request.headers["X-Socialcare-Delivery-Id"] == "job-1"
    assert json.loads(body) == {"event": "customer.erased", "schema_version": 1, "delivery_id": "job-1",
                                "customer_id": "cus_anna",
                                "records": [{"case_id": "SC-2026-000001", "record_id": "4711"}]}


@responses.activate
def test_a_crm_outage_during_the_erasure_is_retried_not_skipped() -> None:
    responses.add(responses.POST, "https://crm.example/hooks", status=503)
    with pytest.raises(Retryable):
        WebhookAdapter("https://crm.example/hooks", "s3cret", Http("webhook", timeout=2)).erase_customer(REQUEST)


@responses.activate
def test_zendesk_deletes_her_tickets_and_her_user_for_good() -> None:
    base = "https://acme.zendesk.com/api/v2"
    for path in ("/tickets/4711", "/deleted_tickets/4711", "/users/901", "/deleted_users/901"):
        responses.add(responses.DELETE, base + path, status=204)
    responses.add(responses.GET, base + "/users/search", json={"users": [{"id": 901}]},
                  match=[responses.matchers.query_param_matcher({"external_id": "cus_anna"})])
    adapter = ZendeskAdapter({"subdomain": "acme", "email": "ops@acme.example", "api_token": "t"},
                             Http("zendesk", timeout=2))

    adapter.erase_customer(REQUEST)

    assert [(c.request.method, str(c.request.url).split("/api/v2")[1].split("?")[0]) for c in responses.calls] == [
        ("DELETE", "/tickets/4711"), ("DELETE", "/deleted_tickets/4711"), ("GET", "/users/search"),
        ("DELETE", "/users/901"), ("DELETE", "/deleted_users/901")]
