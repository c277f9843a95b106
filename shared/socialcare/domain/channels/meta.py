"""Meta webhooks: one callback URL for Facebook Pages (feed + Messenger), Instagram and the
WhatsApp Business Account (WhatsApp parsing lives in ``channels.whatsapp``).

Facts used (docs/protocols.md, "Meta webhooks"):
* verification: ``hub.mode=subscribe`` + ``hub.verify_token`` -> the bare ``hub.challenge``;
* ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`` over the bytes as
  received (Meta escapes non-ASCII as \\uXXXX, so a re-serialisation would not match);
* up to 1000 updates per POST: ``entry[]`` then ``changes[]`` (time in s) or ``messaging[]``
  (time in ms); every one becomes its own InboundEvent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.domain.channels import whatsapp
from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed, from_epoch
from socialcare.errors import BadRequest, Forbidden, Unauthorized
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
from socialcare.signing import sha256_header_matches

SOURCE = "meta"
SIGNATURE_HEADER = "x-hub-signature-256"

# Messenger/Instagram messaging events that are not a customer's message: counted, ignored.
_NOT_MESSAGES = ("delivery", "read", "reaction", "optin", "referral", "account_linking", "policy_enforcement")
_FEED_POST_ITEMS = frozenset({"post", "status", "photo", "video", "share"})


class _MetaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Entry(_MetaModel):
    id: str
    time: int | float | None = None
    changes: list[dict[str, Any]] | None = None
    messaging: list[dict[str, Any]] | None = None
    standby: list[dict[str, Any]] | None = None


class Envelope(_MetaModel):
    object: str
    entry: list[Entry]


class Change(_MetaModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class Party(_MetaModel):
    id: str
    name: str | None = None
    username: str | None = None


class FeedValue(_MetaModel):
    """``page`` ``feed`` change: comments and visitor posts."""

    item: str
    verb: str
    post_id: str | None = None
    comment_id: str | None = None
    parent_id: str | None = None
    message: str | None = None
    created_time: int | float | datetime | None = None  # unix seconds (ISO 8601 in older payloads)
    from_: Party | None = Field(default=None, alias="from")


class IgMedia(_MetaModel):
    id: str | None = None
    media_product_type: str | None = None


class IgCommentValue(_MetaModel):
    """``instagram`` ``comments`` / ``live_comments`` change."""

    id: str
    text: str | None = None
    parent_id: str | None = None
    from_: Party = Field(alias="from")
    media: IgMedia = Field(default_factory=IgMedia)


class MessageAttachment(_MetaModel):
    type: str
    payload: dict[str, Any] | None = None


class Message(_MetaModel):
    mid: str
    text: str | None = None
    is_echo: bool = False
    is_deleted: bool = False
    attachments: list[MessageAttachment] = Field(default_factory=list)
    reply_to: dict[str, Any] | None = None
    quick_reply: dict[str, Any] | None = None


class MessageEdit(_MetaModel):
    mid: str
    text: str | None = None
    num_edit: int | None = None


class Postback(_MetaModel):
    mid: str | None = None
    title: str | None = None
    payload: str | None = None


class Messaging(_MetaModel):
    """One ``messaging[]`` item (Messenger with PSIDs, Instagram with IGSIDs)."""

    sender: Party
    recipient: Party
    timestamp: int | float
    message: Message | None = None
    message_edit: MessageEdit | None = None
    postback: Postback | None = None


# ------------------------------------------------------------------ verification and signatures


def verify_subscription(accounts: Accounts, params: Mapping[str, str]) -> str:
    """The challenge to echo when the verify token matches (403 otherwise)."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if mode != "subscribe" or challenge is None:
        raise BadRequest("hub.mode=subscribe and hub.challenge are required")
    tokens = accounts.meta_verify_tokens()  # SecretUnavailable -> 500
    matched = False
    for candidate in tokens:
        matched |= sha256_token_equal(token, candidate)
    if not matched:
        raise Forbidden("hub.verify_token does not match")
    return challenge


def sha256_token_equal(a: str, b: str) -> bool:
    # compare digests so that the comparison time depends on neither value's length
    return hmac.compare_digest(hashlib.sha256(a.encode()).digest(), hashlib.sha256(b.encode()).digest())


def verify(accounts: Accounts, body: bytes, headers: Mapping[str, str]) -> None:
    """401 unless X-Hub-Signature-256 is the HMAC of the raw body under one of our app secrets."""
    keys = accounts.meta_app_secrets()  # SecretUnavailable -> 500, nothing processed
    header = headers.get(SIGNATURE_HEADER)
    if not header:
        raise Unauthorized("missing X-Hub-Signature-256")
    if not sha256_header_matches(header, keys, body, encoding="hex"):
        raise Unauthorized("invalid X-Hub-Signature-256")


# ------------------------------------------------------------------ parser


def parse(payload: Any) -> Parsed:
    if not isinstance(payload, dict):
        raise BadRequest("Meta webhook body must be a JSON object")
    envelope = Envelope.model_validate(payload)
    parsed = Parsed()
    handler = _OBJECTS.get(envelope.object)
    if handler is None:
        parsed.ignore(f"meta:unknown_object:{envelope.object}"[:120], max(1, len(envelope.entry)))
        return parsed
    for entry in envelope.entry:
        handler(envelope.object, entry, parsed)
    return parsed


def _page(obj: str, entry: Entry, parsed: Parsed) -> None:
    for raw in entry.changes or []:
        change = Change.model_validate(raw)
        if change.field == "feed":
            _feed(obj, entry, change, raw, parsed)
        else:
            parsed.ignore(f"meta:page:{change.field}")
    _messaging(obj, Channel.MESSENGER, entry, parsed)


def _instagram(obj: str, entry: Entry, parsed: Parsed) -> None:
    for raw in entry.changes or []:
        change = Change.model_validate(raw)
        if change.field in ("comments", "live_comments"):
            _ig_comment(obj, entry, change, raw, parsed)
        else:
            parsed.ignore(f"meta:instagram:{change.field}")
    _messaging(obj, Channel.INSTAGRAM, entry, parsed)


def _whatsapp(obj: str, entry: Entry, parsed: Parsed) -> None:
    for raw in entry.changes or []:
        change = Change.model_validate(raw)
        slice_base = {"object": obj, "entry_id": entry.id, "field": change.field}
        parsed.merge(whatsapp.parse_change(change.field, change.value, slice_base))


_OBJECTS = {"page": _page, "instagram": _instagram, "whatsapp_business_account": _whatsapp}


def _identifiers(channel: Channel, author_id: str) -> list[Identifier]:
    return [Identifier(kind=IdentifierKind(channel.value), value=author_id, verified=True)]


def _when(value: int | float | datetime | None, fallback: int | float | None, *, millis: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    if value is not None:
        return from_epoch(value)
    if fallback is not None:
        return from_epoch(fallback, millis=millis)
    raise BadRequest("event has no time")


def edit_marker(time: Any, text: str | None) -> str:
    """Distinguishes successive edits of one message (and keeps a redelivered edit identical)."""
    return f"{time}:{hashlib.sha256((text or '').encode()).hexdigest()[:16]}"


def _feed(obj: str, entry: Entry, change: Change, raw: dict[str, Any], parsed: Parsed) -> None:
    value = FeedValue.model_validate(change.value)
    if value.item == "comment":
        message_id, kind = value.comment_id, Kind.COMMENT
    elif value.item in _FEED_POST_ITEMS:
        message_id, kind = value.post_id, Kind.PUBLIC_POST
    else:
        parsed.ignore(f"meta:page:feed:{value.item}")  # reactions, likes, ...: engagement
        return
    if not message_id:
        raise BadRequest(f"feed {value.item} without its id")
    if value.from_ is not None and value.from_.id == entry.id:
        parsed.ignore("meta:page:own_comment")
        return
    interaction_id = Interaction.make_id(Channel.FACEBOOK, message_id)
    raw_slice = {"object": obj, "entry_id": entry.id, "time": entry.time, **raw}
    if value.verb == "remove":
        parsed.events.append(
            _tombstone(Channel.FACEBOOK, interaction_id, message_id, value.from_, entry.time, raw_slice)
        )
        return
    if value.verb not in ("add", "edited"):
        parsed.ignore(f"meta:page:feed:{value.verb}")
        return
    if value.from_ is None:
        raise BadRequest("feed change without 'from'")
    metadata: dict[str, Any] = {"item": value.item}
    action = Action.CREATE
    if value.verb == "edited":
        action = Action.EDIT
        metadata["edit_marker"] = edit_marker(entry.time, value.message)
    interaction = Interaction(
        id=interaction_id,
        channel=Channel.FACEBOOK,
        kind=kind,
        account_id=entry.id,
        platform_message_id=message_id,
        author=Author(id=value.from_.id, name=value.from_.name),
        text=value.message,
        occurred_at=_when(value.created_time, entry.time, millis=False),
        thread=ThreadRef(
            post_id=value.post_id,
            parent_id=value.parent_id if value.parent_id != value.post_id else None,
        ),
        identifiers=_identifiers(Channel.FACEBOOK, value.from_.id),
        metadata=metadata,
    )
    parsed.events.append(
        InboundEvent(
            action=action,
            source=SOURCE,
            event_id=message_id,
            interaction=interaction,
            target_id=interaction_id if action is Action.EDIT else None,
            raw=raw_slice,
        )
    )


def _ig_comment(obj: str, entry: Entry, change: Change, raw: dict[str, Any], parsed: Parsed) -> None:
    value = IgCommentValue.model_validate(change.value)
    if value.from_.id == entry.id:
        parsed.ignore("meta:instagram:own_comment")
        return
    interaction = Interaction(
        id=Interaction.make_id(Channel.INSTAGRAM, value.id),
        channel=Channel.INSTAGRAM,
        kind=Kind.COMMENT,
        account_id=entry.id,
        platform_message_id=value.id,
        author=Author(id=value.from_.id, handle=value.from_.username, name=value.from_.name),
        text=value.text,
        occurred_at=_when(None, entry.time, millis=False),
        thread=ThreadRef(post_id=value.media.id, parent_id=value.parent_id),
        identifiers=_identifiers(Channel.INSTAGRAM, value.from_.id),
        metadata={"media_product_type": value.media.media_product_type, "field": change.field},
    )
    parsed.events.append(
        InboundEvent(
            action=Action.CREATE,
            source=SOURCE,
            event_id=value.id,
            interaction=interaction,
            raw={"object": obj, "entry_id": entry.id, "time": entry.time, **raw},
        )
    )


def _tombstone(
    channel: Channel,
    interaction_id: str,
    message_id: str,
    author: Party | None,
    time: int | float | None,
    raw: Any,
    *,
    millis: bool = False,
) -> InboundEvent:
    """A removal: carries the author (when known) only so it queues behind their earlier events."""
    interaction = None
    if author is not None:
        interaction = Interaction(
            id=interaction_id,
            channel=channel,
            kind=Kind.COMMENT if channel is Channel.FACEBOOK else Kind.DIRECT_MESSAGE,
            platform_message_id=message_id,
            author=Author(id=author.id),
            occurred_at=_when(None, time, millis=millis) if time is not None else datetime.now().astimezone(),
            metadata={"tombstone": True},
        )
    return InboundEvent(
        action=Action.DELETE,
        source=SOURCE,
        event_id=message_id,
        target_id=interaction_id,
        interaction=interaction,
        raw=raw,
    )


def _attachments(message: Message) -> list[Attachment]:
    found = []
    for att in message.attachments:
        payload = att.payload or {}
        url = payload.get("url") if isinstance(payload.get("url"), str) else None
        found.append(Attachment(type="document" if att.type == "file" else att.type, url=url))
    return found


def _messaging(obj: str, channel: Channel, entry: Entry, parsed: Parsed) -> None:
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
    if item.message is not None and item.message.is_echo:
        parsed.ignore(f"meta:{obj}:echo")  # our own send, reflected back
        return None
    if item.sender.id == entry.id:
        parsed.ignore(f"meta:{obj}:sent_by_brand")
        return None
    for key in _NOT_MESSAGES:
        if raw.get(key) is not None and item.message is None:
            parsed.ignore(f"meta:{obj}:{key}")
            return None
    occurred = from_epoch(item.timestamp, millis=True)
    if item.message is not None and item.message.is_deleted:
        target = Interaction.make_id(channel, item.message.mid)
        return _tombstone(channel, target, item.message.mid, item.sender, item.timestamp, raw_slice, millis=True)
    action = Action.CREATE
    metadata: dict[str, Any] = {}
    if item.message is not None:
        mid, text, attachments = item.message.mid, item.message.text, _attachments(item.message)
        if item.message.reply_to:
            metadata["reply_to"] = item.message.reply_to
        if item.message.quick_reply:
            metadata["quick_reply"] = item.message.quick_reply
    elif item.message_edit is not None:
        action = Action.EDIT
        mid, text, attachments = item.message_edit.mid, item.message_edit.text, []
        metadata["edit_marker"] = str(item.message_edit.num_edit or edit_marker(item.timestamp, text))
    elif item.postback is not None:
        # a button the customer tapped in our conversation: their answer, so keep it as a message
        mid = item.postback.mid or f"postback-{item.sender.id}-{item.timestamp}"
        text, attachments = item.postback.title, []
        metadata["postback_payload"] = item.postback.payload
    else:
        keys = sorted(k for k in raw if k not in ("sender", "recipient", "timestamp"))
        parsed.ignore(f"meta:{obj}:{keys[0] if keys else 'empty'}"[:120])
        return None
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
        identifiers=_identifiers(channel, item.sender.id),
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
