"""ListeningFunction: hear what is said about the brand on X where it is not tagged, and about its
competitors, within a daily budget of post reads (docs/satisfaction.md).

Each scheduled run searches X (tweepy ``Client.search_recent_tweets``, paged with
``tweepy.Paginator``) for listening.yaml's brand keywords and competitor terms in one query, past
a ``since_id`` checkpoint in StateTable (``XPOLL#<account>`` / ``listening``, moved forward only
after the run's results are durable):

* a post naming the brand becomes an ``InboundEvent`` on inbound.fifo, mapped like the X poller's
  (``domain.channels.x_api``: ``Interaction.id`` ``x:<post id>``, the webhook's own dedupe key,
  ``metadata.via = "listening"``), so a mention also delivered by the webhook is stored once; the
  processor triages it like any public post (praise: an "engage" item; a complaint: a social
  "respond" item, higher priority with the author's reach) and counts it for spike alerts;
* every post is counted for share of voice per brand and competitor per UTC day with its
  sentiment (``SOV#<name>#<day>``); a competitor's mentions never become cases or profiles.

Budget: posts read per UTC day (``LISTENING#<day>``: ``reads``, ``users``), checked before every
page; a page is only asked for when a full one fits, so a day never reads more than
``max_reads_per_day``. Metrics ``ListeningReads`` and ``ListeningSpendUsd`` (posts and expanded
authors at listening.yaml's prices). A weekly run (``{"digest": "weekly"}``) sends the digest of
CSAT, share of voice and listening spend to the alerts topic.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import tweepy
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from socialcare.config.listening_search import ListeningSearch
from socialcare.config.rules import ListeningRules
from socialcare.config.settings import ListeningSettings, load
from socialcare.domain.channels import x_api
from socialcare.domain.channels.accounts import XApiAccount
from socialcare.domain.satisfaction.report import listening_key, sov_key, weekly_digest
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, InboundEvent, Interaction
from socialcare.observability import DEFAULT_NAMESPACE, count, logger

SOURCE = "x-listening"
STREAM = "listening"
_TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets", "lang",
                 "entities", "note_tweet"]
_USER_FIELDS = ["name", "username", "public_metrics"]


def _mentions(text: str, terms: list[str]) -> bool:
    lowered = text.lower()
    return any(t.lower() in lowered for t in terms)


class Found:
    """What one run read: brand mentions to publish, share-of-voice counts, reads spent."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []
        self.sov: dict[str, Counter[str]] = {}
        self.reads = self.users = 0
        self.newest: int | None = None

    def count(self, name: str, sentiment: str) -> None:
        self.sov.setdefault(name, Counter()).update({"mentions": 1, sentiment: 1})


class ListeningRun:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring
        self.search: ListeningSearch = wiring.rules(ListeningRules).search

    def handle(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("digest"):
            return self.digest()
        return self.run()

    # ------------------------------------------------------------------ the search
    def _account(self) -> tuple[str, XApiAccount] | None:
        accounts = self.w.accounts.x_api_accounts()
        name = self.search.account or next(iter(accounts), "")
        found = accounts.get(name)
        return (name, found) if found is not None and found.bearer_token else None

    def run(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        if not self.search.terms():
            return {"status": "not_configured"}
        account = self._account()
        if account is None:
            logger.error("listening: no X API account with a bearer token", extra={"account": self.search.account})
            return {"status": "no_account"}
        day_key = listening_key(now.date())
        spent = self.w.state.counts([day_key], "reads")[day_key]
        remaining = self.search.max_reads_per_day - spent
        if remaining < 10:  # X's smallest page
            count("ListeningBudgetSpent")
            return {"status": "budget_spent", "reads_today": spent}
        account_id, credentials = account
        found = Found()
        try:
            self._read(account_id, credentials, remaining, found, now)
        except tweepy.TooManyRequests:
            count("ListeningRateLimited")
            return self._spent(found, now, {"status": "rate_limited"})
        except tweepy.HTTPException as exc:
            if isinstance(exc, tweepy.Unauthorized):
                count("PlatformAuthFailures")
            logger.error("X refused the listening search", extra={"status": exc.response.status_code})
            return self._spent(found, now, {"status": f"error_{exc.response.status_code}"})
        return self._finish(account_id, found, now)

    def _read(self, account_id: str, credentials: XApiAccount, remaining: int, found: Found, now: datetime) -> None:
        client = self.w.platforms.x_client(bearer_token=credentials.bearer_token)
        since = self.w.state.checkpoint(account_id, STREAM)
        page_size = max(10, min(self.search.page_size, remaining))
        pages = tweepy.Paginator(
            client.search_recent_tweets, self.search.x_query(), since_id=since, max_results=page_size,
            tweet_fields=_TWEET_FIELDS, expansions=["author_id"], user_fields=_USER_FIELDS, user_auth=False,
            limit=self.search.max_pages if since is not None else 1,  # a first run reads the latest page only
        )
        for response in pages:
            self._page(response, account_id, found)
            self.w.state.add(listening_key(now.date()), {"reads": len(response.data or []),
                                                         "users": len(_users(response))},
                             now=now, ttl_days=self.search.sov_ttl_days)
            remaining -= len(response.data or [])
            if remaining < page_size:
                break  # the next page might not fit in today's budget

    def _page(self, response: Any, account_id: str, found: Found) -> None:
        users = _users(response)
        found.users += len(users)
        brand_ids = self.w.settings.brand_x_ids
        for tweet in response.data or []:
            raw = tweet.data
            found.reads += 1
            found.newest = max(found.newest or 0, int(raw["id"]))
            if str(raw.get("author_id")) in brand_ids:
                continue  # the brand's own posts
            interaction = x_api.v2_tweet_interaction(raw, users, account_id, via="listening")
            if interaction is None or not interaction.text:
                continue
            brand = _mentions(interaction.text, self.search.keywords)
            named = [c.name for c in self.search.competitors if _mentions(interaction.text, c.terms)]
            if not brand and not named:
                continue  # X matched it elsewhere (a link, a handle): nobody's mention, no sentiment to read
            sentiment = self._sentiment(interaction)
            for name in [*named, *([self.search.brand] if brand else [])]:
                found.count(name, sentiment)
            if brand:
                interaction.metadata["listening"] = True
                found.events.append(InboundEvent(
                    action=Action.CREATE, source=SOURCE, event_id=interaction.platform_message_id,
                    interaction=interaction, raw={"tweet": raw, "author": users.get(interaction.author.id)}))

    def _sentiment(self, interaction: Interaction) -> str:
        result = self.w.analyser.analyse(interaction.text, interaction.language)
        if result.label == "positive":
            return "positive"
        return "negative" if result.label in ("negative", "mixed") and result.score < 0 else "neutral"

    def _finish(self, account_id: str, found: Found, now: datetime) -> dict[str, Any]:
        """Publish, count, then move the checkpoint: a run that fails before re-reads, never skips."""
        found.events.sort(key=lambda e: int(e.event_id))
        if found.events:
            self.w.publisher.inbound(found.events)
        day = now.date()
        for name, counts in found.sov.items():
            self.w.state.add(sov_key(name, day), dict(counts), now=now, ttl_days=self.search.sov_ttl_days)
        brand = found.sov.get(self.search.brand, Counter())["mentions"]
        self.w.state.add(listening_key(day), {"mentions": brand, "published": len(found.events)}, now=now,
                         ttl_days=self.search.sov_ttl_days)
        if found.newest is not None:
            self.w.state.advance_checkpoint(account_id, STREAM, found.newest)
        count("ListeningMentions", brand)
        return self._spent(found, now, {"status": "ok", "published": len(found.events),
                                        "share_of_voice": {n: c["mentions"] for n, c in found.sov.items()}})

    def _spent(self, found: Found, now: datetime, result: dict[str, Any]) -> dict[str, Any]:
        spend = found.reads * self.search.price_per_read_usd + found.users * self.search.price_per_user_usd
        count("ListeningReads", found.reads)
        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
        # USD, no dimension: the dashboard and a budget alarm read it as is
        with single_metric(name="ListeningSpendUsd", unit=MetricUnit.NoUnit, value=round(spend, 6),
                           namespace=namespace):
            pass
        logger.info("listening run", extra={"reads": found.reads, "users": found.users, "status": result["status"]})
        return {**result, "reads": found.reads, "users": found.users, "spend_usd": round(spend, 6)}

    # ------------------------------------------------------------------ the weekly digest
    def digest(self, today: date | None = None) -> dict[str, Any]:
        body = weekly_digest(self.w.state, self.search, today or datetime.now(UTC).date())
        self.w.publisher.alert(f"socialcare weekly: CSAT and listening, {body['from']} to {body['to']}", body)
        return body


def _users(response: Any) -> dict[str, dict[str, Any]]:
    includes = getattr(response, "includes", None) or {}
    return {str(u.data["id"]): u.data for u in includes.get("users", [])}


def build() -> ListeningRun:
    """ListeningFunction's flow, its settings validated at cold start."""
    return ListeningRun(Wiring(load(ListeningSettings)))
