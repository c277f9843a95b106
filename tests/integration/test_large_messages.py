"""Any text the gateway accepts is carried whole through SQS and stored whole (issue 10 §5).

A long message is posted signed to the real WebhookInboundFunction in a batch with ordinary
messages, travels inbound.fifo (compressed, or by claim check on the media bucket when even
compressed it is over SQS's 256 KiB), and is processed by the real ProcessorFunction through
Lambda's SQS event source: nothing is dead-lettered, the timeline keeps a preview, and the API
gives the whole text back. Everything runs on moto resources built from template.yaml.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
import pytest
from event_source import run_event_source  # tests/integration/event_source.py
from webhook_calls import Context, http_event, post_signed  # tests/integration/webhook_calls.py

from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare.store.bodies import INLINE_ITEM_BYTES, PREVIEW_CHARS
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from conftest import AwsStack

pytestmark = pytest.mark.integration

GATEWAY_LIMIT = 200_000  # characters of ``text`` the gateway schema accepts


def italian(n: int) -> str:
    """Ordinary prose: compresses well, so it travels as one compressed SQS message."""
    line = ("Buongiorno, scrivo ancora per l'ordine AB-2024-00017: il pacco non è mai arrivato, "
            "il corriere dice consegnato e nessuno mi risponde. Voglio il rimborso. ")
    return (line * (n // len(line) + 1))[:n]


def random_script(n: int, seed: int, low: int, high: int) -> str:
    """Text that does not compress below SQS's limit (each character drawn at random)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(low, high)) for _ in range(n))


TEXTS = {
    "italian-150k": italian(150_000),
    "cjk-150k": random_script(150_000, 1, 0x4E00, 0x9FFF),  # 450 KB of UTF-8
    "emoji-at-the-limit": random_script(GATEWAY_LIMIT, 2, 0x1F300, 0x1FAFF),  # 800 KB of UTF-8
}
CLAIM_CHECKED = {"cjk-150k", "emoji-at-the-limit"}


def signed_post(aws: AwsStack, webhook: ModuleType, payload: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return post_signed(webhook, "inbound", aws.secret_values["InboundSecret"], body, Context(60_000))


def message(n: int, email: str, name: str, text: str) -> dict[str, Any]:
    return {"channel": "email", "message_id": f"<mail-{n}@example.org>", "occurred_at": f"2026-11-22T05:3{n}:00Z",
            "sender": {"name": name, "email": email, "email_verified": True}, "subject": "Ordine", "text": text}


class Api:
    def __init__(self, app: APIGatewayHttpResolver, token: str) -> None:
        self.app, self.token = app, token

    def call(self, path: str, **query: str) -> tuple[int, dict[str, Any]]:
        event = http_event("GET", path, headers={"authorization": f"Bearer {self.token}"}, query=query or None)
        response = self.app.resolve(event, {})
        return response["statusCode"], json.loads(response["body"])

    def get(self, path: str, **query: str) -> dict[str, Any]:
        status, body = self.call(path, **query)
        assert status == 200, body
        return body

    def customer_of(self, email: str) -> str:
        (customer,) = self.get("/api/customers", email=email)["customers"]
        return str(customer["id"])

    def whole_text(self, customer_id: str, interaction_id: str) -> tuple[int, dict[str, Any]]:
        return self.call(f"/api/customers/{customer_id}/interactions/{quote(interaction_id, safe='')}/text")


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Api:
    return Api(build(wiring), aws.api_token)


def bucket_keys(aws: AwsStack, prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.buckets["MediaBucket"], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def dead_letters(aws: AwsStack) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_urls["InboundDLQ"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


# ---------------------------------------------------------------------------------- the gateway
@pytest.mark.parametrize("name", list(TEXTS))
def test_a_long_message_and_its_batch_are_stored_whole_and_nothing_is_dead_lettered(
    aws: AwsStack, api: Api, name: str
) -> None:
    text = TEXTS[name]
    batch = {"messages": [
        message(1, "luca@example.org", "Luca Verdi", "Buongiorno, dove trovo la fattura?"),
        message(2, "giulia@example.org", "Giulia Neri", text),
        message(3, "sara@example.org", "Sara Blu", "Grazie, tutto risolto."),
        message(4, "piero@example.org", "Piero Gialli", "Il reso è stato accettato?"),
    ]}
    assert signed_post(aws, load_app("webhook_inbound"), batch) == (200, {"received": 4, "ignored": 0})
    # an event too large for SQS even compressed waits in the bucket; the queue holds its key
    assert bool(bucket_keys(aws, "inbound-events/")) is (name in CLAIM_CHECKED)

    processor = load_app("processor")
    run_event_source(lambda event: processor.handler(event, Context(60_000)), aws.queue_urls["InboundQueue"],
                     deadline_s=120)
    assert dead_letters(aws) == 0

    giulia = api.customer_of("giulia@example.org")
    (entry,) = api.get(f"/api/customers/{giulia}/timeline")["timeline"]
    assert entry["text_length"] == len(text)
    # an item that would be too large keeps a preview; 150 KB of prose still fits whole
    assert entry["text_truncated"] is (len(text.encode()) > INLINE_ITEM_BYTES)
    assert entry["text"] == (text[:PREVIEW_CHARS] if entry["text_truncated"] else text)
    status, whole = api.whole_text(giulia, entry["id"])
    assert status == 200 and whole["text"] == text and whole["text_length"] == len(text)
    assert api.get(f"/api/customers/{giulia}")["open_case_id"]  # triaged and threaded like any message
    for email, words in (("luca@example.org", "fattura"), ("sara@example.org", "risolto"),
                         ("piero@example.org", "reso")):
        (ordinary,) = api.get(f"/api/customers/{api.customer_of(email)}/timeline")["timeline"]
        assert words in ordinary["text"] and ordinary["text_truncated"] is False


def test_a_claim_check_the_bucket_refuses_is_a_503_and_nothing_is_enqueued(aws: AwsStack) -> None:
    webhook = load_app("webhook_inbound")
    boto3.client("s3").delete_bucket(Bucket=aws.buckets["MediaBucket"])  # S3 unavailable to the webhook
    batch = {"messages": [message(1, "giulia@example.org", "Giulia Neri", TEXTS["cjk-150k"]),
                          message(2, "luca@example.org", "Luca Verdi", "Dove trovo la fattura?")]}
    status, body = signed_post(aws, webhook, batch)
    assert status == 503 and body["error"] == "enqueue_failed"  # the gateway retries the whole POST
    got = boto3.client("sqs").receive_message(QueueUrl=aws.queue_urls["InboundQueue"], MaxNumberOfMessages=10)
    assert got.get("Messages", []) == []


# ---------------------------------------------------------------------------------- the processor
T0 = datetime(2026, 11, 22, 5, 30, tzinfo=UTC)


def event(action: Action, text: str | None, *, edit: str = "") -> InboundEvent:
    interaction = Interaction(
        id="email:<long-1@example.org>", channel=Channel.EMAIL, kind=Kind.EMAIL,
        platform_message_id="<long-1@example.org>", author=Author(id="giulia@example.org", name="Giulia Neri"),
        text=text, occurred_at=T0, metadata={"edit_marker": edit} if edit else {},
    )
    return InboundEvent(action=action, source="inbound", event_id="long-1", interaction=interaction,
                        target_id=interaction.id if action is not Action.CREATE else None,
                        raw={"text": text})


def test_an_edit_moves_the_text_into_the_bucket_and_back(aws: AwsStack, wiring: Wiring, api: Api) -> None:
    processor = Processor(wiring)
    customer = processor.process(event(Action.CREATE, "Il pacco non è arrivato."))["customer_id"]
    long_text = TEXTS["cjk-150k"]
    assert processor.process(event(Action.EDIT, long_text, edit="1")) == {"status": "edited"}
    (entry,) = api.get(f"/api/customers/{customer}/timeline")["timeline"]
    assert entry["text_truncated"] is True and entry["edited_at"]
    assert api.whole_text(customer, entry["id"])[1]["text"] == long_text
    assert len(bucket_keys(aws, "customers/")) == 1

    assert processor.process(event(Action.EDIT, "Il pacco è arrivato, grazie.", edit="2")) == {"status": "edited"}
    (entry,) = api.get(f"/api/customers/{customer}/timeline")["timeline"]
    assert entry["text"] == "Il pacco è arrivato, grazie." and entry["text_truncated"] is False
    assert api.whole_text(customer, entry["id"])[1]["text"] == "Il pacco è arrivato, grazie."
    assert bucket_keys(aws, "customers/") == []  # the replaced long text is not kept


def test_a_long_message_deleted_by_its_author_is_erased_from_the_bucket(
    aws: AwsStack, wiring: Wiring, api: Api
) -> None:
    processor = Processor(wiring)
    stored = processor.process(event(Action.CREATE, TEXTS["emoji-at-the-limit"]))
    assert processor.process(event(Action.CREATE, TEXTS["emoji-at-the-limit"]))["status"] == "duplicate"
    assert len(bucket_keys(aws, "customers/")) == 1  # a redelivery wrote nothing new
    delete = InboundEvent(action=Action.DELETE, source="inbound", event_id="long-1-del",
                          target_id="email:<long-1@example.org>")
    assert processor.process(delete) == {"status": "deleted"}
    assert bucket_keys(aws, "customers/") == []
    (entry,) = api.get(f"/api/customers/{stored['customer_id']}/timeline")["timeline"]
    assert entry["deleted"] is True and entry["text"] is None
    assert api.whole_text(stored["customer_id"], "email:<long-1@example.org>")[0] == 404


def test_the_whole_text_route_answers_404_for_what_a_customer_does_not_hold(wiring: Wiring, api: Api) -> None:
    processor = Processor(wiring)
    giulia = processor.process(event(Action.CREATE, "Il pacco non è arrivato."))["customer_id"]
    assert api.whole_text(giulia, "email:<long-1@example.org>")[1]["text"] == "Il pacco non è arrivato."
    assert api.whole_text(giulia, "email:<nope@example.org>")[0] == 404
    assert api.whole_text("no-such-customer", "email:<long-1@example.org>")[0] == 404
    other = InboundEvent(action=Action.CREATE, source="inbound", event_id="other", interaction=Interaction(
        id="email:<other@example.org>", channel=Channel.EMAIL, kind=Kind.EMAIL,
        platform_message_id="<other@example.org>", author=Author(id="luca@example.org", name="Luca Verdi"),
        text="Dove trovo la fattura?", occurred_at=T0))
    luca = processor.process(other)["customer_id"]
    assert api.whole_text(luca, "email:<long-1@example.org>")[0] == 404  # Giulia's message, not Luca's
