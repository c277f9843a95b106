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


# How many distinct reasons one POST may count under (metrics and the log are per reason).
MAX_IGNORED_REASONS = 20
OTHER_REASONS = "other_reasons"


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
        # Bounded: a body naming 60,000 unknown event kinds must not cost 60,000 metrics and
        # log fields; past MAX_IGNORED_REASONS distinct reasons the rest share one.
        if reason not in self.ignored and len(self.ignored) >= MAX_IGNORED_REASONS:
            reason = OTHER_REASONS
        self.ignored[reason] += count

    def merge(self, other: Parsed) -> None:
        self.events.extend(other.events)
        for reason, n in other.ignored.items():
            self.ignore(reason, n)
        self.invalid.extend(other.invalid)
        if self.account is None:
            self.account = other.account

    def reject(self, reason: str, where: str, exc: Exception) -> None:
        """Count a malformed platform event under ``reason`` and keep why, for the log: where it
        was and what failed - field locations and messages only, never the values (customer
        text or tokens could sit in them)."""
        self.ignore(reason)
        self.invalid.append({"reason": reason, "where": where, "error": describe(exc), "kind": kind_of(exc)})


def kind_of(exc: Exception) -> str:
    """``unrecognised`` when an event only lacks fields we expect (a variant we do not know yet:
    skipped like any unknown event), ``malformed`` when a value has the wrong type or is out of
    any possible range (the sender's error: ``flows.webhooks.parse_or_400``)."""
    if isinstance(exc, ValidationError) and all(e["type"] == "missing" for e in exc.errors()):
        return "unrecognised"
    return "malformed"


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


# The deepest JSON any platform sends is about 8 levels; 64 leaves room and keeps every later
# recursive walk (pydantic, json.dumps, our parsers) far from Python's recursion limit.
MAX_JSON_DEPTH = 64


class LoneSurrogate(BadRequest):
    """Text that is not valid Unicode: a lone UTF-16 surrogate (``"\\ud800"`` alone)."""


def check_document(doc: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """A parsed body must nest at most ``max_depth`` levels, and every key and string in it must
    be encodable as UTF-8 (``"\\ud800"`` alone parses to a lone surrogate that would fail later,
    far from here - serialising the event for SQS - as a 5xx the platform retries forever).
    Hand-written because neither json nor pydantic bounds depth or rejects lone surrogates; the
    walk is iterative, so it cannot itself run out of stack."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                raise BadRequest(f"body is nested deeper than {max_depth} levels")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise LoneSurrogate("body holds text that is not valid Unicode (a lone surrogate)") from exc


def _replace_lone_surrogates(doc: Any) -> Any:
    """The document with every lone surrogate written as U+FFFD (valid pairs are already joined
    by json): round-tripped through UTF-16, whose decoder replaces exactly the unpaired halves."""
    text = json.dumps(doc, ensure_ascii=False).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return json.loads(text)


def repair_document(doc: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """An already parsed event (Connect invokes us with one) checked like a body: too deep is a
    ``BadRequest``, a lone surrogate is written as U+FFFD."""
    try:
        check_document(doc, max_depth)
    except LoneSurrogate:
        return _replace_lone_surrogates(doc)
    return doc


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH, repair_text: bool = False) -> Any:
    """The body as JSON; malformed input (even correctly signed) is the sender's error: 400.

    Malformed means: not UTF-8 or not JSON, nested deeper than ``max_depth``, or holding a lone
    UTF-16 surrogate. A platform resends a refused POST byte for byte, so with ``repair_text``
    (X, Meta) a lone surrogate is written as U+FFFD instead: one odd character must not cost the
    other customers' messages in the POST. Every webhook and the CRM inbound webhook read their
    bodies through here."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except RecursionError as exc:
        # json's C scanner stops a deep body with RecursionError (CPython tests this with
        # 100,000 brackets on every version), before it could exhaust the stack.
        raise BadRequest(f"body is nested deeper than {max_depth} levels") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    try:
        check_document(doc, max_depth)
    except LoneSurrogate:
        if not repair_text:
            raise
        doc = _replace_lone_surrogates(doc)
    return doc


def from_epoch(value: int | float | str, *, millis: bool = False) -> datetime:
    seconds = float(value) / 1000 if millis else float(value)
    return datetime.fromtimestamp(seconds, tz=UTC)
