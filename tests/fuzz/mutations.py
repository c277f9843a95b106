"""Hypothesis strategies: real payloads mutated the ways that broke us, and JSON from scratch.

A mutation picks one node of a seed document and drops it, changes its type, replaces it with a
hostile value (huge, empty, non-BMP, a lone surrogate, an out-of-range number, a huge negative
epoch), nests it deeply, swaps a list for an object or the other way round, or repeats a list's
items. Bodies are serialised as a platform would (``\\uXXXX`` escapes or raw UTF-8, a lone
surrogate then written as the invalid bytes it becomes), so the whole read path is exercised.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

Path = tuple[Any, ...]

HOSTILE_STRINGS = st.sampled_from([
    "", " ", "\x00", "\ud800", "a\udfffb", "\U0001f600" * 3, "x" * 70_000, "null", "true", "-1", "1e309",
    "9" * 40, "-99999999999999", "2026-13-45T99:99:99Z", "../../etc/passwd", "{}", "[]", "\u202e\u200b",
])
HOSTILE_NUMBERS = st.sampled_from([
    0, -1, 2**63, -(2**63), 2**64 + 1, 10**30, -(10**30), 1e308, -1e308, 1.5, -0.0, 10**18, -(10**18),
    float("inf"), float("-inf"), float("nan"),
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    HOSTILE_STRINGS, HOSTILE_NUMBERS,
)
# JSON from scratch, keys included (hostile keys too: huge, empty, the envelope's own names)
KEYS = st.one_of(st.text(max_size=12), st.sampled_from([
    "object", "entry", "changes", "messaging", "value", "field", "messages", "statuses", "for_user_id",
    "tweet_create_events", "direct_message_events", "data", "event_type", "payload", "event", "events", "reply",
    "actor", "detail", "ticket_id", "comment", "channel", "message_id", "sender", "occurred_at", "Details",
    "ContactData", "CustomerEndpoint", "Address", "timestamp", "time", "id", "from", "text", "type",
]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6),
                    max_leaves=30)
# What a well-formed body may hold: valid Unicode (st.text never draws a surrogate), finite numbers
WELL_FORMED = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def paths(doc: Any) -> list[Path]:
    """Every node's path (iterative: a seed is never deep, but the walk must not care)."""
    found: list[Path] = [()]
    stack: list[tuple[Path, Any]] = [((), doc)]
    while stack:
        path, value = stack.pop()
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            found.append((*path, key))
            stack.append(((*path, key), child))
    return found


def _get(doc: Any, path: Path) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _nested(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


@st.composite
def replacement(draw: st.DrawFn, old: Any) -> Any:
    """What one node becomes."""
    how = draw(st.sampled_from(["hostile", "retype", "nest", "swap", "repeat", "scratch"]))
    if how == "hostile":
        return draw(HOSTILE_STRINGS | HOSTILE_NUMBERS | st.none() | st.booleans())
    if how == "retype":  # the same value as another JSON type
        if isinstance(old, str):
            return draw(st.sampled_from([[old], {"value": old}, len(old), old == "", None]))
        if isinstance(old, bool | int | float):
            return draw(st.sampled_from([str(old), [old], {"value": old}, not old]))
        return draw(st.sampled_from([json.dumps(old)[:200], 0, "", None]))
    if how == "nest":
        return _nested(old, draw(st.integers(2, 120)), draw(st.booleans()))
    if how == "swap":  # a list for an object and back
        if isinstance(old, list):
            return {str(i): v for i, v in enumerate(old)}
        if isinstance(old, dict):
            return list(old.values())
        return [old, old]
    if how == "repeat" and isinstance(old, list) and old:
        return old * draw(st.integers(2, 30))
    return draw(JSON)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[Any, ...]) -> Any:
    """A copy of one seed with one to four nodes mutated (a dropped key, added keys or a new value)."""
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(doc)))
        if not path:
            doc = draw(replacement(doc))
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        action = draw(st.sampled_from(["drop", "replace", "replace", "replace", "add"]))
        if action == "drop":
            del parent[key]
        elif action == "add" and isinstance(parent[key], dict):
            parent[key].update(draw(st.dictionaries(KEYS, JSON, min_size=1, max_size=4)))
        else:
            parent[key] = draw(replacement(parent[key]))
    return doc


@st.composite
def body(draw: st.DrawFn, docs: st.SearchStrategy[Any]) -> bytes:
    """A document serialised as a platform would send it, escaped or as raw UTF-8."""
    doc = draw(docs)
    if draw(st.booleans()):
        return json.dumps(doc).encode("ascii")
    # raw UTF-8; a lone surrogate cannot be UTF-8 and becomes the invalid bytes a broken encoder writes
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def with_unknown_keys(doc: Any, extra: dict[str, Any]) -> Any:
    """``doc`` with ``extra`` added to every object that has none of those keys (new platform fields)."""
    doc = copy.deepcopy(doc)
    for path in paths(doc):
        node = _get(doc, path)
        if isinstance(node, dict):
            for key, value in extra.items():
                node.setdefault(key, value)
    return doc
