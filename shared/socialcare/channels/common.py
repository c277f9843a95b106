"""Ingest mechanics every channel shares: signature checks, JSON loading, the parse result and
the one step that makes a parsed batch durable (``ingest``).

A webhook does the least work that makes an event durable: verify, split, enqueue, answer.
Everything here is synchronous with the platform's request, so nothing here touches DynamoDB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from socialcare import ingest as durable
from socialcare.errors import BadRequest
from socialcare.models.interaction import InboundEvent
from socialcare.observability import logger

DEFAULT_NAMESPACE = "SocialCare"


@dataclass
class Parsed:
    """What one platform POST split into: the events to enqueue and what was deliberately
    ignored (counted per reason, e.g. ``x:favorite_events``, ``meta:page:read``)."""

    events: list[InboundEvent] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)

    def ignore(self, reason: str, count: int = 1) -> None:
        self.ignored[reason] += count

    def merge(self, other: Parsed) -> None:
        self.events.extend(other.events)
        self.ignored.update(other.ignored)


def hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def sha256_header_matches(header: str | None, keys: Iterable[str], message: bytes, *, encoding: str) -> bool:
    """True when ``header`` is ``sha256=<digest>`` of ``message`` under any of ``keys``.

    ``encoding`` is ``hex`` (Meta, our gateway) or ``base64`` (X). Every key is tried, in constant
    time per comparison, so the answer does not reveal which key (or how much of it) matched.
    """
    if not header or not header.startswith("sha256="):
        return False
    presented = header[len("sha256=") :].strip().encode()
    matched = False
    for key in keys:
        digest = hmac_sha256(key, message)
        expected = digest.hex().encode() if encoding == "hex" else base64.b64encode(digest)
        # no early exit: every candidate costs the same whatever matched
        matched |= hmac.compare_digest(presented, expected)
    return matched


def load_json(body: bytes) -> Any:
    """The body as JSON; malformed input (even correctly signed) is the sender's error: 400."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid JSON") from exc


def from_epoch(value: int | float | str, *, millis: bool = False) -> datetime:
    seconds = float(value) / 1000 if millis else float(value)
    return datetime.fromtimestamp(seconds, tz=UTC)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """One EMF metric with its own dimensions (channel, reason), flushed immediately, so a
    metric per channel does not fight the function-wide dimension set of ``metrics``."""
    # the template sets POWERTOOLS_METRICS_NAMESPACE; without it a metric must still not turn an
    # accepted webhook into a 500 (and a platform retry), so fall back to the project's namespace
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


def ingest(parsed: Parsed, source: str) -> dict[str, Any]:
    """Enqueue every parsed event (SendMessageBatch chunks) and report what happened.

    Raises EnqueueFailed (503) when SQS does not take them all, so the platform retries.
    """
    events = parsed.events
    if len(events) == 1:
        logger.set_correlation_id(events[0].event_id)
    if events:
        durable.enqueue(events)
        logger.info("events enqueued", extra={"event_ids": [e.event_id for e in events][:100]})
    per_channel: Counter[str] = Counter()
    for event in events:
        channel = (
            event.interaction.channel.value
            if event.interaction is not None
            else event.status.channel.value
            if event.status is not None
            else source
        )
        per_channel[f"{channel}:{event.action.value}"] += 1
    for key, n in per_channel.items():
        channel, action = key.split(":", 1)
        count("InboundEvents", n, channel=channel, action=action)
    for reason, n in parsed.ignored.items():
        count("IgnoredEvents", n, source=source, reason=reason[:250])
    if parsed.ignored:
        logger.info("ignored platform events", extra={"ignored": dict(parsed.ignored)})
    return {"received": len(events), "ignored": sum(parsed.ignored.values())}
