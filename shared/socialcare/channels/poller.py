"""X poller, for X tiers without Account Activity webhooks (XPollerFunction, every minute).

For each brand account in the X API credentials secret it reads new mentions
(``get_users_mentions`` with a ``since_id`` checkpoint) and new DM events (``GET /2/dm_events``,
which has no ``since_id``: pages are read newest-first until the checkpoint id is reached), maps
them with ``channels.x`` to the same ``Interaction.id`` the webhook produces and enqueues them
through ``ingest.enqueue``: an event seen by both the webhook and the poller has the same SQS
dedupe id and the processor stores it once.

Checkpoints live in the StateTable (``pk = XPOLL#<account id>``, ``sk = mentions | dms``,
``since_id`` as a DynamoDB number) and advance only after the events are durable, and never
backwards (conditional write), so a failed or overlapping run re-reads rather than skips.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from socialcare import aws
from socialcare.channels import accounts, sdk, x
from socialcare.channels.common import count
from socialcare.ingest import enqueue
from socialcare.models.interaction import Action, InboundEvent
from socialcare.observability import logger
from socialcare.settings import get_settings

if TYPE_CHECKING:
    import tweepy

SOURCE = "x-poller"
MENTIONS = "mentions"
DMS = "dms"
MAX_PAGES = 5  # per stream and run: a burst larger than 500 events is caught up next minute
_TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                 "lang", "entities", "note_tweet"]
_USER_FIELDS = ["name", "username", "public_metrics"]
_DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id", "attachments"]


# ------------------------------------------------------------------ checkpoints (StateTable)


def _key(account_id: str, stream: str) -> dict[str, Any]:
    return {"pk": {"S": f"XPOLL#{account_id}"}, "sk": {"S": stream}}


def get_checkpoint(account_id: str, stream: str) -> int | None:
    item = aws.dynamodb().get_item(
        TableName=get_settings().state_table, Key=_key(account_id, stream), ConsistentRead=True
    ).get("Item")
    if not item or "since_id" not in item:
        return None
    return int(item["since_id"]["N"])


def advance_checkpoint(account_id: str, stream: str, since_id: int) -> bool:
    """Move the checkpoint forward to ``since_id``; False when it already was at or past it."""
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().state_table,
            Key=_key(account_id, stream),
            UpdateExpression="SET since_id = :new, updated_at = :now",
            ConditionExpression="attribute_not_exists(since_id) OR since_id < :new",
            ExpressionAttributeValues={
                ":new": {"N": str(since_id)},
                ":now": {"S": datetime.now(UTC).isoformat()},
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ------------------------------------------------------------------ reading X


def _users(response: Any) -> dict[str, dict[str, Any]]:
    includes = getattr(response, "includes", None) or {}
    return {str(u.data["id"]): u.data for u in includes.get("users", [])}


def read_mentions(
    client: tweepy.Client, account_id: str, since_id: int | None
) -> tuple[list[InboundEvent], int | None]:
    """New mentions (oldest first) and the newest id seen."""
    events: list[InboundEvent] = []
    newest: int | None = None
    brands = x.brand_ids(account_id)
    token: str | None = None
    for _ in range(MAX_PAGES):
        response = client.get_users_mentions(
            account_id,
            since_id=since_id,
            max_results=100,
            pagination_token=token,
            tweet_fields=_TWEET_FIELDS,
            expansions=["author_id"],
            user_fields=_USER_FIELDS,
            user_auth=False,
        )
        users = _users(response)
        for tweet in response.data or []:
            raw = tweet.data
            newest = max(newest or 0, int(raw["id"]))
            if str(raw.get("author_id")) in brands:
                continue
            interaction = x.v2_tweet_interaction(raw, users, account_id)
            if interaction is None:
                continue
            author = users.get(interaction.author.id)
            events.append(
                InboundEvent(
                    action=Action.CREATE,
                    source=SOURCE,
                    event_id=interaction.platform_message_id,
                    interaction=interaction,
                    raw={"tweet": raw, "author": author},
                )
            )
        meta = response.meta or {}
        token = meta.get("next_token")
        # first run: the latest page only (no backfill of the account's whole history)
        if not token or since_id is None:
            break
    events.sort(key=lambda e: int(e.event_id))
    return events, newest


def read_dms(
    client: tweepy.Client, account_id: str, since_id: int | None, *, user_auth: bool
) -> tuple[list[InboundEvent], int | None]:
    events: list[InboundEvent] = []
    newest: int | None = None
    brands = x.brand_ids(account_id)
    token: str | None = None
    for _ in range(MAX_PAGES):
        response = client.get_direct_message_events(
            event_types="MessageCreate",
            dm_event_fields=_DM_FIELDS,
            expansions=["sender_id"],
            user_fields=_USER_FIELDS,
            max_results=100,
            pagination_token=token,
            user_auth=user_auth,
        )
        users = _users(response)
        reached_checkpoint = False
        for dm in response.data or []:
            raw = dm.data
            event_id = int(raw["id"])
            if since_id is not None and event_id <= since_id:
                reached_checkpoint = True
                continue
            newest = max(newest or 0, event_id)
            if raw.get("event_type", "MessageCreate") != "MessageCreate" or str(raw.get("sender_id")) in brands:
                continue
            interaction = x.v2_dm_interaction(raw, users, account_id)
            events.append(
                InboundEvent(
                    action=Action.CREATE,
                    source=SOURCE,
                    event_id=interaction.platform_message_id,
                    interaction=interaction,
                    raw={"dm_event": raw, "sender": users.get(interaction.author.id)},
                )
            )
        token = (response.meta or {}).get("next_token")
        if reached_checkpoint or not token or since_id is None:
            break
    events.sort(key=lambda e: int(e.event_id))
    return events, newest


# ------------------------------------------------------------------ one run


def _client(credentials: accounts.XApiAccount) -> tweepy.Client:
    return sdk.x_client(
        bearer_token=credentials.bearer_token,
        consumer_key=credentials.consumer_key,
        consumer_secret=credentials.consumer_secret,
        access_token=credentials.access_token,
        access_token_secret=credentials.access_token_secret,
    )


def poll_stream(account_id: str, stream: str, read: Any) -> int:
    """Read one stream past its checkpoint, enqueue, then advance the checkpoint."""
    since = get_checkpoint(account_id, stream)
    events, newest = read(since)
    if events:
        enqueue(events)
    if newest is not None and (since is None or newest > since):
        advance_checkpoint(account_id, stream, newest)
    count("XPolledEvents", len(events), stream=stream)
    return len(events)


def poll_account(account_id: str, credentials: accounts.XApiAccount) -> dict[str, Any]:
    import tweepy

    client = _client(credentials)
    result: dict[str, Any] = {}
    streams: list[tuple[str, Any]] = []
    if credentials.bearer_token:
        streams.append((MENTIONS, lambda since: read_mentions(client, account_id, since)))
    if credentials.has_oauth1_user:
        streams.append((DMS, lambda since: read_dms(client, account_id, since, user_auth=True)))
    for stream, read in streams:
        try:
            result[stream] = poll_stream(account_id, stream, read)
        except tweepy.TooManyRequests as exc:
            # not an error: the next scheduled run resumes from the unchanged checkpoint
            logger.warning("X rate limit", extra={"account": account_id, "stream": stream,
                                                 "reset": exc.response.headers.get("x-rate-limit-reset")})
            count("XPollRateLimited", 1, stream=stream)
            result[stream] = "rate_limited"
        except tweepy.HTTPException as exc:
            logger.error("X API refused the poll", extra={"account": account_id, "stream": stream,
                                                          "status": exc.response.status_code})
            count("XPollErrors", 1, stream=stream)
            result[stream] = f"error_{exc.response.status_code}"
    return result


def run(account_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Poll every configured brand account (or ``account_ids``); enqueue failures raise."""
    configured = accounts.x_api_accounts()
    wanted = list(account_ids) if account_ids is not None else list(configured)
    return {account: poll_account(account, configured[account]) for account in wanted if account in configured}
