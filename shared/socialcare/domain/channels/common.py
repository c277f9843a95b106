"""What every channel parser shares: the parse result, JSON loading and epoch times.

Parsers are pure (payload in, inbound events out); making the events durable is the webhook
flow's job (``flows.webhooks``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from socialcare.errors import BadRequest
from socialcare.models.interaction import InboundEvent

T = TypeVar("T")

# What a value no model rejected can still raise while one platform event is turned into ours:
# a malformed field (ValidationError, ValueError, TypeError, KeyError), an epoch beyond year 9999
# (OverflowError, or OSError on some platforms' C library) or our own "this event has no time".
ITEM_ERRORS: tuple[type[Exception], ...] = (
    ValidationError, ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError, BadRequest,
)


@dataclass
class Parsed:
    """What one platform POST split into: the events to enqueue and what was deliberately
    ignored (counted per reason, e.g. ``x:favorite_events``, ``meta:page:read``)."""

    events: list[InboundEvent] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    account: str | None = None  # the brand account the POST is for, when the platform names one
    # malformed platform events skipped (their reasons are also in ``ignored``): where and why
    invalid: list[dict[str, str]] = field(default_factory=list)

    def ignore(self, reason: str, count: int = 1) -> None:
        self.ignored[reason] += count

    def merge(self, other: Parsed) -> None:
        self.events.extend(other.events)
        self.ignored.update(other.ignored)
        self.invalid.extend(other.invalid)
        if self.account is None:
            self.account = other.account

    def reject(self, reason: str, where: str, exc: Exception) -> None:
        """Count a malformed platform event under ``reason`` and keep why, for the log: where it
        was and what failed - field locations and messages only, never the values (customer
        text or tokens could sit in them)."""
        self.ignore(reason)
        self.invalid.append({"reason": reason, "where": where, "error": describe(exc)})


def describe(exc: Exception) -> str:
    """An error without the input it failed on."""
    if isinstance(exc, ValidationError):
        parts = [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors(include_input=False)]
        return "; ".join(parts)[:300]
    if isinstance(exc, BadRequest):
        return exc.reason[:300]  # ours: names the event, never carries its values
    return type(exc).__name__


def each(parsed: Parsed, reason: str, items: Iterable[tuple[str, T]], handle: Callable[[T, Parsed], None]) -> None:
    """Parse every platform event on its own: a malformed one is counted under ``reason`` (and
    described in ``parsed.invalid``) and skipped, the events of the others are kept. A platform
    resends a refused POST byte for byte, so a 4xx for one bad event would lose every good one
    beside it, again and again. ``items`` are ``(where, item)`` pairs, ``where`` e.g.
    ``tweet_create_events[2]``."""
    for where, item in items:
        own = Parsed(account=parsed.account)
        try:
            handle(item, own)
        except ITEM_ERRORS as exc:
            parsed.reject(reason, where, exc)
            continue
        parsed.merge(own)


def indexed(key: str, value: Any) -> list[tuple[str, Any]]:
    """``(where, item)`` pairs of a platform list; a value that is not a list is one bad item."""
    if isinstance(value, list):
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]
    return [(key, value)]


def load_json(body: bytes) -> Any:
    """The body as JSON; malformed input (even correctly signed) is the sender's error: 400."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid JSON") from exc


def from_epoch(value: int | float | str, *, millis: bool = False) -> datetime:
    seconds = float(value) / 1000 if millis else float(value)
    return datetime.fromtimestamp(seconds, tz=UTC)
