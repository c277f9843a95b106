"""XPollerFunction: poll X every minute, for X tiers without Account Activity webhooks.

For each brand account in the X API credentials secret it reads new mentions
(``get_users_mentions`` with a ``since_id`` checkpoint) and new DM events (``GET /2/dm_events``,
which has no ``since_id``: pages are read newest-first until the checkpoint id is reached), maps
them with ``domain.channels.x`` to the same ``Interaction.id`` the webhook produces and publishes
them on inbound.fifo: an event seen by both the webhook and the poller has the same SQS
dedupe id and the processor stores it once.

Checkpoints live in the StateTable (``store.state``: ``XPOLL#<account id>`` / ``mentions | dms``)
and advance only after the events are durable, and never
backwards (conditional write), so a failed or overlapping run re-reads rather than skips.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tweepy
from tweepy.pagination import PaginationIterator

from socialcare.config.settings import XPollerSettings, load
from socialcare.domain.channels import x, x_api
from socialcare.domain.channels.accounts import XApiAccount
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, InboundEvent, Interaction
from socialcare.observability import count, logger

SOURCE = "x-poller"
MENTIONS = "mentions"
DMS = "dms"
# Pages per stream and run. X lists newest first, so a run that stops here with pages left
# advances past what it did not read: XPollTruncated counts it (see _warn_if_truncated).
MAX_PAGES = 5
_TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                 "lang", "entities", "note_tweet"]
_USER_FIELDS = ["name", "username", "public_metrics"]
_DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id", "attachments"]


# ------------------------------------------------------------------ reading X


def _users(response: Any) -> dict[str, dict[str, Any]]:
    includes = getattr(response, "includes", None) or {}
    return {str(u.data["id"]): u.data for u in includes.get("users", [])}


def _event(interaction: Interaction, raw: dict[str, Any]) -> InboundEvent:
    return InboundEvent(action=Action.CREATE, source=SOURCE, event_id=interaction.platform_message_id,
                        interaction=interaction, raw=raw)


def _warn_if_truncated(pages: PaginationIterator, since_id: int | None, stream: str) -> None:
    """Say so when a run stopped at MAX_PAGES with older events above the checkpoint unread."""
    if since_id is not None and pages.next_token is not None and pages.count >= MAX_PAGES:
        logger.warning("X poll stopped at its page limit; older events were not read",
                       extra={"stream": stream, "since_id": since_id, "pages": pages.count})
        count("XPollTruncated", 1, stream=stream)


def read_mentions(
    client: tweepy.Client, account_id: str, since_id: int | None, brand_x_ids: frozenset[str]
) -> tuple[list[InboundEvent], int | None]:
    """New mentions (oldest first) and the newest id seen."""
    events: list[InboundEvent] = []
    newest: int | None = None
    brands = x.brand_ids(brand_x_ids, account_id)
    # tweepy's Paginator follows meta.next_token; a first run reads the latest page only (no
    # backfill of the account's whole history).
    pages = iter(tweepy.Paginator(
        client.get_users_mentions, account_id, since_id=since_id, max_results=100, tweet_fields=_TWEET_FIELDS,
        expansions=["author_id"], user_fields=_USER_FIELDS, user_auth=False,
        limit=MAX_PAGES if since_id is not None else 1,
    ))
    for response in pages:
        users = _users(response)
        for tweet in response.data or []:
            raw = tweet.data
            newest = max(newest or 0, int(raw["id"]))
            if str(raw.get("author_id")) in brands:
                continue
            interaction = x_api.v2_tweet_interaction(raw, users, account_id)
            if interaction is None:
                continue
            events.append(_event(interaction, {"tweet": raw, "author": users.get(interaction.author.id)}))
    _warn_if_truncated(pages, since_id, MENTIONS)
    events.sort(key=lambda e: int(e.event_id))
    return events, newest


def read_dms(
    client: tweepy.Client, account_id: str, since_id: int | None, *, user_auth: bool, brand_x_ids: frozenset[str],
) -> tuple[list[InboundEvent], int | None]:
    events: list[InboundEvent] = []
    newest: int | None = None
    brands = x.brand_ids(brand_x_ids, account_id)
    # GET /2/dm_events has no since_id: pages come newest first until the checkpoint is reached.
    pages = iter(tweepy.Paginator(
        client.get_direct_message_events, event_types="MessageCreate", dm_event_fields=_DM_FIELDS,
        expansions=["sender_id"], user_fields=_USER_FIELDS, max_results=100, user_auth=user_auth,
        limit=MAX_PAGES if since_id is not None else 1,
    ))
    for response in pages:
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
            interaction = x_api.v2_dm_interaction(raw, users, account_id)
            events.append(_event(interaction, {"dm_event": raw, "sender": users.get(interaction.author.id)}))
        if reached_checkpoint:
            break
    else:
        _warn_if_truncated(pages, since_id, DMS)
    events.sort(key=lambda e: int(e.event_id))
    return events, newest


# ------------------------------------------------------------------ one run


class XPoller:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring

    def _client(self, credentials: XApiAccount) -> tweepy.Client:
        return self.w.platforms.x_client(
            bearer_token=credentials.bearer_token,
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
        )

    def poll_stream(self, account_id: str, stream: str, read: Any) -> int:
        """Read one stream past its checkpoint, publish, then advance the checkpoint."""
        since = self.w.state.checkpoint(account_id, stream)
        events, newest = read(since)
        if events:
            self.w.publisher.inbound(events)
        if newest is not None and (since is None or newest > since):
            self.w.state.advance_checkpoint(account_id, stream, newest)
        count("XPolledEvents", len(events), stream=stream)
        return len(events)

    def poll_account(self, account_id: str, credentials: XApiAccount) -> dict[str, Any]:
        client = self._client(credentials)
        brands = self.w.settings.brand_x_ids
        streams: list[tuple[str, Any]] = []
        if credentials.bearer_token:
            streams.append((MENTIONS, lambda since: read_mentions(client, account_id, since, brands)))
        if credentials.has_oauth1_user:
            streams.append((DMS, lambda since: read_dms(client, account_id, since, user_auth=True, brand_x_ids=brands)))
        result: dict[str, Any] = {}
        for stream, read in streams:
            try:
                result[stream] = self.poll_stream(account_id, stream, read)
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
                if isinstance(exc, tweepy.Unauthorized):  # the token expired or was revoked: someone must act
                    count("PlatformAuthFailures")
                result[stream] = f"error_{exc.response.status_code}"
        return result

    def run(self, account_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """Poll every configured brand account (or ``account_ids``); publish failures raise."""
        configured = self.w.accounts.x_api_accounts()
        wanted = list(account_ids) if account_ids is not None else list(configured)
        return {account: self.poll_account(account, configured[account]) for account in wanted if account in configured}

    def handle(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        return self.run()


def build() -> XPoller:
    """XPollerFunction's flow, its settings validated at cold start."""
    return XPoller(Wiring(load(XPollerSettings)))
