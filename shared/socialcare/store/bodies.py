"""Message texts larger than a timeline item can hold: measured, kept whole in S3, previewed.

A DynamoDB item stops at 400 KB, counted as the UTF-8 bytes of its attribute names and values.
The inbound gateway accepts 200,000 characters of text, which is 800 KB in a four-byte script,
and the raw slice kept beside it repeats the text. So the stores measure the item they are about
to write; when it would be larger than ``INLINE_ITEM_BYTES``, the whole text goes to the media
bucket first (``text_key``: deterministic, under the customer's prefix, in the message's folder
beside its attachments) and the item keeps a preview with ``text_length``, ``text_truncated`` and
``text_s3_key``. Everything else (triage, threading, the case's snippet) works on the full text
in memory; only the stored copy is split.

``RESERVE_BYTES`` is kept free on every item for what later writes add to it: the case id,
reactions, edit counters, delivery receipts, deletion markers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Protocol

ITEM_LIMIT_BYTES = 400 * 1024  # DynamoDB's item size limit
RESERVE_BYTES = 32 * 1024  # headroom for the attributes later writes add
# An item above this moves its text to S3, so the raw slice (compressed) still fits beside it.
INLINE_ITEM_BYTES = 160 * 1024
PREVIEW_CHARS = 2_000  # at most 8 KB of UTF-8: what the timeline shows before "read more"
TEXT_FIELDS = ("text_length", "text_truncated", "text_s3_key")

# The same folder the media service uses for the message's attachments
# (domain/media.py ``key_for``), so erasing a message deletes one folder.
_SAFE = re.compile(r"[^A-Za-z0-9._=-]")


class TextBodies(Protocol):
    """Where whole texts are kept (``store.media.MediaStore``)."""

    def put_text(self, key: str, text: str) -> None: ...

    def get_text(self, key: str) -> str | None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...


class ItemTooLarge(Exception):
    """Even without its text and raw slice, the item is over what DynamoDB can hold."""


# ---------------------------------------------------------------------------------- sizes
def value_bytes(value: Mapping[str, Any]) -> int:
    """The size DynamoDB counts for one typed attribute value (``{"S": ...}``, ``{"M": ...}``...).

    Hand-written because neither boto3 nor DynamoDB exposes the computation; the rules are
    DynamoDB's documented ones ("Item sizes and formats"), rounded up where they are approximate:
    strings and binaries by their bytes, numbers up to 21 bytes, 3 bytes per list or map plus 1
    per element, 1 byte for a boolean or null.
    """
    (kind, data), = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "B":
        return len(getattr(data, "value", data))
    if kind == "N":
        return min(21, len(str(data)) // 2 + 2)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(min(21, len(str(n)) // 2 + 2) for n in data)
    if kind == "BS":
        return sum(len(getattr(b, "value", b)) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_bytes(v) for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The size DynamoDB counts for a whole typed item (names and values)."""
    return sum(len(name.encode("utf-8")) + value_bytes(value) for name, value in item.items())


# ---------------------------------------------------------------------------------- keys
def message_folder(customer_id: str, channel: str, platform_message_id: str) -> str:
    """``customers/<customer>/<channel>/<message>/``: a message's text and attachments."""
    message = _SAFE.sub("_", platform_message_id)[:200]
    return f"customers/{_SAFE.sub('_', customer_id)}/{channel}/{message}/"


def text_key(folder: str, text: str) -> str:
    """The text's key in its message's folder: the same text always gets the same key (a
    redelivery overwrites nothing new), an edit gets a new one."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return f"{folder}text-{digest}.txt"


def folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


# ---------------------------------------------------------------------------------- the split
def preview(text: str) -> str:
    return text[:PREVIEW_CHARS]


def external_text_fields(text: str, key: str) -> dict[str, Any]:
    """The item's text attributes for a text kept whole at ``key``."""
    return {"text": preview(text), "text_length": len(text), "text_truncated": True, "text_s3_key": key}


def store_text(bodies: TextBodies | None, folder: str, text: str) -> dict[str, Any]:
    """Write ``text`` whole to S3 (before the item that points at it) and return the item's
    attributes for it."""
    if bodies is None:
        raise ItemTooLarge(f"a text of {len(text)} characters needs the media bucket, and none was given")
    key = text_key(folder, text)
    bodies.put_text(key, text)
    return external_text_fields(text, key)
