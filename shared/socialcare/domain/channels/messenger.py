"""Messenger and Instagram direct messages (Meta ``messaging[]`` items): messages, edits,
deletions and postbacks become inbound events; echoes of our own sends, delivery and read
receipts, reactions and the like are counted and ignored."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from socialcare.domain.channels.common import Parsed, from_epoch
from socialcare.domain.channels.meta_common import (
    SOURCE,
    Entry,
    MetaModel,
    Party,
    edit_marker,
    identifiers,
    tombstone,
)
from socialcare.models.interaction import (
    Action,
    Attachment,
    Author,
    Channel,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

# Messenger/Instagram messaging events that are not a customer's message: counted, ignored.
_NOT_MESSAGES = ("delivery", "read", "reaction", "optin", "referral", "account_linking", "policy_enforcement")


class MessageAttachment(MetaModel):
    type: str
    payload: dict[str, Any] | None = None


class Message(MetaModel):
    mid: str
    text: str | None = None
    is_echo: bool = False
    is_deleted: bool = False
    attachments: list[MessageAttachment] = Field(default_factory=list)
    reply_to: dict[str, Any] | None = None
    quick_reply: dict[str, Any] | None = None


class MessageEdit(MetaModel):
    mid: str
    text: str | None = None
    num_edit: int | None = None


class Postback(MetaModel):
    mid: str | None = None
    title: str | None = None
    payload: str | None = None


class Messaging(MetaModel):
    """One ``messaging[]`` item (Messenger with PSIDs, Instagram with IGSIDs)."""

    sender: Party
    recipient: Party
    timestamp: int | float
    message: Message | None = None
    message_edit: MessageEdit | None = None
    postback: Postback | None = None


def _attachments(message: Message) -> list[Attachment]:
    found = []
    for att in message.attachments:
        payload = att.payload or {}
        url = payload.get("url") if isinstance(payload.get("url"), str) else None
        found.append(Attachment(type="document" if att.type == "file" else att.type, url=url))
    return found


def messaging(obj: str, channel: Channel, entry: Entry, parsed: Parsed) -> None:
    """Every ``messaging[]`` item of one entry (Messenger with PSIDs, Instagram with IGSIDs)."""
    if entry.standby:
        # another app owns the thread (handover protocol): it answers, we do not
        parsed.ignore(f"meta:{obj}:standby", len(entry.standby))
    for raw in entry.messaging or []:
        item = Messaging.model_validate(raw)
        raw_slice = {"object": obj, "entry_id": entry.id, "time": entry.time, "messaging": raw}
        event = _messaging_event(obj, channel, entry, item, raw, raw_slice, parsed)
        if event is not None:
            parsed.events.append(event)


def _messaging_event(
    obj: str,
    channel: Channel,
    entry: Entry,
    item: Messaging,
    raw: dict[str, Any],
    raw_slice: dict[str, Any],
    parsed: Parsed,
) -> InboundEvent | None:
    skipped = _not_a_message(obj, entry, item, raw)
    if skipped is not None:
        parsed.ignore(skipped)
        return None
    occurred = from_epoch(item.timestamp, millis=True)
    if item.message is not None and item.message.is_deleted:
        target = Interaction.make_id(channel, item.message.mid)
        return tombstone(channel, target, item.message.mid, item.sender, item.timestamp, raw_slice, millis=True)
    content = _content(item)
    if content is None:
        keys = sorted(k for k in raw if k not in ("sender", "recipient", "timestamp"))
        parsed.ignore(f"meta:{obj}:{keys[0] if keys else 'empty'}"[:120])
        return None
    action, mid, text, attachments, metadata = content
    interaction_id = Interaction.make_id(channel, mid)
    interaction = Interaction(
        id=interaction_id,
        channel=channel,
        kind=Kind.DIRECT_MESSAGE,
        account_id=entry.id,
        platform_message_id=mid,
        author=Author(id=item.sender.id),
        text=text,
        occurred_at=occurred,
        thread=ThreadRef(conversation_id=item.sender.id),
        attachments=attachments,
        identifiers=identifiers(channel, item.sender.id),
        metadata=metadata,
    )
    return InboundEvent(
        action=action,
        source=SOURCE,
        event_id=mid,
        interaction=interaction,
        target_id=interaction_id if action is Action.EDIT else None,
        raw=raw_slice,
    )


def _not_a_message(obj: str, entry: Entry, item: Messaging, raw: dict[str, Any]) -> str | None:
    """Why this item is not a customer's message (the reason it is counted under), or None."""
    if item.message is not None and item.message.is_echo:
        return f"meta:{obj}:echo"  # our own send, reflected back
    if item.sender.id == entry.id:
        return f"meta:{obj}:sent_by_brand"
    for key in _NOT_MESSAGES:
        if raw.get(key) is not None and item.message is None:
            return f"meta:{obj}:{key}"
    return None


def _content(item: Messaging) -> tuple[Action, str, str | None, list[Attachment], dict[str, Any]] | None:
    """(action, message id, text, attachments, metadata) of a message, an edit or a postback."""
    metadata: dict[str, Any] = {}
    if item.message is not None:
        if item.message.reply_to:
            metadata["reply_to"] = item.message.reply_to
        if item.message.quick_reply:
            metadata["quick_reply"] = item.message.quick_reply
        return Action.CREATE, item.message.mid, item.message.text, _attachments(item.message), metadata
    if item.message_edit is not None:
        text = item.message_edit.text
        metadata["edit_marker"] = str(item.message_edit.num_edit or edit_marker(item.timestamp, text))
        return Action.EDIT, item.message_edit.mid, text, [], metadata
    if item.postback is not None:
        # a button the customer tapped in our conversation: their answer, so keep it as a message
        metadata["postback_payload"] = item.postback.payload
        mid = item.postback.mid or f"postback-{item.sender.id}-{item.timestamp}"
        return Action.CREATE, mid, item.postback.title, [], metadata
    return None
