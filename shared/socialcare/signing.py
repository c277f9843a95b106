"""HMAC-SHA256 signatures as the platforms, the gateway and the CRMs use them, compared in
constant time (the one place these comparisons are written)."""

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
