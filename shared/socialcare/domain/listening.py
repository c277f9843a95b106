"""Listening: mention counters, spike alerts, incidents and spam heuristics.

Counters live in StateTable (``store.state``): mentions and negative mentions of a brand per
5-minute bucket, spread over ``shards`` items so a viral post never makes one hot key (readers
sum the shards); public mentions of one post (incident detection); how often one exact text
arrived (copy-paste bots). A spike opens an *episode* conditionally, so one alert goes out per
episode however many processors see it; a flood of mentions of one post claims one incident
case, conditionally too.

The baseline of a brand (mean of the previous buckets) cannot change once those buckets are
past, so each execution environment computes it once per bucket.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from socialcare.config.rules import ListeningRules
from socialcare.domain.sentiment.analyser import normalise
from socialcare.models.interaction import Channel, Direction, Interaction
from socialcare.models.triage import Sentiment
from socialcare.ports import Publisher
from socialcare.store.state import StateRepository

_URL = re.compile(r"https?://\S+|www\.\S+")
_TAG = re.compile(r"[@#]\w+")
# Channels where strangers can reach the brand; phone, e-mail and web forms have their own
# gates and a caller is never "spam" to us.
_SOCIAL = frozenset({Channel.X, Channel.FACEBOOK, Channel.INSTAGRAM, Channel.MESSENGER, Channel.WHATSAPP})


class ListeningResult(BaseModel):
    brand: str
    counted: bool = False
    spam: bool = False
    spam_reasons: list[str] = Field(default_factory=list)
    spike: bool = Field(default=False, description="this call detected a spike and sent the alert")
    incident_post_id: str | None = None
    incident_case_id: str | None = None


def brand_of(interaction: Interaction) -> str:
    return interaction.account_id or "default"


def post_of(interaction: Interaction) -> str | None:
    """The post a public mention is about (comments and replies carry it in the thread)."""
    if not interaction.is_public:
        return None
    thread = interaction.thread
    post = thread.post_id or thread.parent_id
    # A top-level post is about itself only if others reply to it; it is not "a mention of" it.
    if post is None or post == interaction.platform_message_id:
        return None
    return f"{interaction.channel.value}:{post}"


def spam_signals(interaction: Interaction, repeats: int, rules: ListeningRules) -> list[str]:
    """The spam/bot heuristics that fire for this interaction (pure, for tests and audits)."""
    text = interaction.text or ""
    reasons: list[str] = []
    urls = _URL.findall(text)
    residue = _TAG.sub("", _URL.sub("", text)).strip(" \t\n.,!?:;-")
    if urls and not residue:
        reasons.extend(["link_only", "link_only"])  # two points: a bare link says nothing to a brand
    elif len(urls) >= 2:
        reasons.append("many_links")
    normalised = normalise(text)
    if any(re.search(p, normalised) for p in rules.spam.phrases):
        reasons.extend(["spam_phrase", "spam_phrase"])
    if repeats >= rules.spam.repeat_threshold:
        reasons.extend(["repeated_text", "repeated_text"])
    if interaction.author.followers == 0:
        reasons.append("zero_followers")
    if _new_account(interaction, rules.spam.new_account_days):
        reasons.append("new_account")
    if len(_TAG.findall(text)) >= 5:
        reasons.append("tag_stuffing")
    return reasons


def _new_account(interaction: Interaction, days: int) -> bool:
    created = interaction.metadata.get("author_created_at")
    if not created:
        return False
    try:
        created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return False
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return interaction.occurred_at - created_at < timedelta(days=days)


class Listening:
    def __init__(self, rules: ListeningRules, state: StateRepository, publisher: Publisher) -> None:
        self.rules = rules
        self.state = state
        self.publisher = publisher
        self._lock = threading.Lock()
        self._baselines: dict[tuple[str, str], float] = {}
        self._incidents: dict[str, str] = {}
        self._spam_texts: set[tuple[str, str]] = set()
        # brand -> bucket already found spiking here: the rest of that bucket needs no re-read of
        # its shards (a viral minute would otherwise cost a read of every shard per check).
        self._spiking: dict[str, str] = {}

    # ------------------------------------------------------------------ buckets and counters
    def bucket_of(self, at: datetime) -> datetime:
        at = at.astimezone(UTC).replace(second=0, microsecond=0)
        return at - timedelta(minutes=at.minute % self.rules.bucket_minutes)

    def _bucket_key(self, at: datetime) -> str:
        return self.bucket_of(at).strftime("%Y-%m-%dT%H:%MZ")

    def _add(self, pk: str, counts: dict[str, int], now: datetime) -> dict[str, int]:
        return self.state.add(pk, counts, now=now, ttl_days=self.rules.counter_ttl_days)

    def bucket_total(self, prefix: str, bucket: datetime, field: str = "mentions") -> int:
        key = bucket.strftime("%Y-%m-%dT%H:%MZ")
        return sum(self.state.counts([f"{prefix}#{key}#{s}" for s in range(self.rules.shards)], field).values())

    def mention_counts(self, brand: str, at: datetime) -> tuple[int, int]:
        """(mentions, negative mentions) of ``brand`` in the bucket holding ``at``."""
        bucket = self.bucket_of(at)
        prefix = f"MENTIONS#{brand}"
        return self.bucket_total(prefix, bucket), self.bucket_total(prefix, bucket, "negative")

    def _baseline(self, brand: str, bucket: datetime) -> float:
        n, minutes = self.rules.spike.baseline_buckets, self.rules.bucket_minutes
        cache_key = (brand, bucket.isoformat())
        with self._lock:
            if cache_key in self._baselines:
                return self._baselines[cache_key]
        pks = [
            f"MENTIONS#{brand}#{(bucket - timedelta(minutes=minutes * k)).strftime('%Y-%m-%dT%H:%MZ')}#{s}"
            for k in range(1, n + 1)
            for s in range(self.rules.shards)
        ]
        value = sum(self.state.counts(pks, "mentions").values()) / n
        with self._lock:
            # Only the current bucket's baselines are ever asked for again.
            for stale in [k for k in self._baselines if k[1] != cache_key[1]]:
                del self._baselines[stale]
            self._baselines[cache_key] = value
        return value

    # ------------------------------------------------------------------ spikes
    def _check_spike(self, brand: str, now: datetime) -> bool:
        spike = self.rules.spike
        bucket = self.bucket_of(now)
        current = self.bucket_total(f"MENTIONS#{brand}", bucket)
        baseline = self._baseline(brand, bucket)
        floor = max(baseline, spike.min_baseline)
        if current < spike.min_mentions or current < spike.multiple * floor:
            return False
        with self._lock:
            self._spiking[brand] = bucket.strftime("%Y-%m-%dT%H:%MZ")
        until = now + timedelta(minutes=spike.episode_minutes)
        # Only the processor that opens the episode alerts; the others just extend it.
        if not self.state.open_episode(brand, now=now, until=until):
            return False
        self.publisher.alert(f"Mention spike: {brand}", {
            "type": "mention_spike", "brand": brand, "bucket": bucket.isoformat(), "mentions": current,
            "negative": self.bucket_total(f"MENTIONS#{brand}", bucket, "negative"),
            "baseline": round(baseline, 2), "multiple": round(current / floor, 2),
        })
        return True

    # ------------------------------------------------------------------ spam
    def _repeats(self, interaction: Interaction, now: datetime) -> int:
        text = " ".join(normalise(interaction.text or "").split())
        if len(text) < 12:  # "grazie!" from many people is not a bot
            return 0
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        bucket = self._bucket_key(now)
        threshold = self.rules.spam.repeat_threshold
        with self._lock:
            if (digest, bucket) in self._spam_texts:
                return threshold
        count = self._add(f"TEXT#{digest}#{bucket}", {"n": 1}, now)["n"]
        if count >= threshold:
            with self._lock:
                self._spam_texts.add((digest, bucket))
        return count

    # ------------------------------------------------------------------ incidents
    def incident_case_id(self, post_id: str) -> str | None:
        with self._lock:
            if post_id in self._incidents:
                return self._incidents[post_id]
        case_id = self.state.incident(post_id)
        if case_id is not None:
            with self._lock:
                self._incidents[post_id] = case_id
        return case_id

    def claim_incident(self, post_id: str, case_id: str, now: datetime | None = None) -> tuple[str, bool]:
        """Make ``case_id`` the incident of ``post_id`` unless another one won: (case id, we won)."""
        now = now or datetime.now(UTC)
        for _ in range(3):
            if self.state.claim_incident(post_id, case_id, now=now, ttl_hours=self.rules.incident.ttl_hours):
                with self._lock:
                    self._incidents[post_id] = case_id
                return case_id, True
            winner = self.incident_case_id(post_id)
            if winner is not None:  # else it expired between the two calls: claim again
                return winner, False
        raise RuntimeError(f"could not settle the incident of post {post_id}")

    def _post_mentions(self, post_id: str, now: datetime) -> int:
        incident = self.rules.incident
        shard = random.randrange(self.rules.shards)  # spreads writes, not security
        in_shard = self._add(f"POST#{post_id}#{self._bucket_key(now)}#{shard}", {"mentions": 1}, now)["mentions"]
        # Replies to an ordinary post are many and cheap; only when this shard suggests the post
        # may be near the threshold is the real total (every shard of the window) read.
        if in_shard * self.rules.shards < incident.threshold:
            return in_shard
        minutes = self.rules.bucket_minutes
        buckets = [self.bucket_of(now) - timedelta(minutes=minutes * k) for k in range(incident.window_buckets)]
        return sum(self.bucket_total(f"POST#{post_id}", b) for b in buckets)

    # ------------------------------------------------------------------ the entry point
    def record(self, interaction: Interaction, sentiment: Sentiment, *, now: datetime | None = None) -> ListeningResult:
        """Count one inbound interaction and say whether it is spam or part of an incident.

        The cases service calls this for every inbound interaction it threads; nothing else may
        (it would count twice).
        """
        now = now or datetime.now(UTC)
        result = ListeningResult(brand=brand_of(interaction))
        if interaction.direction is not Direction.INBOUND or interaction.channel not in _SOCIAL:
            return result
        # Repeated texts are counted on public posts only: a bot floods mentions; a private
        # message never reaches the public, and counting it would write once per DM.
        repeats = self._repeats(interaction, now) if interaction.is_public else 0
        reasons = spam_signals(interaction, repeats, self.rules)
        if len(reasons) >= self.rules.spam.threshold:
            # Bots do not count as mentions: a bot flood must not page anyone as a "spike".
            result.spam, result.spam_reasons = True, sorted(set(reasons))
            return result
        if interaction.is_public:
            self._count_mention(interaction, sentiment, result, now)
        return result

    def _count_mention(self, interaction: Interaction, sentiment: Sentiment, result: ListeningResult,
                       now: datetime) -> None:
        brand = result.brand
        negative = 1 if sentiment.label in ("negative", "mixed") and sentiment.score < 0 else 0
        shard = random.randrange(self.rules.shards)  # spreads writes, not security
        counts: dict[str, Any] = self._add(f"MENTIONS#{brand}#{self._bucket_key(now)}#{shard}",
                                           {"mentions": 1, "negative": negative}, now)
        result.counted = True
        with self._lock:
            spiking_now = self._spiking.get(brand) == self._bucket_key(now)
        if counts["mentions"] % self.rules.spike.check_every == 0 and not spiking_now:
            result.spike = self._check_spike(brand, now)
        post = post_of(interaction)
        if post:
            existing = self.incident_case_id(post)
            if existing:
                result.incident_post_id, result.incident_case_id = post, existing
            elif self._post_mentions(post, now) >= self.rules.incident.threshold:
                result.incident_post_id = post
