"""Data rights on moto (docs/privacy.md): a customer's export holds her messages; after her
erasure no table or bucket holds her phone, name, handles or platform ids, her phone finds nobody,
and a redelivery of her messages does not bring her back; Meta's data-deletion callback; an
erasure killed halfway finishes on retry; the retention sweep erases the aged, not the recent.

The story is test_customers_api's (Anna on five channels and the phone, Marco, Giulia whose order
number makes her a match suggestion of Anna's), run through the real processor, API, ErasureQueue
and ErasureFunction flow; the scan reads every item of every table and every object of every bucket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import boto3
import pytest
from data_rights_scan import leftovers
from event_source import run_event_source
from test_customers_api import (
    ANNA_CALL,
    ANNA_MESSAGES,
    GIULIA,
    MARCO,
    Api,
    x_post,
)

from socialcare.domain.privacy import meta
from socialcare.flows.api.app import build
from socialcare.flows.privacy import ErasureConsumer
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import InboundEvent
from socialcare.models.privacy import JobSource

if TYPE_CHECKING:
    from conftest import AwsStack

pytestmark = pytest.mark.integration

ANNA_X = "2244994945"
ANNA_POST = x_post("1850000000000000001", ANNA_X, "anna_bianchi", "Anna Bianchi",
                   "@brand il mio ordine ORD-123456 non è ancora arrivato!", 0)
ANNA = [ANNA_POST, *[e for k, e in ANNA_MESSAGES.items() if not k.startswith("x:")], ANNA_CALL]
# what must be nowhere after her erasure: phone (every spelling contains it), name and both
# handles ("bianchi"), her X id and her other platform ids
NEEDLES = ["3331112222", "bianchi", ANNA_X, "psid-8801", "fb-5501", "ig-9901"]


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Api:
    return Api(build(wiring), aws.api_token)


@pytest.fixture
def processor(wiring: Wiring) -> Processor:
    return Processor(wiring)


def play(processor: Processor, events: list[InboundEvent]) -> None:
    for item in sorted(events, key=lambda e: e.interaction.occurred_at if e.interaction else datetime.now(UTC)):
        processor.process(item)


def run_erasures(aws: AwsStack, wiring: Wiring) -> int:
    consumer = ErasureConsumer(wiring)
    return run_event_source(lambda event: consumer.handle_batch(event, None), aws.queue_urls["ErasureQueue"])


def redeliver(aws: AwsStack, wiring: Wiring, processor: Processor, events: list[InboundEvent]) -> None:
    """The platform sends them again: through inbound.fifo and the processor's handler."""
    wiring.publisher.inbound(events)
    run_event_source(lambda event: processor.handle_batch(event, None), aws.queue_urls["InboundQueue"])


def scan(needles: list[str]) -> list[str]:
    return leftovers(boto3.client("dynamodb"), boto3.client("s3"), needles)


def anna_id(api: Api) -> str:
    (found,) = api.get("/api/customers", phone="+393331112222")["customers"]
    return str(found["id"])


def test_her_export_holds_her_messages_and_what_else_is_held_about_her(api: Api, processor: Processor) -> None:
    play(processor, [*ANNA, *MARCO, GIULIA])
    customer = anna_id(api)

    status, doc = api.call("GET", f"/api/customers/{customer}/export")

    assert status == 200, doc
    texts = {m["id"]: m.get("text") for m in doc["timeline"]}
    for event in ANNA:
        assert event.interaction is not None
        assert texts[event.interaction.id] == event.interaction.text
    assert all(m.get("raw") for m in doc["timeline"] if m["channel"] != "phone")  # the platform's own event
    assert {("phone", "+393331112222"), ("x", ANNA_X)} <= {(i["kind"], i["value"]) for i in doc["identities"]}
    assert {c["customer_id"] for c in doc["claims"]} == {customer}
    assert doc["cases"] and all(c["customer_id"] == customer for c in doc["cases"])
    assert [s["other_customer_id"] for s in doc["suggestions"]]  # Giulia's order number
    assert doc["profile"]["name"] == "Anna Bianchi"
    # nobody else's messages
    assert not {"x:1850000000000000002", "facebook:page_1_c78"} & set(texts)
    # an agent may not export
    status, body = api.call("GET", f"/api/customers/{customer}/export", token="local-agent-token")
    assert status in (401, 403) and "error" in body


def test_after_erasure_nothing_of_her_is_left_and_a_redelivery_does_not_bring_her_back(
    aws: AwsStack, api: Api, processor: Processor, wiring: Wiring
) -> None:
    play(processor, [*ANNA, *MARCO, GIULIA])
    customer = anna_id(api)
    assert scan(NEEDLES)  # the scan sees her before
    marco = api.get("/api/customers", x="2002")["customers"]
    giulia = api.get("/api/customers", facebook="fb-6602")["customers"][0]["id"]

    status, job = api.call("DELETE", f"/api/customers/{customer}")
    assert status == 202, job
    assert job["status"] == "pending" and job["status_url"].endswith(f"/api/data-deletion/{job['job_id']}")
    run_erasures(aws, wiring)

    assert api.get("/api/customers", phone="+393331112222") == {"customers": [], "cursor": None}
    assert api.get("/api/customers", x=ANNA_X)["customers"] == []
    assert api.call("GET", f"/api/customers/{customer}")[0] == 404
    assert scan(NEEDLES) == []
    # the others keep everything, but Giulia's suggestion of her
    assert api.get("/api/customers", x="2002")["customers"] == marco
    assert api.get(f"/api/customers/{giulia}")["suggestions"] == []
    # the job is done, says so without her, and a second DELETE answers the same job
    status, again = api.call("DELETE", f"/api/customers/{customer}")
    assert (status, again["job_id"], again["status"]) == (200, job["job_id"], "done")
    status, public = api.call("GET", f"/api/data-deletion/{job['job_id']}", token=None)
    assert status == 200 and public["status"] == "done" and customer not in str(public)
    # her cases keep their counts and times for reporting, without her texts
    cases = wiring.cases_repo.customer_cases(customer)
    assert cases and all(c.erased_at and c.interaction_count for c in cases)

    # When the platforms redeliver her messages
    redeliver(aws, wiring, processor, [ANNA_POST, ANNA_MESSAGES["whatsapp:wamid.A1"]])

    # Then she is not back
    assert api.get("/api/customers", phone="+393331112222")["customers"] == []
    assert api.get("/api/customers", x=ANNA_X)["customers"] == []
    assert scan(NEEDLES) == []


def test_a_new_message_from_her_platform_id_starts_a_fresh_customer_without_the_old_data(
    aws: AwsStack, api: Api, processor: Processor, wiring: Wiring
) -> None:
    play(processor, ANNA)
    customer = anna_id(api)
    api.call("DELETE", f"/api/customers/{customer}")
    run_erasures(aws, wiring)

    fresh = x_post("1850000000000000009", ANNA_X, "anna_bianchi", "Anna Bianchi", "@brand sono tornata", 600)
    redeliver(aws, wiring, processor, [fresh])

    (found,) = api.get("/api/customers", x=ANNA_X)["customers"]
    assert found["id"] != customer
    timeline = api.get(f"/api/customers/{found['id']}")["timeline"]
    assert [t["id"] for t in timeline] == ["x:1850000000000000009"]


def signed(payload: dict[str, Any], secret: str) -> str:
    return urlencode({"signed_request": meta.sign(payload, secret)})


def meta_call(api: Api, body: str) -> tuple[int, dict[str, Any]]:
    event = {
        "version": "2.0", "routeKey": "POST /api/data-deletion/meta", "rawPath": "/api/data-deletion/meta",
        "rawQueryString": "", "headers": {"content-type": "application/x-www-form-urlencoded", "host": "api.example"},
        "requestContext": {"http": {"method": "POST", "path": "/api/data-deletion/meta", "protocol": "HTTP/1.1",
                                    "sourceIp": "173.252.0.1", "userAgent": "facebookexternalua"},
                           "requestId": "req-meta", "routeKey": "POST /api/data-deletion/meta", "stage": "$default",
                           "accountId": "1", "apiId": "local", "domainName": "api.example", "domainPrefix": "api",
                           "time": "02/Dec/2026:09:00:00 +0000", "timeEpoch": 1796205600000},
        "body": body, "isBase64Encoded": False,
    }
    response = api.app.resolve(event, {})
    return response["statusCode"], json.loads(response["body"])


def test_meta_s_data_deletion_callback_erases_the_user_and_answers_its_status_url(
    aws: AwsStack, api: Api, processor: Processor, wiring: Wiring
) -> None:
    play(processor, [*ANNA, *MARCO])
    secret = aws.secret_values["MetaAppSecret"]
    payload = {"algorithm": "HMAC-SHA256", "user_id": "psid-8801", "issued_at": 1796205600, "expires": 1796209200}

    # a forged or garbled request is refused with a JSON reason, and erases nothing
    status, body = meta_call(api, signed(payload, "not-the-app-secret"))
    assert status == 403 and body["error"]
    status, body = meta_call(api, "signed_request=not-a-signed-request")
    assert status == 400 and body["error"]
    status, body = meta_call(api, signed({**payload, "algorithm": "none"}, secret))
    assert status == 403
    assert api.get("/api/customers", messenger="psid-8801")["customers"]

    status, body = meta_call(api, signed(payload, secret))
    assert status == 200, body
    assert set(body) == {"url", "confirmation_code"}
    assert body["url"] == f"https://api.example/api/data-deletion/{body['confirmation_code']}"
    run_erasures(aws, wiring)

    assert api.get("/api/customers", messenger="psid-8801")["customers"] == []
    assert api.get("/api/customers", phone="+393331112222")["customers"] == []
    status, page = api.call("GET", f"/api/data-deletion/{body['confirmation_code']}", token=None)
    assert status == 200 and page["status"] == "done" and page["source"] == "meta"
    assert api.call("GET", "/api/data-deletion/no-such-code", token=None)[0] == 404
    assert api.get("/api/customers", x="2002")["customers"]  # Marco stays
    assert scan(NEEDLES) == []


class Crash(Exception):
    pass


def test_an_erasure_killed_halfway_finishes_on_retry(
    aws: AwsStack, api: Api, processor: Processor, wiring: Wiring
) -> None:
    play(processor, [*ANNA, *MARCO, GIULIA])
    customer = anna_id(api)
    job = wiring.privacy.erasure.request_customer(customer, JobSource.CLI)
    events = wiring.privacy.store.client.meta.events
    writes = {"n": 0}

    def die_after_some_deletes(**_: Any) -> None:
        writes["n"] += 1
        if writes["n"] > 6:
            raise Crash("the function died here")

    events.register("before-call.dynamodb.DeleteItem", die_after_some_deletes)
    try:
        with pytest.raises(Crash):
            wiring.privacy.erasure.run(job.job_id)
    finally:
        events.unregister("before-call.dynamodb.DeleteItem", die_after_some_deletes)
    halfway = wiring.privacy.erasure.status(job.job_id)
    assert halfway is not None and not halfway.done
    assert {"freeze", "tombstones", "cases"} <= set(halfway.steps_done) and "profiles" not in halfway.steps_done
    assert api.get("/api/customers", phone="+393331112222")["customers"] == []  # frozen at once
    assert scan(NEEDLES)  # and not yet erased

    finished = wiring.privacy.erasure.run(job.job_id)  # the retry

    assert finished.done and finished.customer_id is None
    assert scan(NEEDLES) == []
    assert api.get("/api/customers", x="2002")["customers"]


def test_the_erasure_purges_her_idempotency_records_and_no_one_else_s(
    aws: AwsStack, api: Api, processor: Processor, wiring: Wiring
) -> None:
    play(processor, [ANNA_POST])
    customer = wiring.identity.find_customer("x", ANNA_X)
    assert customer is not None
    (case,) = wiring.cases_repo.customer_cases(customer)
    # Zendesk's ticket ids are small numbers: hers is 47, another customer's 1470 holds "47"
    wiring.cases_repo.record_crm_sync(case.id, provider="zendesk", record_id="47", version=case.version)
    wiring.guard.once(f"zendesk:create:{case.id}", lambda: "47")
    wiring.guard.once("zendesk:create:SC-2026-000777", lambda: "1470")

    assert api.call("DELETE", f"/api/customers/{customer}")[0] == 202
    run_erasures(aws, wiring)

    def must_not_run() -> str:
        raise AssertionError("another case's CRM ticket would be created twice")

    assert wiring.guard.once("zendesk:create:SC-2026-000777", must_not_run) == "1470"
    assert wiring.guard.once(f"zendesk:create:{case.id}", lambda: "forgotten") == "forgotten"
