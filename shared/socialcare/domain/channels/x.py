"""X (Twitter): Account Activity webhook (CRC, signatures, payload models, parser). The API v2
objects the poller reads are mapped in ``x_api``; both produce the *same* ``Interaction.id``
("x:<tweet id | DM event id>") and therefore the same SQS dedupe id.

Facts used (docs/protocols.md, "X Account Activity API"):
* CRC: response_token = "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token));
* POST: ``x-twitter-webhooks-signature`` = "sha256=" + base64(HMAC-SHA256(consumer secret, raw body)),
  and ``x-twitter-webhooks-signature-oauth2`` keyed by the OAuth 2.0 client secret;
* ids exceed 2**53, so only string forms are used.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed, from_epoch
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
from socialcare.signing import hmac_sha256, sha256_header_matches

SOURCE = "x"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
OAUTH2_SIGNATURE_HEADER = "x-twitter-webhooks-signature-oauth2"

# Activity keys that are engagement or housekeeping, never a customer message: counted, ignored.
ENGAGEMENT_KEYS = frozenset(
    {
        "favorite_events",
        "follow_events",
        "unfollow_events",
        "block_events",
        "unblock_events",
        "mute_events",
        "unmute_events",
        "user_event",
        "direct_message_indicate_typing_events",
        "direct_message_mark_read_events",
    }
)
_ENVELOPE_KEYS = frozenset({"for_user_id", "user_has_blocked", "users", "apps", "source"})


class _XModel(BaseModel):
    # ids sometimes arrive as numbers in hand-made or older payloads; we only ever keep strings
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class XUser(_XModel):
    id_str: str | None = None
    id: str | None = None
    name: str | None = None
    screen_name: str | None = None
    followers_count: int | None = None

    @property
    def user_id(self) -> str:
        return self.id_str or self.id or ""


class ExtendedTweet(_XModel):
    full_text: str | None = None


class UserMention(_XModel):
    id_str: str | None = None
    screen_name: str | None = None


class TweetEntities(_XModel):
    user_mentions: list[UserMention] = Field(default_factory=list)


class Tweet(_XModel):
    """A v1.1 Tweet object as delivered in ``tweet_create_events``."""

    id_str: str
    text: str | None = None
    full_text: str | None = None
    truncated: bool = False
    extended_tweet: ExtendedTweet | None = None
    created_at: str | None = None
    timestamp_ms: int | None = None
    user: XUser
    lang: str | None = None
    in_reply_to_status_id_str: str | None = None
    in_reply_to_user_id_str: str | None = None
    is_quote_status: bool = False
    quoted_status_id_str: str | None = None
    retweeted_status: dict[str, Any] | None = None
    entities: TweetEntities = Field(default_factory=TweetEntities)

    @property
    def best_text(self) -> str | None:
        if self.extended_tweet is not None and self.extended_tweet.full_text:
            return self.extended_tweet.full_text
        return self.full_text or self.text


class DMTarget(_XModel):
    recipient_id: str


class DMMedia(_XModel):
    id_str: str | None = None
    media_url_https: str | None = None
    type: str | None = None


class DMAttachment(_XModel):
    type: str | None = None
    media: DMMedia | None = None


class DMData(_XModel):
    text: str | None = None
    attachment: DMAttachment | None = None


class DMCreate(_XModel):
    target: DMTarget
    sender_id: str
    message_data: DMData = Field(default_factory=DMData)


class DMEvent(_XModel):
    type: str
    id: str
    created_timestamp: int  # milliseconds, sent as a string
    message_create: DMCreate | None = None


class DeletedStatus(_XModel):
    id: str
    user_id: str


class TweetDelete(_XModel):
    status: DeletedStatus
    timestamp_ms: int | None = None


class Activity(_XModel):
    """The Account Activity envelope: ``for_user_id`` plus one kind of event list."""

    for_user_id: str
    tweet_create_events: list[Tweet] | None = None
    direct_message_events: list[DMEvent] | None = None
    tweet_delete_events: list[TweetDelete] | None = None
    users: dict[str, XUser] = Field(default_factory=dict)


# ------------------------------------------------------------------ CRC and signatures


def crc_response(accounts: Accounts, crc_token: str, app_key: str | None = None) -> dict[str, str]:
    """The CRC answer, keyed with the app's CRC secret (consumer or OAuth 2.0 client secret)."""
    if not crc_token:
        raise BadRequest("crc_token is required")
    app = accounts.x_app_for(app_key)
    digest = hmac_sha256(app.crc_secret, crc_token.encode("utf-8"))
    return {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def verify(accounts: Accounts, body: bytes, headers: Mapping[str, str]) -> set[str]:
    """The keys of the configured apps whose secret signed ``body`` (401 when none did)."""
    apps = accounts.x_apps()  # SecretUnavailable -> 500 before anything is read
    consumer_sig = headers.get(SIGNATURE_HEADER)
    oauth2_sig = headers.get(OAUTH2_SIGNATURE_HEADER)
    if not consumer_sig and not oauth2_sig:
        raise Unauthorized("missing x-twitter-webhooks-signature")
    signed_by = set()
    for key, app in apps.items():
        ok = bool(app.consumer_secret) and sha256_header_matches(
            consumer_sig, [app.consumer_secret or ""], body, encoding="base64"
        )
        ok |= bool(app.oauth2_client_secret) and sha256_header_matches(
            oauth2_sig, [app.oauth2_client_secret or ""], body, encoding="base64"
        )
        if ok:
            signed_by.add(key)
    if not signed_by:
        raise Unauthorized("invalid x-twitter-webhooks-signature")
    return signed_by


def check_account(accounts: Accounts, for_user_id: str | None, signed_by: set[str]) -> None:
    """An account with its own app entry only accepts events signed by that app's secret, so one
    brand's app cannot write events into another brand account."""
    apps = accounts.x_apps()
    if for_user_id in apps and for_user_id not in signed_by:
        raise Unauthorized("signature does not belong to the app of for_user_id")


# ------------------------------------------------------------------ webhook parser


def brand_ids(brand_x_ids: frozenset[str], for_user_id: str | None = None) -> frozenset[str]:
    ids = set(brand_x_ids)
    if for_user_id:
        ids.add(for_user_id)
    return frozenset(ids)


def _tweet_time(tweet: Tweet) -> datetime:
    if tweet.timestamp_ms:
        return from_epoch(tweet.timestamp_ms, millis=True)
    if tweet.created_at:
        return datetime.strptime(tweet.created_at, "%a %b %d %H:%M:%S %z %Y")
    raise BadRequest(f"tweet {tweet.id_str} has no time")


def x_identifier(user_id: str) -> list[Identifier]:
    return [Identifier(kind=IdentifierKind.X, value=user_id, verified=True)]


def tweet_interaction(tweet: Tweet, for_user_id: str) -> Interaction:
    kind = Kind.PUBLIC_REPLY if tweet.in_reply_to_status_id_str else Kind.PUBLIC_POST
    metadata: dict[str, Any] = {
        "via": "webhook",
        "mentions": [m.screen_name for m in tweet.entities.user_mentions if m.screen_name],
    }
    if tweet.quoted_status_id_str:
        metadata["quoted_tweet_id"] = tweet.quoted_status_id_str
    if tweet.in_reply_to_user_id_str:
        metadata["in_reply_to_user_id"] = tweet.in_reply_to_user_id_str
    user = tweet.user
    return Interaction(
        id=Interaction.make_id(Channel.X, tweet.id_str),
        channel=Channel.X,
        kind=kind,
        account_id=for_user_id,
        platform_message_id=tweet.id_str,
        author=Author(
            id=user.user_id, handle=user.screen_name, name=user.name, followers=user.followers_count
        ),
        text=tweet.best_text,
        language=tweet.lang if tweet.lang and tweet.lang != "und" else None,
        occurred_at=_tweet_time(tweet),
        thread=ThreadRef(parent_id=tweet.in_reply_to_status_id_str),
        identifiers=x_identifier(user.user_id),
        metadata=metadata,
    )


def dm_conversation_id(a: str, b: str) -> str:
    """X's one-to-one DM conversation id: both participant ids, smaller first."""
    low, high = sorted((a, b), key=lambda v: (len(v), v))
    return f"{low}-{high}"


def dm_interaction(event: DMEvent, users: Mapping[str, XUser], for_user_id: str) -> Interaction:
    create = event.message_create
    assert create is not None  # checked by the caller
    sender = users.get(create.sender_id)
    attachments: list[Attachment] = []
    media = create.message_data.attachment.media if create.message_data.attachment else None
    if media is not None:
        attachments.append(
            Attachment(type="image" if media.type == "photo" else media.type or "media", url=media.media_url_https)
        )
    return Interaction(
        id=Interaction.make_id(Channel.X, event.id),
        channel=Channel.X,
        kind=Kind.DIRECT_MESSAGE,
        account_id=for_user_id,
        platform_message_id=event.id,
        author=Author(
            id=create.sender_id,
            handle=sender.screen_name if sender else None,
            name=sender.name if sender else None,
            followers=sender.followers_count if sender else None,
        ),
        text=create.message_data.text,
        occurred_at=from_epoch(event.created_timestamp, millis=True),
        thread=ThreadRef(conversation_id=dm_conversation_id(create.sender_id, create.target.recipient_id)),
        attachments=attachments,
        identifiers=x_identifier(create.sender_id),
        metadata={"via": "webhook"},
    )


def delete_event(deleted: TweetDelete, raw: Any) -> InboundEvent:
    """A tombstone: the processor marks the stored tweet deleted and drops its text (X terms).

    It carries a minimal interaction only so that it travels in its author's message group,
    behind that author's earlier events (FIFO order per group).
    """
    status = deleted.status
    when = from_epoch(deleted.timestamp_ms, millis=True) if deleted.timestamp_ms else datetime.now().astimezone()
    interaction_id = Interaction.make_id(Channel.X, status.id)
    return InboundEvent(
        action=Action.DELETE,
        source=SOURCE,
        event_id=status.id,
        target_id=interaction_id,
        interaction=Interaction(
            id=interaction_id,
            channel=Channel.X,
            kind=Kind.PUBLIC_POST,
            platform_message_id=status.id,
            author=Author(id=status.user_id),
            occurred_at=when,
            metadata={"tombstone": True},
        ),
        raw=raw,
    )


def parse(payload: Any, brand_x_ids: frozenset[str]) -> Parsed:
    """Split one Account Activity POST into inbound events (ValidationError -> 400).

    ``brand_x_ids``: the brand's own X accounts, whose tweets and DMs are never customer messages
    (the subscribed account, ``for_user_id``, always is one)."""
    if not isinstance(payload, dict):
        raise BadRequest("X activity must be a JSON object")
    activity = Activity.model_validate(payload)
    parsed = Parsed(account=activity.for_user_id)
    brands = brand_ids(brand_x_ids, activity.for_user_id)
    raw_tweets = payload.get("tweet_create_events") or []
    for tweet, raw in zip(activity.tweet_create_events or [], raw_tweets, strict=True):
        if tweet.user.user_id in brands:
            parsed.ignore("x:own_tweet")
        elif tweet.retweeted_status is not None:
            parsed.ignore("x:retweet")  # amplification, not something the customer said to us
        else:
            interaction = tweet_interaction(tweet, activity.for_user_id)
            parsed.events.append(
                InboundEvent(
                    action=Action.CREATE, source=SOURCE, event_id=tweet.id_str, interaction=interaction, raw=raw
                )
            )
    raw_dms = payload.get("direct_message_events") or []
    for dm, raw in zip(activity.direct_message_events or [], raw_dms, strict=True):
        if dm.type != "message_create" or dm.message_create is None:
            parsed.ignore(f"x:dm:{dm.type}")
        elif dm.message_create.sender_id in brands:
            parsed.ignore("x:dm_sent_by_brand")
        else:
            sender = dm.message_create.sender_id
            raw_slice = {"event": raw, "users": {sender: payload.get("users", {}).get(sender)}}
            parsed.events.append(
                InboundEvent(
                    action=Action.CREATE,
                    source=SOURCE,
                    event_id=dm.id,
                    interaction=dm_interaction(dm, activity.users, activity.for_user_id),
                    raw=raw_slice,
                )
            )
    raw_deletes = payload.get("tweet_delete_events") or []
    for deleted, raw in zip(activity.tweet_delete_events or [], raw_deletes, strict=True):
        parsed.events.append(delete_event(deleted, raw))
    handled = {"tweet_create_events", "direct_message_events", "tweet_delete_events"}
    for key, value in payload.items():
        if key in handled or key in _ENVELOPE_KEYS:
            continue
        n = len(value) if isinstance(value, list) else 1
        parsed.ignore(f"x:{key}" if key in ENGAGEMENT_KEYS else f"x:unknown:{key}", n)
    return parsed
