"""The one cursor: an opaque, URL-safe token for "the next page", bound to the listing that made it.

A cursor is DynamoDB's LastEvaluatedKey, base64url-encoded. Decoding checks it against the
listing asking for it - it must hold exactly the listing's key attributes (the table's ``pk`` and
``sk`` and, for an index bound by ``<x>_pk``, its ``<x>_sk``), each a non-empty string of bounded
length; the partition attributes must hold the listing's own values and the sort key must stay
under its prefix - so a crafted cursor can never page into another customer's items or another
team's queue, and a tampered, truncated or random one is a 400, never a 500.

Validated rather than signed: the store holds no key, and a cursor that passes these checks can
only name a position inside the caller's own listing, which it may read anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from socialcare.errors import BadRequest

MAX_CURSOR = 2048  # characters; our keys take a few hundred
_MAX_VALUE = 1024  # bytes: DynamoDB's limit for a sort key value


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
    key = _parse(cursor)
    if set(key) != _key_attributes(bound, prefixes or {}) or not all(_is_string(v) for v in key.values()):
        raise BadRequest("cursor is not valid")
    for name, expected in bound.items():
        if key.get(name, {}).get("S") != expected:
            raise BadRequest("cursor does not belong to this listing")
    for name, prefix in (prefixes or {}).items():
        if not str(key.get(name, {}).get("S", "")).startswith(prefix):
            raise BadRequest("cursor does not belong to this listing")
    return key


def _parse(cursor: str) -> dict[str, Any]:
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise BadRequest("cursor is not valid")
    try:
        key = json.loads(base64.b64decode((cursor + "=" * (-len(cursor) % 4)).encode(), altchars=b"-_",
                                          validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("cursor is not valid") from exc
    if not isinstance(key, dict):
        raise BadRequest("cursor is not valid")
    return key


def _key_attributes(bound: Mapping[str, str], prefixes: Mapping[str, str]) -> set[str]:
    """The attributes a LastEvaluatedKey of this listing holds: the table key, the index key."""
    names = {"pk", "sk", *bound, *prefixes}
    return names | {n.removesuffix("_pk") + "_sk" for n in names if n.endswith("_pk")}


def _is_string(value: Any) -> bool:
    # Every key attribute of our tables is a string: anything else was not made by encode().
    if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
        return False
    try:
        size = len(value["S"].encode("utf-8"))  # a lone surrogate cannot be sent to DynamoDB
    except UnicodeEncodeError:
        return False
    return 0 < size <= _MAX_VALUE


def encode_offset(offset: int) -> str | None:
    """A cursor for a listing paged in memory (a lookup's few matches): an offset into it."""
    return encode({"offset": {"S": str(offset)}}) if offset > 0 else None


def decode_offset(cursor: str | None, *, most: int = 10_000) -> int:
    """The offset in ``cursor`` (0 without one), or BadRequest unless it is one encode_offset made."""
    if not cursor:
        return 0
    key = _parse(cursor)
    number = key.get("offset", {}).get("S") if set(key) == {"offset"} and isinstance(key["offset"], dict) else None
    if not isinstance(number, str) or not number.isascii() or not number.isdigit() or len(number) > 6 \
            or int(number) > most:
        raise BadRequest("cursor is not valid")
    return int(number)
