"""Inbound gateway (e-mail, web chat, web forms): timestamped signature, documented schema, parser."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pydantic import ValidationError

from socialcare.config.settings import Settings
from socialcare.domain.channels import gateway
from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import BadRequest, SecretUnavailable, Unauthorized
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Channel, Identifier, IdentifierKind, Kind

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "channels"
SECRET = "inbound-secret"
REGION = "IT"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def headers(body: bytes, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {gateway.TIMESTAMP_HEADER: stamp, gateway.SIGNATURE_HEADER: f"sha256={mac}"}


def configured_accounts() -> Accounts:
    """The brand accounts as a function builds them: from its SOCIALCARE_* environment."""
    return Wiring(Settings()).accounts


@pytest.fixture
def inbound_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[Accounts]:
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="inbound", SecretString=SECRET
        )["ARN"]
        monkeypatch.setenv("SOCIALCARE_INBOUND_SECRET_ARN", arn)
        parameters.clear_caches()
        yield configured_accounts()
    parameters.clear_caches()


def test_a_fresh_correctly_signed_body_is_accepted(inbound_secret: Accounts) -> None:
    body = fixture("gateway_email.json")
    gateway.verify(inbound_secret, body, headers(body))


@pytest.mark.parametrize(
    ("age", "reason"),
    [(301, "older than 5 minutes"), (-301, "in the future")],
)
def test_timestamps_outside_five_minutes_are_refused_with_a_reason(
    inbound_secret: Accounts, age: int, reason: str
) -> None:
    body = fixture("gateway_email.json")
    now = 1_795_000_000
    with pytest.raises(Unauthorized) as refused:
        gateway.verify(inbound_secret, body, headers(body, ts=now - age), now=now)
    assert reason in refused.value.reason
    gateway.verify(inbound_secret, body, headers(body, ts=now - 299), now=now)  # just inside the window


def test_the_timestamp_is_covered_by_the_signature(inbound_secret: Accounts) -> None:
    body = fixture("gateway_email.json")
    signed = headers(body, ts=1_795_000_000)
    replayed = {**signed, gateway.TIMESTAMP_HEADER: "1795000100"}  # fresh time, old signature
    with pytest.raises(Unauthorized):
        gateway.verify(inbound_secret, body, replayed, now=1_795_000_100)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: {},
        lambda h: {gateway.SIGNATURE_HEADER: h[gateway.SIGNATURE_HEADER]},
        lambda h: {**h, gateway.TIMESTAMP_HEADER: "yesterday"},
        lambda h: {**h, gateway.SIGNATURE_HEADER: "sha256=" + "0" * 64},
    ],
    ids=["no-headers", "no-timestamp", "non-numeric-timestamp", "forged"],
)
def test_missing_or_forged_signatures_are_refused(inbound_secret: Accounts, mutate: Any) -> None:
    body = fixture("gateway_email.json")
    with pytest.raises(Unauthorized):
        gateway.verify(inbound_secret, body, mutate(headers(body)))


def test_a_signature_made_with_another_secret_is_refused(inbound_secret: Accounts) -> None:
    body = fixture("gateway_email.json")
    with pytest.raises(Unauthorized):
        gateway.verify(inbound_secret, body, headers(body, secret="someone-else"))


def test_no_secret_means_500_not_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALCARE_INBOUND_SECRET_ARN", raising=False)
    body = b"{}"
    with pytest.raises(SecretUnavailable):
        gateway.verify(configured_accounts(), body, headers(body, secret=""))


def test_an_email_maps_sender_identifiers_with_the_gateways_verification_assertions() -> None:
    (event,) = gateway.parse(json.loads(fixture("gateway_email.json")), REGION).events
    mail = event.interaction
    assert mail is not None
    assert mail.id == "email:<CAF=abc123@mail.example.com>" and mail.channel is Channel.EMAIL
    assert mail.kind is Kind.EMAIL and mail.author.id == "anna.bianchi@example.com"
    assert mail.author.name == "Anna Bianchi" and mail.metadata["subject"] == "Ordine ORD-123456 non ricevuto"
    assert mail.thread.conversation_id == "<CAF=abc000@mail.example.com>"
    assert mail.text is not None and "non è ancora arrivato" in mail.text
    assert mail.occurred_at.isoformat() == "2026-11-22T05:30:00+00:00"
    assert mail.identifiers == [
        Identifier(kind=IdentifierKind.EMAIL, value="anna.bianchi@example.com", verified=True),
        Identifier(kind=IdentifierKind.PHONE, value="+393331112222", verified=False),  # typed: a claim
    ]
    assert mail.attachments[0].filename == "ordine.pdf"


def test_a_batch_carries_chat_and_web_form_messages() -> None:
    parsed = gateway.parse(json.loads(fixture("gateway_batch.json")), REGION)
    chat, form = (e.interaction for e in parsed.events)
    assert chat is not None and form is not None
    assert (chat.channel, chat.kind, chat.author.id) == (Channel.CHAT, Kind.CHAT, "visitor-55")
    assert (form.channel, form.kind, form.author.id) == (Channel.WEB, Kind.FORM, "giulia@example.org")
    assert Identifier(kind=IdentifierKind.PHONE, value="+390212345678", verified=False) in form.identifiers
    assert form.metadata["gateway"] == {"form": "contact-us"}


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "fax", "message_id": "1", "occurred_at": "2026-11-22T05:30:00Z", "sender": {"id": "a"}},
        {"channel": "email", "message_id": "1", "occurred_at": "2026-11-22T05:30:00", "sender": {"id": "a"}},
        {"channel": "email", "message_id": "1", "occurred_at": "2026-11-22T05:30:00Z", "sender": {"id": "a"},
         "unexpected": True},
        {"messages": []},
    ],
    ids=["unknown-channel", "naive-time", "unknown-field", "empty-batch"],
)
def test_bodies_outside_the_schema_are_rejected(payload: Any) -> None:
    with pytest.raises(ValidationError):
        gateway.parse(payload, REGION)


def test_a_sender_without_any_identifier_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        gateway.parse({"channel": "web", "message_id": "1", "occurred_at": "2026-11-22T05:30:00Z",
                       "sender": {"name": "Anonymous", "phone": "not a number"}}, REGION)


def test_the_published_json_schema_is_the_one_the_code_validates_against() -> None:
    published = json.loads((ROOT / "docs" / "schemas" / "inbound-gateway.v1.json").read_text())
    assert published == gateway.json_schema()


def test_a_batch_with_invalid_messages_names_every_one_and_accepts_none() -> None:
    """Our own API, so all or nothing: the caller learns each bad message (index, id, why) and
    resends; no message is taken in part, so none is lost without the caller knowing."""
    batch = json.loads(fixture("gateway_batch.json"))
    good = batch["messages"][0]
    batch["messages"] = [good, {**good, "message_id": "x-2", "occurred_at": "yesterday"}, good | {"message_id": "x-3",
                         "sender": {"name": "no way to reply"}}, "not an object"]
    with pytest.raises(BadRequest) as refused:
        gateway.parse(batch, REGION)
    invalid = refused.value.details["invalid"]
    assert [(i["index"], i["message_id"]) for i in invalid] == [(1, "x-2"), (2, "x-3"), (3, None)]
    assert invalid[0]["errors"][0]["loc"] == ["occurred_at"] and "input" not in invalid[0]["errors"][0]
    assert "needs an id" in invalid[1]["errors"][0]["msg"]
    assert "4 messages" in refused.value.reason and "none was accepted" in refused.value.reason


@pytest.mark.parametrize("batch", [{"messages": []}, {"messages": [{}] * 101}, {"messages": [], "extra": 1}],
                         ids=["empty", "over-100", "extra-key"])
def test_a_batch_envelope_outside_the_contract_is_rejected(batch: Any) -> None:
    with pytest.raises(ValidationError):
        gateway.parse(batch, REGION)
