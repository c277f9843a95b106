"""HMAC-SHA256 signatures as the platforms, the gateway and the CRMs use them, compared in
constant time (the one place these comparisons are written), and the freshness window of
timestamped signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def any_equal(presented: str, candidates: Iterable[str]) -> bool:
    """True when ``presented`` equals any candidate; every candidate is compared (no early exit),
    so the time taken says nothing about which one matched."""
    matched = False
    for candidate in candidates:
        matched |= constant_time_equal(presented, candidate)
    return matched


def sha256_header_matches(header: str | None, keys: Iterable[str], message: bytes, *, encoding: str) -> bool:
    """True when ``header`` is ``sha256=<digest>`` of ``message`` under any of ``keys``.

    ``encoding`` is ``hex`` (Meta, our gateway) or ``base64`` (X). Every key is tried, in constant
    time per comparison, so the answer does not reveal which key (or how much of it) matched.
    """
    if not header or not header.startswith("sha256="):
        return False
    presented = header[len("sha256=") :].strip()
    expected = []
    for key in keys:
        digest = hmac_sha256(key, message)
        expected.append(digest.hex() if encoding == "hex" else base64.b64encode(digest).decode())
    return any_equal(presented, expected)


# A timestamped signature (our gateway and CRM webhook, Zendesk, HubSpot v3) older or newer than
# this is refused: a captured request cannot be replayed later.
MAX_SKEW_SECONDS = 300


def token_matches(presented: str, tokens: Iterable[str]) -> bool:
    """A shared token (a verify token) against every configured one; their SHA-256 digests are
    compared so the time taken depends on neither value's length."""
    digest = hashlib.sha256(presented.encode()).hexdigest()
    return any_equal(digest, [hashlib.sha256(t.encode()).hexdigest() for t in tokens])


def socialcare_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Socialcare-Signature``: ``sha256=`` + hex HMAC of ``<timestamp>.<body>`` (the inbound
    gateway's and the generic CRM webhook's scheme)."""
    return "sha256=" + hmac_sha256(secret, timestamp.encode() + b"." + body).hex()


def skew_seconds(timestamp: str | None, now: float, *, millis: bool = False) -> float | None:
    """How far ``now`` is past ``timestamp`` (negative: the stamp is in the future); None when
    the stamp is not a number."""
    try:
        value = float((timestamp or "").strip())
    except ValueError:
        return None
    return now - (value / 1000 if millis else value)


def fresh(timestamp: str | None, now: float, *, millis: bool = False) -> bool:
    skew = skew_seconds(timestamp, now, millis=millis)
    return skew is not None and abs(skew) <= MAX_SKEW_SECONDS
