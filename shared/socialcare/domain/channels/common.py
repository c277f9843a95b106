"""What every channel parser shares: the parse result, JSON loading and epoch times.

Parsers are pure (payload in, inbound events out); making the events durable is the webhook
flow's job (``flows.webhooks``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socialcare.errors import BadRequest
from socialcare.models.interaction import InboundEvent


@dataclass
class Parsed:
    """What one platform POST split into: the events to enqueue and what was deliberately
    ignored (counted per reason, e.g. ``x:favorite_events``, ``meta:page:read``)."""

    events: list[InboundEvent] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    account: str | None = None  # the brand account the POST is for, when the platform names one

    def ignore(self, reason: str, count: int = 1) -> None:
        self.ignored[reason] += count

    def merge(self, other: Parsed) -> None:
        self.events.extend(other.events)
        self.ignored.update(other.ignored)


def load_json(body: bytes) -> Any:
    """The body as JSON; malformed input (even correctly signed) is the sender's error: 400."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid JSON") from exc


def from_epoch(value: int | float | str, *, millis: bool = False) -> datetime:
    seconds = float(value) / 1000 if millis else float(value)
    return datetime.fromtimestamp(seconds, tz=UTC)
