"""Inbound gateway: e-mail, web chat and web-form integrations POST our own documented JSON
(schema ``docs/schemas/inbound-gateway.v1.json``, generated from ``GatewayMessage``).

Signed with ``X-Socialcare-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``
and ``X-Socialcare-Timestamp`` (unix seconds). The timestamp is inside the MAC, so a captured
request cannot be replayed after the 5-minute window with a fresh timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, ValidationError

from socialcare.domain import phones
from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed
from socialcare.errors import BadRequest, Unauthorized
from socialcare.models.interaction import (
    Action,
    Attachment,
    Author,
    Channel,
    Identifier,
    IdentifierKind,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)
from socialcare.signing import MAX_SKEW_SECONDS, any_equal, skew_seconds, socialcare_signature

SOURCE = "inbound"
SIGNATURE_HEADER = "x-socialcare-signature"
TIMESTAMP_HEADER = "x-socialcare-timestamp"
SCHEMA_ID = "https://socialcare.dev/schemas/inbound-gateway.v1.json"

_KINDS = {"email": Kind.EMAIL, "chat": Kind.CHAT, "web": Kind.FORM}


class GatewaySender(BaseModel):
    """Who wrote. ``*_verified`` is the gateway's assertion: true only when the gateway itself
    authenticated the value (DKIM-aligned From, a signed-in chat user, an OTP-confirmed phone);
    otherwise the value is a *claim* typed by the sender and weighs less in recognition."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=256, description="the gateway's stable id for the sender")
    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    email_verified: bool = False
    phone: str | None = Field(default=None, max_length=64, description="E.164 preferred; national numbers "
                              "are read with SOCIALCARE_DEFAULT_REGION")
    phone_verified: bool = False


class GatewayAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=32, description="image | audio | video | document | ...")
    url: str | None = Field(default=None, max_length=2048)
    filename: str | None = Field(default=None, max_length=512)
    mime_type: str | None = Field(default=None, max_length=255)


class GatewayMessage(BaseModel):
    """One customer message from an e-mail, web-chat or web-form gateway (schema version 1)."""

    model_config = ConfigDict(extra="forbid", title="InboundGatewayMessage")

    version: Literal[1] = 1
    channel: Literal["email", "chat", "web"]
    message_id: str = Field(min_length=1, max_length=512, description="unique per channel; redeliveries "
                            "repeat it and are stored once")
    thread_id: str | None = Field(default=None, max_length=512, description="e-mail thread / chat session")
    occurred_at: AwareDatetime
    sender: GatewaySender
    recipient: str | None = Field(default=None, max_length=320, description="the brand mailbox/widget/form")
    subject: str | None = Field(default=None, max_length=1000)
    text: str | None = Field(default=None, max_length=200_000)
    language: str | None = Field(default=None, max_length=16)
    attachments: list[GatewayAttachment] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)


class GatewayBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", title="InboundGatewayBatch")

    messages: list[GatewayMessage] = Field(min_length=1, max_length=100)


class GatewayBody(RootModel[GatewayMessage | GatewayBatch]):
    """A POST body: one message, or ``{"messages": [...]}`` (up to 100)."""


def json_schema() -> dict[str, Any]:
    schema = GatewayBody.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "socialcare inbound gateway body, version 1"
    return schema


def verify(accounts: Accounts, body: bytes, headers: Mapping[str, str], now: float | None = None) -> None:
    keys = accounts.inbound_secrets()  # SecretUnavailable -> 500 before anything is read
    signature = headers.get(SIGNATURE_HEADER)
    stamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise Unauthorized("missing X-Socialcare-Signature or X-Socialcare-Timestamp")
    skew = skew_seconds(stamp, time.time() if now is None else now)
    if skew is None:
        raise Unauthorized("X-Socialcare-Timestamp must be unix seconds")
    if not any_equal(signature.strip(), [socialcare_signature(key, stamp.strip(), body) for key in keys]):
        raise Unauthorized("invalid X-Socialcare-Signature")
    if skew > MAX_SKEW_SECONDS:
        raise Unauthorized("X-Socialcare-Timestamp is older than 5 minutes")
    if skew < -MAX_SKEW_SECONDS:
        raise Unauthorized("X-Socialcare-Timestamp is more than 5 minutes in the future")


def message_interaction(message: GatewayMessage, region: str) -> Interaction:
    sender = message.sender
    channel = Channel(message.channel)
    email = sender.email.strip().lower() if sender.email else None
    phone = phones.to_e164(sender.phone, region) if sender.phone else None
    author_id = sender.id or email or phone
    if not author_id:
        raise BadRequest(f"message {message.message_id}: sender needs an id, a valid e-mail or a phone")
    identifiers: list[Identifier] = []
    if sender.id:
        identifiers.append(Identifier(kind=IdentifierKind(channel.value), value=sender.id, verified=True))
    if email:
        identifiers.append(Identifier(kind=IdentifierKind.EMAIL, value=email, verified=sender.email_verified))
    if phone:
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value=phone, verified=sender.phone_verified))
    metadata: dict[str, Any] = {"gateway": message.metadata} if message.metadata else {}
    if message.subject:
        metadata["subject"] = message.subject
    if sender.phone and not phone:
        metadata["unparsed_phone"] = sender.phone
    return Interaction(
        id=Interaction.make_id(channel, message.message_id),
        channel=channel,
        kind=_KINDS[message.channel],
        account_id=message.recipient,
        platform_message_id=message.message_id,
        author=Author(id=author_id, name=sender.name),
        text=message.text,
        language=message.language,
        occurred_at=message.occurred_at,
        thread=ThreadRef(conversation_id=message.thread_id),
        attachments=[Attachment(**a.model_dump()) for a in message.attachments],
        identifiers=identifiers,
        metadata=metadata,
    )


class _BatchShape(BaseModel):
    """A batch before its messages are read: each message is then validated on its own."""

    model_config = ConfigDict(extra="forbid")

    messages: list[Any] = Field(min_length=1, max_length=100)


def _message_id(raw: Any) -> str | None:
    value = raw.get("message_id") if isinstance(raw, dict) else None
    return value[:512] if isinstance(value, str) else None


def _problems(exc: ValidationError | BadRequest) -> list[dict[str, Any]]:
    if isinstance(exc, BadRequest):
        return [{"loc": [], "msg": exc.reason}]
    return [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_input=False)]


def parse(payload: Any, region: str) -> Parsed:
    """Split one gateway POST into inbound events; phones without a prefix are read in ``region``.

    The gateway is our own signed API and its caller can correct what it sent, so a batch is
    all or nothing: every message is validated on its own, and when any is invalid the answer
    is a 400 naming *each* bad one (``details.invalid``: index, message_id, errors) and nothing
    of the batch is published - the caller fixes or drops those and resends; nothing is
    accepted in part, so nothing is lost silently."""
    batch = isinstance(payload, dict) and "messages" in payload
    raws = _BatchShape.model_validate(payload).messages if batch else [payload]
    parsed = Parsed()
    invalid: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            message = GatewayMessage.model_validate(raw)
            interaction = message_interaction(message, region)
        except (ValidationError, BadRequest) as exc:
            if not batch:
                raise  # one message: the usual 400 with its failing locations
            invalid.append({"index": index, "message_id": _message_id(raw), "errors": _problems(exc)})
            continue
        parsed.events.append(
            InboundEvent(action=Action.CREATE, source=SOURCE, event_id=message.message_id,
                         interaction=interaction, raw=raw)
        )
    if invalid:
        raise BadRequest(
            f"{len(invalid)} of {len(raws)} messages are invalid; none was accepted: fix or drop them and resend",
            invalid=invalid,
        )
    return parsed
