"""WhatsApp Cloud API webhook changes (``object: whatsapp_business_account``).

``messages[]`` of every type become inbound interactions (channel ``whatsapp``); ``statuses[]``
are receipts for OUR messages and become ``Action.STATUS`` events, never messages. ``contacts[]``
give the profile name and ``wa_id`` (a phone number without ``+``, which the platform asserts, so
it is a *verified* phone). Newer payloads may carry a ``user_id`` and an empty ``wa_id``: then
there is no phone to assert.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.domain.channels.common import Parsed, from_epoch
from socialcare.errors import BadRequest
from socialcare.models.interaction import (
    Action,
    Attachment,
    Author,
    Channel,
    DeliveryStatus,
    Identifier,
    IdentifierKind,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

SOURCE = "meta"
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class _WaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Profile(_WaModel):
    name: str | None = None
    username: str | None = None


class Contact(_WaModel):
    wa_id: str | None = None
    user_id: str | None = None
    profile: Profile = Field(default_factory=Profile)


class Metadata(_WaModel):
    display_phone_number: str | None = None
    phone_number_id: str


class MessageContext(_WaModel):
    id: str | None = None
    from_: str | None = Field(default=None, alias="from")


class WaMessage(_WaModel):
    id: str
    timestamp: int  # unix seconds, sent as a string
    type: str
    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    context: MessageContext | None = None


class WaStatus(_WaModel):
    id: str
    status: str
    timestamp: int
    recipient_id: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


class MessagesValue(_WaModel):
    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    statuses: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)


def _digits(value: str | None) -> str | None:
    return value if value and value.isdigit() else None


def _contact_for(message: WaMessage, contacts: list[Contact]) -> Contact | None:
    for contact in contacts:
        if (contact.wa_id and contact.wa_id == message.from_) or (
            contact.user_id and contact.user_id in (message.from_user_id, message.from_)
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def author_and_identifiers(message: WaMessage, contact: Contact | None) -> tuple[Author, list[Identifier]]:
    wa_id = _digits(contact.wa_id if contact else None) or _digits(message.from_)
    user_id = (contact.user_id if contact else None) or message.from_user_id
    author_id = wa_id or user_id or message.from_
    if not author_id:
        raise BadRequest(f"WhatsApp message {message.id} has no sender")
    identifiers: list[Identifier] = []
    if wa_id:
        identifiers.append(Identifier(kind=IdentifierKind.WHATSAPP, value=wa_id, verified=True))
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value=f"+{wa_id}", verified=True))
    elif author_id:
        identifiers.append(Identifier(kind=IdentifierKind.WHATSAPP, value=author_id, verified=True))
    profile = contact.profile if contact else Profile()
    return Author(id=author_id, name=profile.name, handle=profile.username), identifiers


def content(message_type: str, body: dict[str, Any]) -> tuple[str | None, list[Attachment], dict[str, Any]]:
    """Text, attachments and extra metadata of one message, whatever its type."""
    part = body.get(message_type)
    part = part if isinstance(part, dict) else {}
    metadata: dict[str, Any] = {"type": message_type}
    if message_type == "text":
        return part.get("body"), [], metadata
    if message_type in MEDIA_TYPES:
        attachment = Attachment(
            type=message_type, media_id=part.get("id"), mime_type=part.get("mime_type"), filename=part.get("filename")
        )
        return part.get("caption"), [attachment], metadata
    if message_type == "location":
        metadata["location"] = {k: part.get(k) for k in ("latitude", "longitude", "name", "address", "url")}
        text = " ".join(str(part[k]) for k in ("name", "address") if part.get(k)) or None
        return text, [Attachment(type="location")], metadata
    if message_type == "interactive":
        reply = part.get("button_reply") or part.get("list_reply") or part.get("nfm_reply") or {}
        metadata["interactive"] = part
        return reply.get("title") or reply.get("body"), [], metadata
    if message_type == "button":
        metadata["button_payload"] = part.get("payload")
        return part.get("text"), [], metadata
    if message_type == "reaction":
        metadata["reacted_to"] = part.get("message_id")
        return part.get("emoji") or None, [], metadata
    if message_type in ("order", "system"):
        metadata[message_type] = part
        return part.get("text") or part.get("body"), [], metadata
    if message_type == "contacts":
        metadata["shared_contacts"] = body.get("contacts")
        return None, [], metadata
    # unsupported / unknown / future types: keep the message (the raw slice says what it was)
    if body.get("errors"):
        metadata["errors"] = body["errors"]
    return None, [], metadata


def parse_change(field: str, value: dict[str, Any], slice_base: dict[str, Any]) -> Parsed:
    parsed = Parsed()
    if field != "messages":
        parsed.ignore(f"whatsapp:{field}"[:120])  # template/quality/account updates
        return parsed
    body = MessagesValue.model_validate(value)
    account = body.metadata.phone_number_id
    envelope = {**slice_base, "metadata": value.get("metadata")}
    for raw in body.messages:
        message = WaMessage.model_validate(raw)
        contact = _contact_for(message, body.contacts)
        author, identifiers = author_and_identifiers(message, contact)
        text, attachments, metadata = content(message.type, raw)
        interaction = Interaction(
            id=Interaction.make_id(Channel.WHATSAPP, message.id),
            channel=Channel.WHATSAPP,
            kind=Kind.DIRECT_MESSAGE,
            account_id=account,
            platform_message_id=message.id,
            author=author,
            text=text,
            occurred_at=from_epoch(message.timestamp),
            thread=ThreadRef(conversation_id=author.id, parent_id=message.context.id if message.context else None),
            attachments=attachments,
            identifiers=identifiers,
            metadata=metadata,
        )
        raw_contacts = [c for c in value.get("contacts") or [] if contact and c.get("wa_id") == contact.wa_id]
        parsed.events.append(
            InboundEvent(
                action=Action.CREATE,
                source=SOURCE,
                event_id=message.id,
                interaction=interaction,
                raw={**envelope, "contacts": raw_contacts, "message": raw},
            )
        )
    for raw in body.statuses:
        status = WaStatus.model_validate(raw)
        parsed.events.append(
            InboundEvent(
                action=Action.STATUS,
                source=SOURCE,
                event_id=f"{status.id}:{status.status}",
                status=DeliveryStatus(
                    channel=Channel.WHATSAPP,
                    platform_message_id=status.id,
                    status=status.status,
                    recipient_id=status.recipient_id,
                    occurred_at=from_epoch(status.timestamp),
                    errors=status.errors,
                ),
                raw={**envelope, "status": raw},
            )
        )
    if body.errors and not body.messages and not body.statuses:
        parsed.ignore("whatsapp:errors", len(body.errors))
    return parsed
