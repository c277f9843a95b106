"""Listening: mention counters, spike alerts, incidents and spam heuristics (StateTable).

Keys (pk / sk = ``COUNT`` unless said otherwise), all with a TTL (``expires_at``):

* ``MENTIONS#<brand>#<bucket>#<shard>``: mentions and negative mentions of a brand in one
  5-minute bucket. Each increment picks a random shard, so a viral post spreads its writes over
  ``shards`` partitions instead of one hot key; readers sum the shards (BatchGetItem).
* ``POST#<post id>#<bucket>#<shard>``: public mentions of one post (incident detection).
* ``TEXT#<hash>#<bucket>``: how often one exact text arrived (copy-paste bots).
* ``SPIKE#<brand>`` / ``EPISODE``: the current spike episode; created conditionally, so one
  alert goes out per episode however many processors see the spike.
* ``INCIDENT#<post id>`` / ``INCIDENT``: the incident case that groups a flood of mentions of a
  post; created conditionally, so the flood makes one case.

The baseline of a brand (mean of the previous buckets) cannot change once those buckets are
past, so each execution environment computes it once per bucket.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from socialcare import aws, config
from socialcare.models.interaction import Channel, Direction, Interaction
from socialcare.models.triage import Sentiment
from socialcare.sentiment import normalise
from socialcare.settings import get_settings

logger = Logger(child=True)

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


@lru_cache(maxsize=1)
def _cfg() -> dict[str, Any]:
    return config.load("listening.yaml")


_lock = threading.Lock()
_baselines: dict[tuple[str, str], float] = {}
_incidents: dict[str, str] = {}
_spam_texts: set[tuple[str, str]] = set()
# brand -> bucket already found spiking by this environment: no need to re-read its shards for
# the rest of that bucket (a viral minute would otherwise cost a read of every shard per check).
_spiking: dict[str, str] = {}


def reset() -> None:
    _cfg.cache_clear()
    with _lock:
        _baselines.clear()
        _incidents.clear()
        _spam_texts.clear()
        _spiking.clear()


def bucket_of(at: datetime) -> datetime:
    minutes = int(_cfg().get("bucket_minutes", 5))
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    return at - timedelta(minutes=at.minute % minutes)


def _bucket_key(at: datetime) -> str:
    return bucket_of(at).strftime("%Y-%m-%dT%H:%MZ")


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


def _table() -> str:
    return get_settings().state_table


def _ttl(now: datetime, days: float) -> dict[str, str]:
    return {"N": str(int((now + timedelta(days=days)).timestamp()))}


def _add(pk: str, counts: dict[str, int], now: datetime) -> dict[str, int]:
    names = {f"#a{i}": name for i, name in enumerate(counts)}
    values: dict[str, Any] = {f":a{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
    values[":ttl"] = _ttl(now, float(_cfg().get("counter_ttl_days", 8)))
    adds = ", ".join(f"#a{i} :a{i}" for i in range(len(counts)))
    result = aws.dynamodb().update_item(
        TableName=_table(),
        Key={"pk": {"S": pk}, "sk": {"S": "COUNT"}},
        UpdateExpression=f"ADD {adds} SET expires_at = :ttl",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="UPDATED_NEW",
    )
    attrs = result.get("Attributes", {})
    return {name: int(attrs.get(name, {}).get("N", "0")) for name in counts}


def _sum(pks: list[str], field: str) -> dict[str, int]:
    """``field`` of each counter item in ``pks`` (a missing item counts 0)."""
    found: dict[str, int] = dict.fromkeys(pks, 0)
    for start in range(0, len(pks), 100):
        keys = [{"pk": {"S": pk}, "sk": {"S": "COUNT"}} for pk in pks[start : start + 100]]
        request: dict[str, Any] = {
            _table(): {"Keys": keys, "ProjectionExpression": "pk, #f", "ExpressionAttributeNames": {"#f": field}}
        }
        for _ in range(8):
            result = aws.dynamodb().batch_get_item(RequestItems=request)
            for item in result.get("Responses", {}).get(_table(), []):
                found[item["pk"]["S"]] = int(item.get(field, {}).get("N", "0"))
            request = result.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def _shards() -> int:
    return max(1, int(_cfg().get("shards", 10)))


def bucket_total(prefix: str, bucket: datetime, field: str = "mentions") -> int:
    key = bucket.strftime("%Y-%m-%dT%H:%MZ")
    return sum(_sum([f"{prefix}#{key}#{s}" for s in range(_shards())], field).values())


def mention_counts(brand: str, at: datetime) -> tuple[int, int]:
    """(mentions, negative mentions) of ``brand`` in the bucket holding ``at``."""
    bucket = bucket_of(at)
    return bucket_total(f"MENTIONS#{brand}", bucket), bucket_total(f"MENTIONS#{brand}", bucket, "negative")


def _baseline(brand: str, bucket: datetime) -> float:
    spike = _cfg().get("spike") or {}
    n = int(spike.get("baseline_buckets", 12))
    minutes = int(_cfg().get("bucket_minutes", 5))
    cache_key = (brand, bucket.isoformat())
    with _lock:
        if cache_key in _baselines:
            return _baselines[cache_key]
    pks = [
        f"MENTIONS#{brand}#{(bucket - timedelta(minutes=minutes * k)).strftime('%Y-%m-%dT%H:%MZ')}#{s}"
        for k in range(1, n + 1)
        for s in range(_shards())
    ]
    value = sum(_sum(pks, "mentions").values()) / n
    with _lock:
        # Only the current bucket's baselines are ever asked for again.
        for stale in [k for k in _baselines if k[1] != cache_key[1]]:
            del _baselines[stale]
        _baselines[cache_key] = value
    return value


def _publish(subject: str, message: dict[str, Any]) -> None:
    topic = get_settings().alerts_topic_arn
    if not topic:
        logger.error("alerts topic not configured; alert not sent", extra={"alert": message})
        return
    aws.sns().publish(TopicArn=topic, Subject=subject[:100], Message=json.dumps(message, default=str))


def _check_spike(brand: str, now: datetime) -> bool:
    spike = _cfg().get("spike") or {}
    bucket = bucket_of(now)
    current = bucket_total(f"MENTIONS#{brand}", bucket)
    baseline = _baseline(brand, bucket)
    floor = max(baseline, float(spike.get("min_baseline", 2.0)))
    if current < int(spike.get("min_mentions", 30)) or current < float(spike.get("multiple", 3.0)) * floor:
        return False
    with _lock:
        _spiking[brand] = bucket.strftime("%Y-%m-%dT%H:%MZ")
    negative = bucket_total(f"MENTIONS#{brand}", bucket, "negative")
    until = now + timedelta(minutes=float(spike.get("episode_minutes", 60)))
    client = aws.dynamodb()
    key = {"pk": {"S": f"SPIKE#{brand}"}, "sk": {"S": "EPISODE"}}
    try:
        # Only the processor that opens the episode alerts; the others just extend it.
        client.update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="SET until_ts = :until, started_at = :now, expires_at = :ttl",
            ConditionExpression="attribute_not_exists(until_ts) OR until_ts < :nowts",
            ExpressionAttributeValues={
                ":until": {"N": str(int(until.timestamp()))},
                ":now": {"S": now.isoformat()},
                ":nowts": {"N": str(int(now.timestamp()))},
                ":ttl": _ttl(now, 2),
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        client.update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="SET until_ts = :until",
            ExpressionAttributeValues={":until": {"N": str(int(until.timestamp()))}},
        )
        return False
    _publish(
        f"Mention spike: {brand}",
        {
            "type": "mention_spike",
            "brand": brand,
            "bucket": bucket.isoformat(),
            "mentions": current,
            "negative": negative,
            "baseline": round(baseline, 2),
            "multiple": round(current / floor, 2),
        },
    )
    return True


def spam_signals(interaction: Interaction, repeats: int) -> list[str]:
    """The spam/bot heuristics that fire for this interaction (pure, for tests and audits)."""
    cfg = _cfg().get("spam") or {}
    text = interaction.text or ""
    body = normalise(text)
    reasons: list[str] = []
    urls = _URL.findall(text)
    residue = _TAG.sub("", _URL.sub("", text)).strip(" \t\n.,!?:;-")
    if urls and not residue:
        reasons.extend(["link_only", "link_only"])  # two points: a bare link says nothing to a brand
    elif len(urls) >= 2:
        reasons.append("many_links")
    if any(re.search(p, body) for p in cfg.get("phrases") or []):
        reasons.extend(["spam_phrase", "spam_phrase"])
    if repeats >= int(cfg.get("repeat_threshold", 3)):
        reasons.extend(["repeated_text", "repeated_text"])
    if interaction.author.followers == 0:
        reasons.append("zero_followers")
    created = interaction.metadata.get("author_created_at")
    if created:
        try:
            created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
            if interaction.occurred_at - created_at < timedelta(days=int(cfg.get("new_account_days", 7))):
                reasons.append("new_account")
        except ValueError:
            pass
    if len(_TAG.findall(text)) >= 5:
        reasons.append("tag_stuffing")
    return reasons


def _repeats(interaction: Interaction, now: datetime) -> int:
    text = " ".join(normalise(interaction.text or "").split())
    if len(text) < 12:  # "grazie!" from many people is not a bot
        return 0
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    bucket = _bucket_key(now)
    threshold = int((_cfg().get("spam") or {}).get("repeat_threshold", 3))
    with _lock:
        if (digest, bucket) in _spam_texts:
            return threshold
    count = _add(f"TEXT#{digest}#{bucket}", {"n": 1}, now)["n"]
    if count >= threshold:
        with _lock:
            _spam_texts.add((digest, bucket))
    return count


def incident_case_id(post_id: str) -> str | None:
    with _lock:
        if post_id in _incidents:
            return _incidents[post_id]
    found = (
        aws.dynamodb()
        .get_item(
            TableName=_table(), Key={"pk": {"S": f"INCIDENT#{post_id}"}, "sk": {"S": "INCIDENT"}}, ConsistentRead=True
        )
        .get("Item")
    )
    if not found:
        return None
    case_id = found["case_id"]["S"]
    with _lock:
        _incidents[post_id] = case_id
    return case_id


def claim_incident(post_id: str, case_id: str, now: datetime | None = None) -> tuple[str, bool]:
    """Make ``case_id`` the incident of ``post_id`` unless another one won: (case id, we won)."""
    now = now or datetime.now(UTC)
    hours = float((_cfg().get("incident") or {}).get("ttl_hours", 72))
    try:
        aws.dynamodb().put_item(
            TableName=_table(),
            Item={
                "pk": {"S": f"INCIDENT#{post_id}"},
                "sk": {"S": "INCIDENT"},
                "case_id": {"S": case_id},
                "declared_at": {"S": now.isoformat()},
                "expires_at": _ttl(now, hours / 24),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        winner = incident_case_id(post_id)
        if winner is None:  # expired between the two calls: extremely unlikely, try once more
            return claim_incident(post_id, case_id, now)
        return winner, False
    with _lock:
        _incidents[post_id] = case_id
    return case_id, True


def _post_mentions(post_id: str, now: datetime) -> int:
    incident = _cfg().get("incident") or {}
    minutes = int(_cfg().get("bucket_minutes", 5))
    shard = random.randrange(_shards())
    in_shard = _add(f"POST#{post_id}#{_bucket_key(now)}#{shard}", {"mentions": 1}, now)["mentions"]
    # Replies to an ordinary post are many and cheap; only when this shard suggests the post
    # may be near the threshold is the real total (every shard of the window) read.
    if in_shard * _shards() < int(incident.get("threshold", 25)):
        return in_shard
    buckets = [bucket_of(now) - timedelta(minutes=minutes * k) for k in range(int(incident.get("window_buckets", 3)))]
    return sum(bucket_total(f"POST#{post_id}", b) for b in buckets)


def record(interaction: Interaction, sentiment: Sentiment, *, now: datetime | None = None) -> ListeningResult:
    """Count one inbound interaction and say whether it is spam or part of an incident.

    ``cases.on_interaction`` calls this for every inbound interaction; the pipeline need not
    (and must not, or it would count twice).
    """
    now = now or datetime.now(UTC)
    brand = brand_of(interaction)
    result = ListeningResult(brand=brand)
    if interaction.direction is not Direction.INBOUND or interaction.channel not in _SOCIAL:
        return result
    reasons = spam_signals(interaction, _repeats(interaction, now))
    if len(reasons) >= int((_cfg().get("spam") or {}).get("threshold", 3)):
        # Bots do not count as mentions: a bot flood must not page anyone as a "spike".
        result.spam, result.spam_reasons = True, sorted(set(reasons))
        return result
    if interaction.is_public:
        negative = 1 if sentiment.label in ("negative", "mixed") and sentiment.score < 0 else 0
        shard = random.randrange(_shards())
        counts = _add(f"MENTIONS#{brand}#{_bucket_key(now)}#{shard}", {"mentions": 1, "negative": negative}, now)
        result.counted = True
        check_every = max(1, int((_cfg().get("spike") or {}).get("check_every", 5)))
        bucket = _bucket_key(now)
        if counts["mentions"] % check_every == 0 and _spiking.get(brand) != bucket:
            result.spike = _check_spike(brand, now)
        post = post_of(interaction)
        if post:
            existing = incident_case_id(post)
            if existing:
                result.incident_post_id, result.incident_case_id = post, existing
            elif _post_mentions(post, now) >= int((_cfg().get("incident") or {}).get("threshold", 25)):
                result.incident_post_id = post
    return result
