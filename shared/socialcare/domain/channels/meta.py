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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from socialcare.domain.channels import whatsapp
from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed
from socialcare.domain.channels.messenger import messaging
from socialcare.domain.channels.meta_common import (
    SOURCE,
    Entry,
    MetaModel,
    Party,
    edit_marker,
    identifiers,
    tombstone,
    when,
)
from socialcare.errors import BadRequest, Forbidden, Unauthorized
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)
from socialcare.signing import sha256_header_matches, token_matches

SIGNATURE_HEADER = "x-hub-signature-256"

_FEED_POST_ITEMS = frozenset({"post", "status", "photo", "video", "share"})


class Envelope(MetaModel):
    object: str
    entry: list[Entry]


class Change(MetaModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class FeedValue(MetaModel):
    """``page`` ``feed`` change: comments and visitor posts."""

    item: str
    verb: str
    post_id: str | None = None
    comment_id: str | None = None
    parent_id: str | None = None
    message: str | None = None
    created_time: int | float | datetime | None = None  # unix seconds (ISO 8601 in older payloads)
    from_: Party | None = Field(default=None, alias="from")


class IgMedia(MetaModel):
    id: str | None = None
    media_product_type: str | None = None


class IgCommentValue(MetaModel):
    """``instagram`` ``comments`` / ``live_comments`` change."""

    id: str
    text: str | None = None
    parent_id: str | None = None
    from_: Party = Field(alias="from")
    media: IgMedia = Field(default_factory=IgMedia)


# ------------------------------------------------------------------ verification and signatures


def verify_subscription(accounts: Accounts, params: Mapping[str, str]) -> str:
    """The challenge to echo when the verify token matches (403 otherwise)."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if mode != "subscribe" or challenge is None:
        raise BadRequest("hub.mode=subscribe and hub.challenge are required")
    tokens = accounts.meta_verify_tokens()  # SecretUnavailable -> 500
    if not token_matches(token, tokens):
        raise Forbidden("hub.verify_token does not match")
    return challenge


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


def _changes(obj: str, entry: Entry, parsed: Parsed, fields: tuple[str, ...], handle: Any) -> None:
    """The entry's ``changes[]``: ``fields`` go to ``handle``, the rest are counted and ignored."""
    for raw in entry.changes or []:
        change = Change.model_validate(raw)
        if change.field in fields:
            handle(obj, entry, change, raw, parsed)
        else:
            parsed.ignore(f"meta:{obj}:{change.field}")


def _page(obj: str, entry: Entry, parsed: Parsed) -> None:
    _changes(obj, entry, parsed, ("feed",), _feed)
    messaging(obj, Channel.MESSENGER, entry, parsed)


def _instagram(obj: str, entry: Entry, parsed: Parsed) -> None:
    _changes(obj, entry, parsed, ("comments", "live_comments"), _ig_comment)
    messaging(obj, Channel.INSTAGRAM, entry, parsed)


def _whatsapp(obj: str, entry: Entry, parsed: Parsed) -> None:
    for raw in entry.changes or []:
        change = Change.model_validate(raw)
        slice_base = {"object": obj, "entry_id": entry.id, "field": change.field}
        parsed.merge(whatsapp.parse_change(change.field, change.value, slice_base))


_OBJECTS = {"page": _page, "instagram": _instagram, "whatsapp_business_account": _whatsapp}


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
            tombstone(Channel.FACEBOOK, interaction_id, message_id, value.from_, entry.time, raw_slice)
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
        occurred_at=when(value.created_time, entry.time, millis=False),
        thread=ThreadRef(
            post_id=value.post_id,
            parent_id=value.parent_id if value.parent_id != value.post_id else None,
        ),
        identifiers=identifiers(Channel.FACEBOOK, value.from_.id),
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
        occurred_at=when(None, entry.time, millis=False),
        thread=ThreadRef(post_id=value.media.id, parent_id=value.parent_id),
        identifiers=identifiers(Channel.INSTAGRAM, value.from_.id),
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


