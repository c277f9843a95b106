"""X (Twitter): the webhook's CRC, signatures and parser entry point. What the POST carries is
parsed in ``x_events`` (Account Activity: ``for_user_id`` + event lists) and ``x_activity`` (the
X Activity API's ``{"data": {"event_type": ...}}``); the payload models are in ``x_models``, the
API v2 objects the poller reads in ``x_api``. All of them produce the *same* ``Interaction.id``
("x:<post id | DM event id>") and therefore the same SQS dedupe id.

Facts used (docs/protocols.md, "X Account Activity API"):
* CRC: response_token = "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token));
* POST: ``x-twitter-webhooks-signature`` = "sha256=" + base64(HMAC-SHA256(consumer secret, raw body)),
  and ``x-twitter-webhooks-signature-oauth2`` keyed by the OAuth 2.0 client secret;
* ids exceed 2**53, so only string forms are used.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import Parsed
from socialcare.domain.channels.x_activity import is_activity, parse_activity_api
from socialcare.domain.channels.x_events import (
    ENGAGEMENT_KEYS,
    ENVELOPE_KEYS,
    MESSAGE_KEYS,
    SOURCE,
    SYSTEM_KEYS,
    dm_interaction,
    parse_activity,
    tweet_interaction,
)
from socialcare.domain.channels.x_models import brand_ids, dm_conversation_id, x_identifier
from socialcare.errors import BadRequest, Unauthorized
from socialcare.signing import hmac_sha256, sha256_header_matches

__all__ = [
    "ENGAGEMENT_KEYS", "OAUTH2_SIGNATURE_HEADER", "SIGNATURE_HEADER", "SOURCE", "brand_ids", "check_account",
    "crc_response", "dm_conversation_id", "dm_interaction", "parse", "tweet_interaction", "verify", "x_identifier",
]

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
OAUTH2_SIGNATURE_HEADER = "x-twitter-webhooks-signature-oauth2"
_KNOWN_KEYS = ENGAGEMENT_KEYS | ENVELOPE_KEYS | MESSAGE_KEYS | SYSTEM_KEYS


# ------------------------------------------------------------------ CRC and signatures


def crc_response(accounts: Accounts, crc_token: str, app_key: str | None = None) -> dict[str, str]:
    """The CRC answer, keyed with the app's CRC secret (consumer or OAuth 2.0 client secret)."""
    if not crc_token:
        raise BadRequest("crc_token is required")
    app = accounts.x_app_for(app_key)
    digest = hmac_sha256(app.crc_secret, crc_token.encode("utf-8"))
    return {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def verify(accounts: Accounts, body: bytes, headers: Mapping[str, str]) -> set[str]:
    """The keys of the configured apps whose secret signed ``body`` (401 when none did)."""
    apps = accounts.x_apps()  # SecretUnavailable -> 500 before anything is read
    consumer_sig = headers.get(SIGNATURE_HEADER)
    oauth2_sig = headers.get(OAUTH2_SIGNATURE_HEADER)
    if not consumer_sig and not oauth2_sig:
        raise Unauthorized("missing x-twitter-webhooks-signature")
    signed_by = set()
    for key, app in apps.items():
        ok = bool(app.consumer_secret) and sha256_header_matches(
            consumer_sig, [app.consumer_secret or ""], body, encoding="base64"
        )
        ok |= bool(app.oauth2_client_secret) and sha256_header_matches(
            oauth2_sig, [app.oauth2_client_secret or ""], body, encoding="base64"
        )
        if ok:
            signed_by.add(key)
    if not signed_by:
        raise Unauthorized("invalid x-twitter-webhooks-signature")
    return signed_by


def check_account(accounts: Accounts, for_user_id: str | None, signed_by: set[str]) -> None:
    """An account with its own app entry only accepts events signed by that app's secret, so one
    brand's app cannot write events into another brand account."""
    apps = accounts.x_apps()
    if for_user_id in apps and for_user_id not in signed_by:
        raise Unauthorized("signature does not belong to the app of for_user_id")


# ------------------------------------------------------------------ parser


def parse(payload: Any, brand_x_ids: frozenset[str]) -> Parsed:
    """Split one webhook POST into inbound events, each event validated on its own.

    ``brand_x_ids``: the brand's own X accounts, whose posts and DMs are never customer messages
    (the subscribed account, ``for_user_id`` / the Activity API's filtered user, always is one).
    400 only for a body that is not X's at all: not an object, or an object with none of the
    keys either envelope has, or events without the account they belong to."""
    if not isinstance(payload, dict):
        raise BadRequest("X activity must be a JSON object")
    if is_activity(payload):
        return parse_activity_api(payload, brand_x_ids)
    if not _KNOWN_KEYS.intersection(payload):
        raise BadRequest("not an X Account Activity or Activity API body")
    return parse_activity(payload, brand_x_ids)
