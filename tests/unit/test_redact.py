"""redact.scrub: credentials out of error texts and log lines, everything else kept."""

from __future__ import annotations

import time

import pytest

from socialcare.redact import REDACTED, scrub

SECRET = "EAAGm0PX4ZCpsBAKZC7wZDZD"

LEAKS = {
    "requests connection error": (
        f"HTTPSConnectionPool(host='graph.facebook.com', port=443): Max retries exceeded with url: "
        f"/v21.0/123?fields=name&access_token={SECRET} (Caused by NewConnectionError(...))",
        "/v21.0/123?fields=name&access_token=[REDACTED] (Caused by"),
    "requests http error": (
        f"500 Server Error: Internal Server Error for url: https://graph.facebook.com/v21.0/me?access_token={SECRET}"
        f"&appsecret_proof={SECRET}",
        "/v21.0/me?access_token=[REDACTED]&appsecret_proof=[REDACTED]"),
    "form body": (f"grant_type=client_credentials&client_id=42&client_secret={SECRET}",
                  "grant_type=client_credentials&client_id=42&client_secret=[REDACTED]"),
    "url-encoded inside another url": (f"redirect=https%3A%2F%2Fx%3Faccess_token%3D{SECRET}",
                                       "access_token%3D[REDACTED]"),
    "header line": (f"Authorization: Bearer {SECRET}\nAccept: */*", "Authorization: [REDACTED]\nAccept: */*"),
    "headers dict repr": (f"{{'Authorization': 'Bearer {SECRET}', 'Accept': '*/*'}}",
                          "{'Authorization': '[REDACTED]', 'Accept': '*/*'}"),
    "json keys": (f'{{"access_token": "{SECRET}", "token_type": "bearer"}}',
                  '{"access_token": "[REDACTED]", "token_type": "bearer"}'),
    "escaped json in json": (f'"body": "{{\\"refresh_token\\": \\"{SECRET}\\"}}"',
                             '\\"refresh_token\\": \\"[REDACTED]\\"'),
    "oauth 1.0a header": (f'OAuth oauth_consumer_key="ck", oauth_token="{SECRET}", oauth_signature="{SECRET}%3D"',
                          'oauth_consumer_key="ck", oauth_token="[REDACTED]", oauth_signature="[REDACTED]"'),
    "bearer in free text": (f"X answered 401 to Bearer {SECRET}== on /2/users/me", "Bearer [REDACTED] on /2/users/me"),
    "password in a url": (f"cannot reach https://crm:{SECRET}@crm.example.com/api", "https://crm:[REDACTED]@crm.example"),
}


@pytest.mark.parametrize("case", list(LEAKS))
def test_credentials_are_replaced_and_the_rest_kept(case: str) -> None:
    text, expected = LEAKS[case]
    scrubbed = scrub(text)
    assert SECRET not in scrubbed
    assert expected in scrubbed
    assert scrub(scrubbed) == scrubbed  # scrubbing twice changes nothing


@pytest.mark.parametrize("text", [
    "The token expired; the customer wrote: signature pending, password reset please",
    "Graph API: (#100) Unsupported get request. fields=name,username,profile_pic",
    "download answered 404",
    "",
])
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize("filler", [
    "a" * 200_000,
    "access_token" * 20_000,
    "Authorization:" * 15_000,
    "Bearer " * 30_000,
    "x://" * 50_000,
    "a_" * 100_000,
    '"token": "' * 20_000,
    "https://u:" * 20_000,
])
def test_scrubbing_is_linear_on_long_hostile_text(filler: str) -> None:
    started = time.thread_time()  # CPU time: a busy machine must not fail a linear scrub
    scrub(filler + f" access_token={SECRET}")
    assert time.thread_time() - started < 1.0


def test_the_marker_is_a_fixed_string_without_quotes() -> None:
    # the logger scrubs serialised JSON: a quote in the marker would break the line
    assert '"' not in REDACTED and "'" not in REDACTED and "\\" not in REDACTED


def test_a_crm_error_reason_is_stored_without_the_token_its_url_carried() -> None:
    from socialcare.crm.base import Permanent, Retryable

    for error in (Retryable(f"webhook POST https://crm.example.com/hook?token={SECRET}: timed out"),
                  Permanent(f"hubspot GET https://api.hubapi.com/x?hapikey={SECRET} answered 401: denied")):
        assert SECRET not in error.reason and SECRET not in str(error)
        assert "[REDACTED]" in error.reason
