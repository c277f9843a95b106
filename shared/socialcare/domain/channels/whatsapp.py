"""WhatsApp Cloud API webhook changes (``object: whatsapp_business_account``).

``messages[]`` of every type become inbound interactions (channel ``whatsapp``): a reaction is
``Action.REACT`` on the message it names (an empty emoji removes it), a ``revoke`` deletes and
an ``edit`` edits the original message. ``statuses[]`` are receipts for OUR messages and become
``Action.STATUS`` events, never messages. ``calls[]`` (Business Calling API): a finished call
the customer placed is recorded as a ``call`` interaction. ``contacts[]`` give the profile name
and ``wa_id`` (a phone number without ``+``, which the platform asserts, so it is a *verified*
phone). Newer payloads may carry a ``user_id`` and an empty ``wa_id``: then there is no phone to
assert. Each message, status and call is parsed on its own (``common.each``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from socialcare.domain.channels.common import Parsed, each, from_epoch, indexed
from socialcare.domain.channels.meta_common import Party, invalid, tombstone
from socialcare.domain.channels.whatsapp_author import Contact, author_and_identifiers, contact_for
from socialcare.domain.channels.whatsapp_author import WaModel as _WaModel
from socialcare.domain.channels.whatsapp_calls import call_event
from socialcare.domain.channels.whatsapp_content import Body, body_of
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    DeliveryStatus,
    Identifier,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

SOURCE = "meta"
_OBJECT = "whatsapp_business_account"


class Metadata(_WaModel):
    display_phone_number: str | None = None
    phone_number_id: str


class MessageContext(_WaModel):
    id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    forwarded: bool = False
    frequently_forwarded: bool = False


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


class ChangeValue(_WaModel):
    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)
    statuses: list[Any] = Field(default_factory=list)
    calls: list[Any] = Field(default_factory=list)
    errors: list[Any] = Field(default_factory=list)


def parse_change(field: str, value: dict[str, Any], slice_base: dict[str, Any]) -> Parsed:
    """The events of one ``changes[]`` item (a malformed one raises: the caller skips it)."""
    parsed = Parsed()
    if field not in ("messages", "calls"):
        parsed.ignore(f"whatsapp:{field}"[:120])  # template/quality/account updates, echoes, history
        return parsed
    body = ChangeValue.model_validate(value)
    envelope = {**slice_base, "metadata": value.get("metadata")}
    if field == "calls":
        each(parsed, invalid(_OBJECT, "call"), indexed("calls", body.calls),
             lambda raw, into: call_event(raw, body.metadata.phone_number_id, body.contacts, envelope, into))
        if body.statuses:
            parsed.ignore("whatsapp:calls:status", len(body.statuses))  # ringing/accepted/rejected
        return parsed
    each(parsed, invalid(_OBJECT, "message"), indexed("messages", body.messages),
         lambda raw, into: into.events.append(_message(raw, body, value, envelope)))
    each(parsed, invalid(_OBJECT, "status"), indexed("statuses", body.statuses),
         lambda raw, into: into.events.append(_status(raw, envelope)))
    if body.errors and not body.messages and not body.statuses:
        parsed.ignore("whatsapp:errors", len(body.errors))
    return parsed


def _message(raw: dict[str, Any], body: ChangeValue, value: dict[str, Any], envelope: dict[str, Any]) -> InboundEvent:
    message = WaMessage.model_validate(raw)
    contact = contact_for(message.from_, message.from_user_id, body.contacts)
    author, identifiers = author_and_identifiers(message.from_, message.from_user_id, contact)
    raw_contacts = [c for c in value.get("contacts") or [] if contact and c.get("wa_id") == contact.wa_id]
    raw_slice = {**envelope, "contacts": raw_contacts, "message": raw}
    if message.type == "revoke":  # the customer deleted a message they had sent
        original = _original_id(raw, "revoke")
        target = Interaction.make_id(Channel.WHATSAPP, original)
        return tombstone(Channel.WHATSAPP, target, original, Party(id=author.id), message.timestamp, raw_slice)
    action, message_id, target_id = Action.CREATE, message.id, None
    if message.type == "edit":
        message_id = _original_id(raw, "edit")
        inner = raw["edit"].get("message")
        if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
            raise TypeError("edit without the edited message")
        content = body_of(inner["type"], inner)
        action, target_id = Action.EDIT, Interaction.make_id(Channel.WHATSAPP, message_id)
    elif message.type == "reaction":
        content = _reaction(raw)
        action, target_id = Action.REACT, Interaction.make_id(Channel.WHATSAPP, content.content["message_id"])
    else:
        content = body_of(message.type, raw)
    interaction = _interaction(message, message_id, author, identifiers, body.metadata.phone_number_id, content)
    if action is Action.EDIT:
        interaction.metadata["edit_marker"] = message.id  # each edit has its own wamid
    return InboundEvent(action=action, source=SOURCE, event_id=message.id, interaction=interaction,
                        target_id=target_id, raw=raw_slice)


def _original_id(raw: dict[str, Any], message_type: str) -> str:
    part = raw.get(message_type)
    original = part.get("original_message_id") if isinstance(part, dict) else None
    if not isinstance(original, str) or not original:
        raise TypeError(f"{message_type} without original_message_id")
    return original


def _reaction(raw: dict[str, Any]) -> Body:
    part = raw.get("reaction")
    if not isinstance(part, dict) or not isinstance(part.get("message_id"), str):
        raise TypeError("reaction without the message it reacts to")
    emoji = part.get("emoji") or ""  # absent or empty: the customer removed their reaction
    return Body(text=emoji or None, content={"type": "reaction", "emoji": emoji, "message_id": part["message_id"]})


def _interaction(message: WaMessage, message_id: str, author: Author, identifiers: list[Identifier], account: str,
                 content: Body) -> Interaction:
    context = message.context
    metadata: dict[str, Any] = {"type": message.type}
    if context is not None and (context.forwarded or context.frequently_forwarded):
        metadata["forwarded"] = "frequently" if context.frequently_forwarded else True
    return Interaction(
        id=Interaction.make_id(Channel.WHATSAPP, message_id),
        channel=Channel.WHATSAPP,
        kind=Kind.DIRECT_MESSAGE,
        account_id=account,
        platform_message_id=message_id,
        author=author,
        text=content.text,
        occurred_at=from_epoch(message.timestamp),
        thread=ThreadRef(conversation_id=author.id, parent_id=context.id if context else None),
        attachments=content.attachments,
        identifiers=list(dict.fromkeys([*identifiers, *content.identifiers])),
        content=content.content,
        metadata=metadata,
    )


def _status(raw: dict[str, Any], envelope: dict[str, Any]) -> InboundEvent:
    status = WaStatus.model_validate(raw)
    return InboundEvent(
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
