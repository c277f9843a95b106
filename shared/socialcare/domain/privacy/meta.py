"""Meta's data-deletion request callback: the ``signed_request`` it POSTs, verified.

Meta sends ``signed_request=<signature>.<payload>`` (form-encoded) when a person removes the app
and asks for their data to be deleted: both parts base64url without padding, the payload JSON
with ``algorithm`` ``HMAC-SHA256``, ``user_id`` (the app-scoped user id), ``issued_at`` and
``expires``; the signature is HMAC-SHA256 of the payload *as sent* (its base64url text) keyed
with the app secret. It expects ``{"url": <where the person can see the status>,
"confirmation_code": <a code for that status>}`` back.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from socialcare.errors import BadRequest, Forbidden
from socialcare.signing import constant_time_equal, hmac_sha256

MAX_SIGNED_REQUEST = 8 * 1024  # a real one is a few hundred bytes


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("signed_request is not base64url") from exc


def signed_request_of(body: str) -> str:
    """The ``signed_request`` field of a form-encoded body (400 when absent)."""
    if len(body) > 4 * MAX_SIGNED_REQUEST:
        raise BadRequest("body too large for a signed_request")
    values = parse_qs(body, keep_blank_values=True).get("signed_request") or []
    if len(values) != 1 or not values[0]:
        raise BadRequest("expected one form field signed_request")
    return values[0]


def verify(signed_request: str, app_secret: str) -> dict[str, Any]:
    """The payload of a genuine signed request; 400 when malformed, 403 when the signature or
    the algorithm is wrong."""
    if len(signed_request) > MAX_SIGNED_REQUEST or signed_request.count(".") != 1:
        raise BadRequest("signed_request must be <signature>.<payload>")
    signature_part, payload_part = signed_request.split(".")
    signature = _b64url(signature_part)
    expected = hmac_sha256(app_secret, payload_part.encode("ascii", "replace"))
    if not constant_time_equal(signature, expected):
        raise Forbidden("signed_request signature does not match")
    try:
        payload = json.loads(_b64url(payload_part))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("signed_request payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("signed_request payload is not an object")
    if str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise Forbidden("signed_request algorithm must be HMAC-SHA256")
    user_id = payload.get("user_id")
    if not isinstance(user_id, str | int) or not str(user_id).strip() or len(str(user_id)) > 128:
        raise BadRequest("signed_request has no user_id")
    return payload


def sign(payload: dict[str, Any], app_secret: str) -> str:
    """A signed request as Meta makes one (tests, the local stack's samples)."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    signature = base64.urlsafe_b64encode(hmac_sha256(app_secret, body.encode())).decode().rstrip("=")
    return f"{signature}.{body}"
