"""Meta webhooks: hub verification, X-Hub-Signature-256 over raw bytes, and the parsers for
page feed, Messenger, Instagram and WhatsApp (messages of every type, contacts, statuses)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare.config.settings import Settings
from socialcare.domain.channels import meta
from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import BadRequest, Forbidden, SecretUnavailable, Unauthorized
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, Channel, Identifier, IdentifierKind, Kind
from socialcare.publish import dedupe_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
PAGE = "104000000000001"
APP_SECRET = "meta-app-secret"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str) -> Any:
    return meta.parse(json.loads(fixture(name)))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def meta_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Any], None]]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arns = {
            "meta_app_secret": client.create_secret(Name="app", SecretString=APP_SECRET)["ARN"],
            "meta_verify_token": client.create_secret(Name="verify", SecretString="verify-me")["ARN"],
        }
        for field, arn in arns.items():
            monkeypatch.setenv(f"SOCIALCARE_{field.upper()}_ARN", arn)

        def put(field: str, value: Any) -> None:
            text = value if isinstance(value, str) else json.dumps(value)
            client.put_secret_value(SecretId=arns[field], SecretString=text)
            parameters.clear_caches()

        parameters.clear_caches()
        yield put
    parameters.clear_caches()


def configured_accounts() -> Accounts:
    """The brand accounts as a function builds them: from its SOCIALCARE_* environment."""
    return Wiring(Settings()).accounts


@pytest.fixture
def accounts(meta_secrets: Callable[[str, Any], None]) -> Accounts:
    return configured_accounts()


# ------------------------------------------------------------------ verification GET


def test_verification_echoes_the_bare_challenge_when_the_token_matches(accounts: Accounts) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert meta.verify_subscription(accounts, params) == "1158201444"


def test_verification_with_the_wrong_token_is_forbidden(accounts: Accounts) -> None:
    with pytest.raises(Forbidden):
        meta.verify_subscription(accounts, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})


def test_verification_without_mode_or_challenge_is_a_bad_request(accounts: Accounts) -> None:
    with pytest.raises(BadRequest):
        meta.verify_subscription(accounts, {"hub.verify_token": "verify-me"})


# ------------------------------------------------------------------ signatures


def test_signature_is_checked_over_the_bytes_as_received_with_unicode_escapes(accounts: Accounts) -> None:
    body = fixture("meta_page_batch.json")
    assert b"\\u00e8" in body  # Meta's \uXXXX escaping, as on the wire
    meta.verify(accounts, body, {meta.SIGNATURE_HEADER: sign(APP_SECRET, body)})
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    with pytest.raises(Unauthorized):  # a signature over a re-serialisation must not verify
        meta.verify(accounts, body, {meta.SIGNATURE_HEADER: sign(APP_SECRET, reserialised)})


@pytest.mark.parametrize("header", [None, "", "sha256=00", "sha1=abc"], ids=["absent", "empty", "forged", "sha1"])
def test_absent_or_invalid_signatures_are_unauthorized(accounts: Accounts, header: str | None) -> None:
    headers = {} if header is None else {meta.SIGNATURE_HEADER: header}
    with pytest.raises(Unauthorized):
        meta.verify(accounts, fixture("meta_page_batch.json"), headers)


def test_each_app_secret_is_tried_when_several_apps_post_here(
    meta_secrets: Callable[[str, Any], None], accounts: Accounts
) -> None:
    meta_secrets("meta_app_secret", {"111": "secret-of-app-1", "222": "secret-of-app-2"})
    body = fixture("meta_instagram.json")
    meta.verify(accounts, body, {meta.SIGNATURE_HEADER: sign("secret-of-app-2", body)})
    with pytest.raises(Unauthorized):
        meta.verify(accounts, body, {meta.SIGNATURE_HEADER: sign(APP_SECRET, body)})


def test_a_missing_app_secret_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_META_APP_SECRET_ARN", "")
    body = b"{}"
    with pytest.raises(SecretUnavailable):
        meta.verify(configured_accounts(), body, {meta.SIGNATURE_HEADER: sign("", body)})


# ------------------------------------------------------------------ page: feed + Messenger


def test_a_batched_page_post_splits_into_one_event_per_customer_message() -> None:
    parsed = parse("meta_page_batch.json")
    summary = [(e.action, e.interaction.channel if e.interaction else None, e.event_id) for e in parsed.events]
    assert summary == [
        (Action.CREATE, Channel.FACEBOOK, "900000000000001_1200000000000001"),
        (Action.CREATE, Channel.FACEBOOK, f"{PAGE}_900000000000002"),
        (Action.CREATE, Channel.MESSENGER, "m_AnnaMessenger0001"),
        (Action.REACT, Channel.MESSENGER, "m_PageEcho0001#reaction-6543210987654321-1795327200480"),
        (Action.EDIT, Channel.FACEBOOK, "900000000000001_1200000000000001"),
        (Action.DELETE, Channel.FACEBOOK, "900000000000001_1200000000000003"),
    ]
    assert parsed.ignored == {
        "meta:page:own_comment": 1,
        "meta:page:feed:reaction": 1,
        "meta:page:echo": 1,
        "meta:page:delivery": 1,
        "meta:page:read": 1,
    }


def test_feed_comment_keeps_author_thread_and_non_ascii_text() -> None:
    comment = parse("meta_page_batch.json").events[0].interaction
    assert comment.id == "facebook:900000000000001_1200000000000001"
    assert comment.kind is Kind.COMMENT and comment.account_id == PAGE
    assert comment.author.id == "10158000000000001" and comment.author.name == "Anna Bianchi"
    assert comment.text == "Ancora nessuna notizia dell'ordine ORD-123456. Perché? È inaccettabile — 订单"
    assert comment.thread.post_id == f"{PAGE}_900000000000001"
    assert comment.occurred_at.timestamp() == 1795327190
    assert Identifier(kind=IdentifierKind.FACEBOOK, value="10158000000000001") in comment.identifiers


def test_visitor_posts_are_public_posts() -> None:
    post = parse("meta_page_batch.json").events[1].interaction
    assert post.kind is Kind.PUBLIC_POST and post.id == f"facebook:{PAGE}_900000000000002"


def test_messenger_message_uses_the_psid_and_keeps_its_attachment_link() -> None:
    event = parse("meta_page_batch.json").events[2]
    message = event.interaction
    assert message.channel is Channel.MESSENGER and message.kind is Kind.DIRECT_MESSAGE
    assert message.author.id == "6543210987654321" and event.group_id == "messenger:6543210987654321"
    assert message.occurred_at.timestamp() == 1795327200.4  # messaging timestamps are milliseconds
    assert message.attachments[0].type == "image" and message.attachments[0].url.startswith("https://scontent")
    assert event.raw["messaging"]["message"]["mid"] == "m_AnnaMessenger0001"  # its own raw slice only


def test_an_edit_targets_the_original_and_successive_edits_have_distinct_dedupe_ids() -> None:
    body = json.loads(fixture("meta_page_batch.json"))
    edit = meta.parse(body).events[4]
    original = meta.parse(body).events[0]
    assert edit.target_id == original.interaction.id
    assert dedupe_id(edit) != dedupe_id(original)
    body["entry"][2]["time"] += 60
    body["entry"][2]["changes"][0]["value"]["message"] = "second edit"
    assert dedupe_id(meta.parse(body).events[4]) != dedupe_id(edit)
    assert dedupe_id(meta.parse(json.loads(fixture("meta_page_batch.json"))).events[4]) == dedupe_id(edit)


def test_a_removed_comment_is_a_delete_of_the_stored_interaction() -> None:
    removal = parse("meta_page_batch.json").events[5]
    assert removal.target_id == "facebook:900000000000001_1200000000000003"
    assert removal.interaction is not None and removal.interaction.text is None


# ------------------------------------------------------------------ Instagram


def test_instagram_comments_and_dms_skip_the_brands_own_and_echoes() -> None:
    parsed = parse("meta_instagram.json")
    creates = [e.interaction for e in parsed.events if e.action is Action.CREATE]
    assert [(i.channel, i.kind, i.author.id) for i in creates] == [
        (Channel.INSTAGRAM, Kind.COMMENT, "17841400000000001"),
        (Channel.INSTAGRAM, Kind.DIRECT_MESSAGE, "1784140000000IGSID1"),
    ]
    assert creates[0].author.handle == "marco.rossi"
    assert creates[0].text == "Adoro i vostri prodotti, servizio fantastico! Grazie mille ❤️"
    assert creates[1].text == "Posso cambiare la taglia? ¿Y en español?"
    deleted = [e for e in parsed.events if e.action is Action.DELETE]
    assert [e.target_id for e in deleted] == ["instagram:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQz"]
    assert parsed.ignored == {"meta:instagram:own_comment": 1, "meta:instagram:mentions": 1, "meta:instagram:echo": 1}


# ------------------------------------------------------------------ WhatsApp


def test_whatsapp_messages_of_every_type_carry_the_contact_name_and_verified_phone() -> None:
    parsed = parse("meta_whatsapp_messages.json")
    assert parsed.ignored == {}
    interactions = [e.interaction for e in parsed.events]
    assert [i.metadata["type"] for i in interactions] == [
        "text", "image", "audio", "document", "location", "interactive", "unsupported"
    ]
    first = interactions[0]
    assert first.id == "whatsapp:wamid.HBgMMzkzMzMxMTEyMjIyFQIAEhgWQU5OQTAwMDE="
    assert first.author.id == "393331112222" and first.author.name == "Anna Bianchi"
    assert first.account_id == "109876543210"
    assert first.text is not None and first.text.endswith("€49,90")
    assert set(first.identifiers) == {
        Identifier(kind=IdentifierKind.WHATSAPP, value="393331112222", verified=True),
        Identifier(kind=IdentifierKind.PHONE, value="+393331112222", verified=True),
    }
    assert all(e.group_id == "whatsapp:393331112222" for e in parsed.events)


def test_whatsapp_media_is_carried_as_media_ids_for_the_processor_to_fetch() -> None:
    interactions = [e.interaction for e in parse("meta_whatsapp_messages.json").events]
    image, audio, document = interactions[1], interactions[2], interactions[3]
    assert (image.attachments[0].type, image.attachments[0].media_id) == ("image", "1234567890123456")
    assert image.text == "Ecco la ricevuta"
    assert audio.attachments[0].media_id == "2234567890123456"
    assert document.attachments[0].filename == "fattura.pdf"
    assert document.thread.parent_id == "wamid.OUTBOUND0001"
    assert interactions[4].text == "📍 Duomo, Piazza del Duomo, Milano (45.4642, 9.19)"
    assert interactions[4].content["latitude"] == 45.4642 and interactions[4].attachments == []
    assert interactions[5].text == "Voglio il rimborso"


def test_a_user_id_only_sender_is_not_assumed_to_be_a_phone() -> None:
    (event,) = parse("meta_whatsapp_user_id.json").events
    assert event.interaction.author.id == "US.13491208655302741918"
    assert event.interaction.author.name == "Nadia K"
    assert [i.kind for i in event.interaction.identifiers] == [IdentifierKind.WHATSAPP]


def test_statuses_are_delivery_receipts_never_inbound_messages() -> None:
    parsed = parse("meta_whatsapp_statuses.json")
    assert all(e.action is Action.STATUS and e.interaction is None for e in parsed.events)
    assert [(e.status.platform_message_id, e.status.status) for e in parsed.events] == [
        ("wamid.OUTBOUND0001", "delivered"),
        ("wamid.OUTBOUND0001", "read"),
        ("wamid.OUTBOUND0002", "failed"),
    ]
    assert parsed.events[2].status.errors[0]["code"] == 131047
    assert len({dedupe_id(e) for e in parsed.events}) == 3  # delivered and read are not duplicates
    assert parsed.ignored == {"whatsapp:message_template_status_update": 1}


# ------------------------------------------------------------------ bad input


def test_an_unknown_object_is_ignored_and_counted() -> None:
    parsed = meta.parse({"object": "permissions", "entry": [{"id": "1", "time": 1}]})
    assert parsed.events == [] and parsed.ignored == {"meta:unknown_object:permissions": 1}


@pytest.mark.parametrize(
    "payload",
    [[], {"entry": []}, {"object": "page", "entry": "nope"}, {"object": "page"}],
    ids=["array", "no-object", "entry-not-list", "no-entry"],
)
def test_a_body_that_is_no_meta_envelope_is_a_bad_request(payload: Any) -> None:
    with pytest.raises(BadRequest):
        meta.parse(payload)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"object": "page", "entry": [{"time": 1}]}, "meta:invalid:page:entry"),
        ({"object": "page", "entry": ["nope"]}, "meta:invalid:page:entry"),
        ({"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"mid": "m"}}]}]},
         "meta:invalid:page:messaging"),
        ({"object": "whatsapp_business_account",
          "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": []}}]}]},
         "meta:invalid:whatsapp_business_account:change"),
    ],
    ids=["entry-without-id", "entry-not-an-object", "messaging-without-sender", "wa-no-metadata"],
)
def test_a_malformed_item_is_skipped_and_counted_not_a_bad_request(payload: Any, reason: str) -> None:
    parsed = meta.parse(payload)
    assert parsed.events == [] and parsed.ignored == {reason: 1}
