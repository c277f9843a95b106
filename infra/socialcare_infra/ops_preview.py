"""A queued message as an admin may see it in a terminal: its shape and our ids, no customer data.

``dlq show`` prints dead letters of every queue (inbound events, work items, CRM syncs, replies):
an admin needs the ids and the reason to act, never the customer's words, name, handle, phone or
the platform's raw payload. So the preview keeps a value only when its key is known to hold
structure or one of our ids (an allowlist), and erases every other string with Powertools' own
mask (``*****``); what a person is (``author``, ``to``, ``customer``, ``identifiers``) and the raw
payload are erased whole, but for our own ids inside them. Hand-written: Powertools data masking
erases the fields it is named, it has no "everything but these" mode, and a denylist would let
the next model field with a customer's data through.
"""

from __future__ import annotations

import json
import re
from typing import Any

ERASED = "*****"  # Powertools data masking's mask, so an erased value reads the same everywhere
_CHANNEL_GROUP = re.compile(r"^(x|facebook|messenger|instagram|whatsapp|phone|email|chat|web):.+$")
# Where a person (or the raw platform payload) is: erased whole, but for these ids of ours.
_PERSON = frozenset({"author", "to", "customer", "identifiers", "raw", "contacts", "recipient", "users"})
_OURS = frozenset({
    "customer_id", "case_id", "interaction_id", "item_id", "platform_message_id", "account_id", "channel",
    "kind", "public", "occurred_at", "last_inbound_at", "conversation_id", "post_id", "parent_id", "tier",
    "returning", "open_case_id", "previous_cases", "channels", "last_sentiment", "interaction_count",
})
# Keys whose values are structure, enums, times or our ids.
_SAFE = _OURS | frozenset({
    "id", "version", "schema_version", "action", "source", "event_id", "direction", "language", "received_at",
    "created_at", "requested_at", "opened_at", "first_response_at", "at", "status", "team", "priority", "route",
    "code", "type", "mime_type", "target_id", "attempt", "deferrals", "not_before", "visibility", "rule",
    "automated", "held", "is_open", "began_public", "categories", "sentiment", "priority_reasons", "s3_key",
    "media_id", "socialcare_s3_key", "incident_post_id", "due_at", "breached", "paused", "provider",
    "crm_record_id", "crm_reply_id", "from_team", "to_team", "estimated_cost_usd", "requires", "until",
    "available", "followers",
})


def masked_group(group: str | None) -> str | None:
    """An inbound event's FIFO group is ``<channel>:<author's platform id>`` (a WhatsApp id is a
    phone number): the id is erased; a case id (every other queue's group) is kept."""
    if group and _CHANNEL_GROUP.match(group):
        return group.split(":", 1)[0] + ":" + ERASED
    return group


def masked_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Message attributes (``reason``, ``code``...) with e-mail addresses and phone numbers erased:
    a reason may quote what a platform or a CRM said about the customer."""
    if not attributes:
        return {}
    from socialcare.observability import erase_for_log  # Powertools data masking, loaded on use

    return {k: str(v) for k, v in erase_for_log(attributes, personal=sorted(attributes)).items()}


def preview(body: str, width: int = 400) -> str:
    """``body`` (a JSON message, possibly compressed) with customer data erased, cut to ``width``."""
    from socialcare.publish import unwrap_body

    try:
        data = json.loads(unwrap_body(body))
    except LookupError:  # a claim check: the pointer is all the queue holds
        data = json.loads(body)
    except ValueError:
        return f"<{len(body)} characters, not JSON: not shown>"
    text = json.dumps(_masked(data, None, False), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _masked(value: Any, key: str | None, person: bool) -> Any:
    if key in _PERSON and key is not None:
        if key == "raw" or not isinstance(value, (dict, list)):
            return None if value is None else ERASED
        person = True
    if isinstance(value, dict):
        return {k: _masked(v, k, person) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key, person) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if person:
        return value if key in _OURS else ERASED
    return value if key in _SAFE or (key or "").endswith("_at") else ERASED
