"""X Account Activity events (the v1.1-shaped ``for_user_id`` envelope) to inbound events.

Every documented activity is handled deliberately (docs/channels.md, "X"):

* ``tweet_create_events``: mentions, replies, quote posts, posts with media -> stored; the
  brand's own posts and retweets -> counted (``x:own_tweet``, ``x:retweet``);
* ``direct_message_events``: a customer's DM (text, media, quick-reply answer, welcome-message
  start) -> stored; the brand's own DMs -> ``x:dm_sent_by_brand``;
* ``tweet_delete_events`` -> ``Action.DELETE`` of the stored post;
* likes, follows/unfollows, blocks, mutes, typing and read indicators -> counted engagement;
* ``user_event`` (the account revoked the app: sent without ``for_user_id``) and replay job
  notices -> counted under ``x:<key>:<what>``, nothing a customer wrote.

Each event is validated on its own (``common.each``): a malformed one is counted under
``x:invalid:<key>`` and the others are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from socialcare.domain.channels.common import Parsed, each, from_epoch, indexed
from socialcare.domain.channels.x_models import (
    DMEvent,
    Tweet,
    TweetDelete,
    XUser,
    brand_ids,
    dm_conversation_id,
    media_attachments,
    x_identifier,
)
from socialcare.errors import BadRequest
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

SOURCE = "x"

# Lists of engagement or housekeeping events: never a customer message, counted per key.
ENGAGEMENT_KEYS = frozenset(
    {
        "favorite_events",
        "follow_events",
        "unfollow_events",
        "block_events",
        "unblock_events",
        "mute_events",
        "unmute_events",
        "direct_message_indicate_typing_events",
        "direct_message_mark_read_events",
    }
)
# About the subscription itself, sent without for_user_id: counted as x:<key>:<what>.
SYSTEM_KEYS = frozenset({"user_event", "replay_event", "replay_job_status"})
ENVELOPE_KEYS = frozenset({"for_user_id", "user_has_blocked", "is_blocked_by", "users", "apps", "source", "target"})
MESSAGE_KEYS = frozenset({"tweet_create_events", "direct_message_events", "tweet_delete_events"})


@dataclass
class Context:
    """What every event of one POST shares: the subscribed account, the brand's ids, the users."""

    account: str
    brands: frozenset[str]
    users: dict[str, XUser] = field(default_factory=dict)
    raw_users: Mapping[str, Any] = field(default_factory=dict)


def users_of(raw: Any) -> dict[str, XUser]:
    """The ``users`` map; an entry no model accepts only costs that user's name."""
    users: dict[str, XUser] = {}
    for key, value in (raw.items() if isinstance(raw, dict) else []):
        try:
            users[str(key)] = XUser.model_validate(value)
        except ValidationError:
            continue
    return users


# ------------------------------------------------------------------ posts


def _tweet_time(tweet: Tweet) -> datetime:
    if tweet.timestamp_ms:
        return from_epoch(tweet.timestamp_ms, millis=True)
    if tweet.created_at:
        return datetime.strptime(tweet.created_at, "%a %b %d %H:%M:%S %z %Y")
    raise BadRequest(f"tweet {tweet.id_str} has no time")


def _quote(tweet: Tweet) -> dict[str, Any]:
    """What the customer quoted, for the agent: the quoted post's id, author and text."""
    quoted = tweet.quoted_status or {}
    inner = Tweet.model_validate(quoted) if quoted.get("user") else None
    return {
        "type": "quote",
        "tweet_id": tweet.quoted_status_id_str or (inner.id_str if inner else None),
        "author": inner.user.screen_name if inner else None,
        "text": inner.best_text if inner else None,
    }


def tweet_interaction(tweet: Tweet, for_user_id: str, *, blocked: bool = False) -> Interaction:
    kind = Kind.PUBLIC_REPLY if tweet.in_reply_to_status_id_str else Kind.PUBLIC_POST
    metadata: dict[str, Any] = {
        "via": "webhook",
        "mentions": [m.screen_name for m in tweet.entities.user_mentions if m.screen_name],
    }
    if tweet.quoted_status_id_str:
        metadata["quoted_tweet_id"] = tweet.quoted_status_id_str
    if tweet.in_reply_to_user_id_str:
        metadata["in_reply_to_user_id"] = tweet.in_reply_to_user_id_str
    if blocked:
        metadata["author_blocked_by_brand"] = True
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
        attachments=media_attachments(tweet.media),
        identifiers=x_identifier(user.user_id),
        content=_quote(tweet) if tweet.is_quote_status and (tweet.quoted_status or tweet.quoted_status_id_str) else {},
        metadata=metadata,
    )


def on_tweet(ctx: Context, raw: Any, parsed: Parsed, *, blocked: bool = False) -> None:
    tweet = Tweet.model_validate(raw)
    if not tweet.user.user_id:
        raise BadRequest(f"tweet {tweet.id_str} has no author id")
    if tweet.user.user_id in ctx.brands:
        parsed.ignore("x:own_tweet")
    elif tweet.retweeted_status is not None:
        parsed.ignore("x:retweet")  # amplification, not something the customer said to us
    else:
        interaction = tweet_interaction(tweet, ctx.account, blocked=blocked)
        parsed.events.append(
            InboundEvent(action=Action.CREATE, source=SOURCE, event_id=tweet.id_str, interaction=interaction, raw=raw)
        )


# ------------------------------------------------------------------ direct messages


def dm_interaction(
    event: DMEvent, users: Mapping[str, XUser], for_user_id: str, *, via: str = "webhook"
) -> Interaction:
    create = event.message_create
    if create is None:
        raise BadRequest(f"DM {event.id} has no message_create")
    data = create.message_data
    sender = users.get(create.sender_id)
    media = data.attachment.media if data.attachment else None
    content: dict[str, Any] = {}
    if data.quick_reply_response is not None:
        # the customer tapped an option the brand offered: text is its label, metadata its id
        content = {"type": "quick_reply", "option": data.quick_reply_response.metadata}
    metadata: dict[str, Any] = {"via": via}
    if event.initiated_via is not None:
        metadata.update({f"initiated_via_{k}": v for k, v in event.initiated_via.model_dump().items() if v})
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
        text=data.text,
        occurred_at=from_epoch(event.created_timestamp, millis=True),
        thread=ThreadRef(conversation_id=dm_conversation_id(create.sender_id, create.target.recipient_id)),
        attachments=media_attachments([media] if media is not None else []),
        identifiers=x_identifier(create.sender_id),
        content=content,
        metadata=metadata,
    )


def on_dm(ctx: Context, raw: Any, parsed: Parsed, *, via: str = "webhook") -> None:
    dm = DMEvent.model_validate(raw)
    if dm.type != "message_create" or dm.message_create is None:
        parsed.ignore(f"x:dm:{dm.type}"[:60])
        return
    sender = dm.message_create.sender_id
    if sender in ctx.brands:
        parsed.ignore("x:dm_sent_by_brand")
        return
    raw_slice = {"event": raw, "users": {sender: ctx.raw_users.get(sender)}}
    parsed.events.append(
        InboundEvent(
            action=Action.CREATE, source=SOURCE, event_id=dm.id,
            interaction=dm_interaction(dm, ctx.users, ctx.account, via=via), raw=raw_slice,
        )
    )


# ------------------------------------------------------------------ deletes


def delete_event(status_id: str, author_id: str, when: datetime | None, raw: Any) -> InboundEvent:
    """A tombstone: the processor marks the stored post deleted and drops its text (X terms).

    It carries a minimal interaction only so that it travels in its author's message group,
    behind that author's earlier events (FIFO order per group).
    """
    interaction_id = Interaction.make_id(Channel.X, status_id)
    return InboundEvent(
        action=Action.DELETE,
        source=SOURCE,
        event_id=status_id,
        target_id=interaction_id,
        interaction=Interaction(
            id=interaction_id,
            channel=Channel.X,
            kind=Kind.PUBLIC_POST,
            platform_message_id=status_id,
            author=Author(id=author_id),
            occurred_at=when or datetime.now().astimezone(),
            metadata={"tombstone": True},
        ),
        raw=raw,
    )


def on_delete(raw: Any, parsed: Parsed) -> None:
    deleted = TweetDelete.model_validate(raw)
    when = from_epoch(deleted.timestamp_ms, millis=True) if deleted.timestamp_ms else None
    parsed.events.append(delete_event(deleted.status.id, deleted.status.user_id, when, raw))


# ------------------------------------------------------------------ the envelope


def _system_reason(key: str, value: Any) -> str:
    """``x:user_event:revoke``, ``x:replay_job_status:incomplete``: what the notice was about."""
    if key == "replay_job_status" and isinstance(value, dict):
        state = str(value.get("job_state", "")).lower()
        return f"x:{key}:{state}" if state in ("complete", "incomplete") else f"x:{key}"
    if isinstance(value, dict) and len(value) == 1:
        (what,) = value
        if str(what).isidentifier():
            return f"x:{key}:{str(what)[:40]}"
    return f"x:{key}"


def _account(payload: dict[str, Any]) -> str | None:
    value = payload.get("for_user_id")
    if value is None or value == "":
        keys = sorted(k for k in payload if k in MESSAGE_KEYS or k in ENGAGEMENT_KEYS)
        if keys:
            raise BadRequest(f"for_user_id is required with {keys[0]}")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise BadRequest("for_user_id must be a user id")
    return str(value)


def parse_activity(payload: dict[str, Any], brand_x_ids: frozenset[str]) -> Parsed:
    """Split one Account Activity POST into inbound events; 400 only for an envelope without the
    account its events belong to."""
    account = _account(payload)
    parsed = Parsed(account=account)
    raw_users = payload.get("users")
    ctx = Context(
        account=account or "", brands=brand_ids(brand_x_ids, account), users=users_of(raw_users),
        raw_users=raw_users if isinstance(raw_users, dict) else {},
    )
    blocked = any(str(payload.get(k, "")).lower() == "true" for k in ("user_has_blocked", "is_blocked_by"))
    for key, value in payload.items():
        if key == "tweet_create_events":
            each(parsed, f"x:invalid:{key}", indexed(key, value),
                 lambda raw, own: on_tweet(ctx, raw, own, blocked=blocked))
        elif key == "direct_message_events":
            each(parsed, f"x:invalid:{key}", indexed(key, value), lambda raw, own: on_dm(ctx, raw, own))
        elif key == "tweet_delete_events":
            each(parsed, f"x:invalid:{key}", indexed(key, value), on_delete)
        elif key in ENGAGEMENT_KEYS:
            parsed.ignore(f"x:{key}", len(value) if isinstance(value, list) else 1)
        elif key in SYSTEM_KEYS:
            parsed.ignore(_system_reason(key, value))
        elif key not in ENVELOPE_KEYS:
            parsed.ignore(f"x:unknown:{key}"[:120], len(value) if isinstance(value, list) else 1)
    return parsed
