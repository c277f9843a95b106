"""X API v2 objects (what the poller reads, and what the X Activity API delivers) as the
Account Activity webhook would have produced them: the same ``Interaction.id`` ("x:<tweet id |
DM event id>"), hence the same SQS dedupe id, so an event seen by two of them is stored once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from socialcare.domain.channels.x_models import dm_conversation_id, x_identifier
from socialcare.models.interaction import Author, Channel, Interaction, Kind, ThreadRef


def _v2_author(user: Mapping[str, Any] | None, author_id: str) -> Author:
    user = user or {}
    if isinstance(user.get("data"), Mapping):  # the Activity API wraps user objects in "data"
        user = user["data"]
    metrics = user.get("public_metrics") or {}
    return Author(
        id=author_id,
        handle=user.get("username"),
        name=user.get("name"),
        followers=metrics.get("followers_count"),
    )


def _v2_time(value: str | None) -> datetime:
    if not value:
        raise ValueError("X v2 object without created_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def v2_tweet_interaction(
    tweet: Mapping[str, Any], users: Mapping[str, Any], account_id: str, *, via: str = "poller"
) -> Interaction | None:
    """A v2 Tweet (``get_users_mentions`` data + ``includes.users``) as the webhook would have
    produced it; None for retweets (not a customer message)."""
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
    if "retweeted" in refs:
        return None
    tweet_id = str(tweet["id"])
    author_id = str(tweet["author_id"])
    note = tweet.get("note_tweet") or {}
    metadata: dict[str, Any] = {"via": via}
    if "quoted" in refs:
        metadata["quoted_tweet_id"] = refs["quoted"]
    if tweet.get("in_reply_to_user_id"):
        metadata["in_reply_to_user_id"] = str(tweet["in_reply_to_user_id"])
    lang = tweet.get("lang")
    return Interaction(
        id=Interaction.make_id(Channel.X, tweet_id),
        channel=Channel.X,
        kind=Kind.PUBLIC_REPLY if "replied_to" in refs else Kind.PUBLIC_POST,
        account_id=account_id,
        platform_message_id=tweet_id,
        author=_v2_author(users.get(author_id), author_id),
        text=note.get("text") or tweet.get("text"),
        language=lang if lang and lang != "und" else None,
        occurred_at=_v2_time(tweet.get("created_at")),
        thread=ThreadRef(
            conversation_id=str(tweet["conversation_id"]) if tweet.get("conversation_id") else None,
            parent_id=refs.get("replied_to"),
        ),
        identifiers=x_identifier(author_id),
        metadata=metadata,
    )


def v2_dm_interaction(event: Mapping[str, Any], users: Mapping[str, Any], account_id: str) -> Interaction:
    sender = str(event["sender_id"])
    event_id = str(event["id"])
    conversation = event.get("dm_conversation_id") or dm_conversation_id(sender, account_id)
    return Interaction(
        id=Interaction.make_id(Channel.X, event_id),
        channel=Channel.X,
        kind=Kind.DIRECT_MESSAGE,
        account_id=account_id,
        platform_message_id=event_id,
        author=_v2_author(users.get(sender), sender),
        text=event.get("text"),
        occurred_at=_v2_time(event.get("created_at")),
        thread=ThreadRef(conversation_id=str(conversation)),
        identifiers=x_identifier(sender),
        metadata={"via": "poller"},
    )
