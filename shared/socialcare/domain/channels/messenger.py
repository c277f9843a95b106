"""Messenger and Instagram direct messages (Meta ``messaging[]`` items, also ``standby[]``).

Messages, edits, deletions, postbacks and reactions become inbound events; echoes of our own
sends, receipts (delivery, read / seen), policy notices and handover/opt-in/referral/linking
events are counted and skipped. Every item is parsed on its own (``common.each``).
"""

from __future__ import annotations

from typing import Any

from socialcare.domain.channels.common import Parsed, each, indexed
from socialcare.domain.channels.messenger_content import Body, Message, message_body
from socialcare.domain.channels.meta_common import (
    SOURCE,
    Entry,
    MetaModel,
    Party,
    edit_marker,
    epoch,
    identifiers,
    invalid,
    tombstone,
)
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

# Items that are not a customer's message, by the key that names them: counted, skipped.
# (``policy-enforcement`` is spelt with a hyphen in Meta's payloads.)
_NOT_MESSAGES = (
    "delivery", "read", "optin", "referral", "account_linking", "policy_enforcement", "policy-enforcement",
    "pass_thread_control", "take_thread_control", "request_thread_control", "app_roles", "game_play",
    "messaging_feedback", "payment", "checkout_update", "pre_checkout", "response_feedback",
)


class MessageEdit(MetaModel):
    mid: str
    text: str | None = None
    num_edit: int | None = None


class Postback(MetaModel):
    mid: str | None = None
    title: str | None = None
    payload: str | None = None
    referral: dict[str, Any] | None = None


class Reaction(MetaModel):
    mid: str
    action: str = "react"
    emoji: str | None = None
    reaction: str | None = None


class Messaging(MetaModel):
    """One ``messaging[]`` item (Messenger with PSIDs or user_refs, Instagram with IGSIDs)."""

    sender: Party
    recipient: Party | None = None
    timestamp: int | float | str | None = None
    message: Message | None = None
    message_edit: MessageEdit | None = None
    postback: Postback | None = None
    reaction: Reaction | None = None


def messaging(obj: str, channel: Channel, entry: Entry, parsed: Parsed) -> None:
    """Every ``messaging[]`` item of one entry; ``standby[]`` (another app owns the thread under
    the handover protocol: it answers, we do not) is counted."""
    if entry.standby:
        parsed.ignore(f"meta:{obj}:standby", len(entry.standby))

    def one(raw: Any, into: Parsed) -> None:
        _item(obj, channel, entry, raw, into)

    each(parsed, invalid(obj, "messaging"), indexed("messaging", entry.messaging or []), one)


def _item(obj: str, channel: Channel, entry: Entry, raw: dict[str, Any], parsed: Parsed) -> None:
    if not isinstance(raw, dict):
        raise TypeError("messaging item is not an object")
    keys = set(raw) - {"sender", "recipient", "timestamp"}
    if not keys & {"message", "message_edit", "postback", "reaction"}:
        skipped = next((k for k in _NOT_MESSAGES if k in keys), None) or (min(keys) if keys else "empty")
        parsed.ignore(f"meta:{obj}:{skipped.replace('-', '_')}"[:120])
        return
    item = Messaging.model_validate(raw)
    if item.message is not None and item.message.is_echo:
        parsed.ignore(f"meta:{obj}:echo")  # our own send, reflected back
        return
    if item.sender.id is not None and item.sender.id == entry.id:
        parsed.ignore(f"meta:{obj}:sent_by_brand")
        return
    time = item.timestamp if item.timestamp is not None else entry.time
    if time is None:
        raise ValueError("messaging item without a time")
    raw_slice = {"object": obj, "entry_id": entry.id, "time": entry.time, "messaging": raw}
    parsed.events.append(_event(channel, entry, item, time, raw_slice))


def _event(channel: Channel, entry: Entry, item: Messaging, time: int | float | str,
           raw_slice: dict[str, Any]) -> InboundEvent:
    if item.message is not None and item.message.is_deleted:
        target = Interaction.make_id(channel, item.message.mid)
        return tombstone(channel, target, item.message.mid, item.sender, float(time), raw_slice,
                         millis=True)
    action, mid, body, target_id = _content(channel, item, time)
    interaction = Interaction(
        id=Interaction.make_id(channel, mid),
        channel=channel,
        kind=Kind.DIRECT_MESSAGE,
        account_id=entry.id,
        platform_message_id=mid,
        author=Author(id=item.sender.key),
        text=body.text,
        occurred_at=epoch(time, millis=True),
        thread=ThreadRef(conversation_id=item.sender.key, parent_id=body.parent_id),
        attachments=body.attachments,
        identifiers=identifiers(channel, item.sender.key),
        content=body.content,
        metadata=body.metadata,
    )
    return InboundEvent(
        action=action, source=SOURCE, event_id=mid, interaction=interaction, target_id=target_id, raw=raw_slice
    )


def _content(channel: Channel, item: Messaging, time: int | float | str) -> tuple[Action, str, Body, str | None]:
    """(action, message id, body, target interaction id) of a message, edit, postback or reaction."""
    if item.message is not None:
        return Action.CREATE, item.message.mid, message_body(item.message), None
    if item.message_edit is not None:
        edit = item.message_edit
        marker = str(edit.num_edit) if edit.num_edit is not None else edit_marker(time, edit.text)
        return Action.EDIT, edit.mid, Body(text=edit.text, metadata={"edit_marker": marker}), \
            Interaction.make_id(channel, edit.mid)
    if item.postback is not None:
        # a button the customer tapped in our conversation: their answer, so keep it as a message
        postback = item.postback
        content: dict[str, Any] = {"type": "postback", "title": postback.title, "payload": postback.payload}
        if postback.referral:
            content["referral"] = postback.referral
        mid = postback.mid or f"postback-{item.sender.key}-{time}"
        text = postback.title or postback.payload or "Tapped a button"
        body = Body(text=text, content=content, metadata={"postback_payload": postback.payload})
        return Action.CREATE, mid, body, None
    reaction = item.reaction
    if reaction is None:  # _item only passes items with one of the four keys
        raise ValueError("messaging item without content")
    emoji = (reaction.emoji or "") if reaction.action == "react" else ""
    content = {"type": "reaction", "emoji": emoji, "reaction": reaction.reaction, "action": reaction.action,
               "message_id": reaction.mid}
    own_id = f"{reaction.mid}#reaction-{item.sender.key}-{time}"
    return Action.REACT, own_id, Body(text=emoji or None, content=content), Interaction.make_id(channel, reaction.mid)
