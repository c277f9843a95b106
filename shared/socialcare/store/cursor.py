"""The one cursor: an opaque, URL-safe token for "the next page", bound to the listing that made it.

A cursor is DynamoDB's LastEvaluatedKey, base64url-encoded. Decoding checks it against the
listing asking for it - the partition attributes must hold the listing's own values and the sort
key must stay under its prefix - so a crafted cursor can never page into another customer's
items or another team's queue, and a tampered one is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from socialcare.errors import BadRequest


def encode(last_key: Mapping[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, *, bound: Mapping[str, str], prefixes: Mapping[str, str] | None = None
           ) -> dict[str, Any] | None:
    """The ExclusiveStartKey of ``cursor``, or BadRequest when it is not one of this listing's.

    ``bound``: attribute -> the value it must have (the listing's partition); ``prefixes``:
    attribute -> the prefix its value must start with (the listing's sort key range).
    """
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not valid") from exc
    if not isinstance(key, dict) or not all(_is_string(v) for v in key.values()):
        raise BadRequest("cursor is not valid")
    for name, expected in bound.items():
        if key.get(name, {}).get("S") != expected:
            raise BadRequest("cursor does not belong to this listing")
    for name, prefix in (prefixes or {}).items():
        if not str(key.get(name, {}).get("S", "")).startswith(prefix):
            raise BadRequest("cursor does not belong to this listing")
    return key


def _is_string(value: Any) -> bool:
    # Every key attribute of our tables is a string: anything else was not made by encode().
    return isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
