"""Secrets out of text: ``scrub`` removes credentials from any string before it is logged or stored.

Error texts carry what the HTTP libraries put in them: ``requests`` names the URL it failed on,
and facebook-sdk sends the access token in that URL (``?access_token=…``); a header dump carries
``Authorization: Bearer …``; an OAuth 1.0a header carries its signature. ``scrub`` replaces the
value of each with ``[REDACTED]`` and keeps everything else, so the text still says what failed.

Pure and dependency-free, so every layer may import it (the logger's formatter scrubs every
record with it). Hand-written: no kept library redacts credentials in free text. Every pattern
starts on a fixed word or after a non-word character and never nests quantifiers, so the cost is
linear in the text's length, whatever a customer (or a platform) put in it.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# Names whose value is a credential, as query/form parameters, OAuth header parameters or JSON keys.
_SECRET_NAMES = (
    "access_token", "access_token_secret", "appsecret_proof", "client_secret", "consumer_secret",
    "fb_exchange_token", "input_token", "refresh_token", "id_token", "bearer_token", "api_key", "apikey",
    "hapikey", "oauth_token", "oauth_token_secret", "oauth_signature", "oauth_verifier", "password",
    "secret", "signature", "token", "sig",
)
_NAMES = "|".join(sorted(_SECRET_NAMES, key=len, reverse=True))

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / Proxy-Authorization headers, as a header line, a dict repr or JSON: the whole value
    (re.compile(r"(?i)((?<![\w-])(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\"'\\\r\n]+"),
     rf"\1{REDACTED}"),
    # a bearer token anywhere in free text ("Bearer eyJ…")
    (re.compile(r"(?i)(?<![\w-])(bearer\s+)[\w\-.~+/]+=*"), rf"\1{REDACTED}"),
    # JSON or repr keys: "access_token": "…", 'client_secret': '…', \"token\": \"…\"
    (re.compile(rf"(?i)(\\?[\"'](?:{_NAMES})\\?[\"']\s*:\s*\\?[\"'])[^\"'\\\r\n]*"), rf"\1{REDACTED}"),
    # query strings, form bodies, OAuth header parameters: access_token=…, oauth_signature="…", %3D-encoded
    # (a name right after an encoded "?", "&" or space counts too: a URL inside another URL)
    (re.compile(rf"(?i)((?:(?<![A-Za-z0-9_])|(?<=%3F)|(?<=%26)|(?<=%20))(?:{_NAMES})(?:=|%3D)\"?)"
                rf"[^&\s\"'<>#,;\\]+"), rf"\1{REDACTED}"),
    # user:password@ in a URL
    (re.compile(r"(?i)((?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*://[^/\s:@\"']+:)[^@\s/\"']+(@)"), rf"\1{REDACTED}\2"),
)


def scrub(text: str) -> str:
    """``text`` with every credential value it carries replaced by ``[REDACTED]``."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
