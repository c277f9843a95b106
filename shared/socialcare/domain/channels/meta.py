"""Meta webhooks: one callback URL for Facebook Pages (feed + Messenger), Instagram and the
WhatsApp Business Account. Page feed and Instagram comments are parsed in ``meta_feed``,
``messaging[]`` in ``messenger``, WhatsApp in ``whatsapp``.

Facts used (docs/protocols.md, "Meta webhooks"):
* verification: ``hub.mode=subscribe`` + ``hub.verify_token`` -> the bare ``hub.challenge``;
* ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`` over the bytes as
  received (Meta escapes non-ASCII as \\uXXXX, so a re-serialisation would not match);
* up to 1000 updates per POST: ``entry[]`` then ``changes[]`` (time in s) or ``messaging[]``
  (time in ms); every one becomes its own InboundEvent.

Only a body that is no Meta envelope at all is a 400. Every entry, change and messaging item
is parsed on its own (``common.each``): a malformed one is counted under
``meta:invalid:<object>:<item>`` and the rest of the POST is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from socialcare.domain.channels import meta_feed, whatsapp
from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed, each, indexed
from socialcare.domain.channels.messenger import messaging
from socialcare.domain.channels.meta_common import SOURCE, Entry, MetaModel, invalid
from socialcare.errors import BadRequest, Forbidden, Unauthorized
from socialcare.models.interaction import Channel
from socialcare.signing import sha256_header_matches, token_matches

__all__ = ["SIGNATURE_HEADER", "SOURCE", "parse", "verify", "verify_subscription"]

SIGNATURE_HEADER = "x-hub-signature-256"


class Envelope(MetaModel):
    object: str
    entry: list[Any]


class Change(MetaModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


# ------------------------------------------------------------------ verification and signatures


def verify_subscription(accounts: Accounts, params: Mapping[str, str]) -> str:
    """The challenge to echo when the verify token matches (403 otherwise)."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if mode != "subscribe" or challenge is None:
        raise BadRequest("hub.mode=subscribe and hub.challenge are required")
    tokens = accounts.meta_verify_tokens()  # SecretUnavailable -> 500
    if not token_matches(token, tokens):
        raise Forbidden("hub.verify_token does not match")
    return challenge


def verify(accounts: Accounts, body: bytes, headers: Mapping[str, str]) -> None:
    """401 unless X-Hub-Signature-256 is the HMAC of the raw body under one of our app secrets."""
    keys = accounts.meta_app_secrets()  # SecretUnavailable -> 500, nothing processed
    header = headers.get(SIGNATURE_HEADER)
    if not header:
        raise Unauthorized("missing X-Hub-Signature-256")
    if not sha256_header_matches(header, keys, body, encoding="hex"):
        raise Unauthorized("invalid X-Hub-Signature-256")


# ------------------------------------------------------------------ parser


def parse(payload: Any) -> Parsed:
    """The events of one POST; 400 only when the body is not a Meta envelope at all."""
    if not isinstance(payload, dict):
        raise BadRequest("Meta webhook body must be a JSON object")
    try:
        envelope = Envelope.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest("not a Meta webhook envelope: 'object' (string) and 'entry' (list) are required") from exc
    parsed = Parsed()
    handler = _OBJECTS.get(envelope.object)
    if handler is None:
        parsed.ignore(f"meta:unknown_object:{envelope.object}"[:120], max(1, len(envelope.entry)))
        return parsed
    obj = envelope.object

    def one_entry(raw: Any, into: Parsed) -> None:
        handler(obj, Entry.model_validate(raw), into)

    each(parsed, invalid(obj, "entry"), indexed("entry", envelope.entry), one_entry)
    return parsed


def _changes(obj: str, entry: Entry, parsed: Parsed, handlers: Mapping[str, Any]) -> None:
    """The entry's ``changes[]``: a field with a handler goes to it, the rest are counted."""

    def one_change(raw: Any, into: Parsed) -> None:
        change = Change.model_validate(raw)
        handle = handlers.get(change.field)
        if handle is None:
            into.ignore(f"meta:{obj}:{change.field}"[:120])
            return
        handle(obj, entry, change.field, change.value, {"object": obj, "entry_id": entry.id, "time": entry.time,
                                                        **raw}, into)

    each(parsed, invalid(obj, "change"), indexed("changes", entry.changes or []), one_change)


def _page(obj: str, entry: Entry, parsed: Parsed) -> None:
    _changes(obj, entry, parsed, meta_feed.PAGE_FIELDS)
    messaging(obj, Channel.MESSENGER, entry, parsed)


def _instagram(obj: str, entry: Entry, parsed: Parsed) -> None:
    _changes(obj, entry, parsed, meta_feed.INSTAGRAM_FIELDS)
    messaging(obj, Channel.INSTAGRAM, entry, parsed)


def _whatsapp(obj: str, entry: Entry, parsed: Parsed) -> None:
    def one_change(raw: Any, into: Parsed) -> None:
        change = Change.model_validate(raw)
        slice_base = {"object": obj, "entry_id": entry.id, "field": change.field}
        into.merge(whatsapp.parse_change(change.field, change.value, slice_base))

    each(parsed, invalid(obj, "change"), indexed("changes", entry.changes or []), one_change)


_OBJECTS = {"page": _page, "instagram": _instagram, "whatsapp_business_account": _whatsapp}
