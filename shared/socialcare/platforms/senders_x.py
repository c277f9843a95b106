"""Replies on X through tweepy's v2 ``Client``, with OAuth 1.0a user context (docs/protocols.md,
section 2, "Sending on X").

* a public reply is ``create_tweet(text=, in_reply_to_tweet_id=, user_auth=True)``:
  ``POST /2/tweets`` ``{"text", "reply": {"in_reply_to_tweet_id"}}``, answered 201
  ``{"data": {"id", "text"}}``;
* a DM is ``create_direct_message(participant_id= | dm_conversation_id=, text=, user_auth=True)``:
  ``POST /2/dm_conversations/with/{participant_id}/messages`` (or ``/2/dm_conversations/{id}/messages``),
  answered 201 ``{"data": {"dm_conversation_id", "dm_event_id"}}``.

tweepy raises one exception class per status; ``x_error`` turns them into the send errors of
``models.reply``. tweepy and requests are imported on use (cold starts).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from socialcare.models.interaction import Kind
from socialcare.models.reply import (
    CredentialsError,
    OutboundMessage,
    PermanentSendError,
    ReplyRoute,
    RetryableSendError,
    SendError,
    SendResult,
)
from socialcare.redact import REDACTED, scrub

if TYPE_CHECKING:
    import tweepy

# Without an x-rate-limit-reset header a 429 is retried after this long (X's windows are 15 min).
DEFAULT_RETRY_AFTER_S = 60.0
X_ROUTES = frozenset({ReplyRoute.PUBLIC_REPLY, ReplyRoute.DIRECT_MESSAGE, ReplyRoute.MESSAGE})


def safe(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without any of ``secrets`` nor anything that looks like a credential."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return scrub(text)[:500]


def transport_error(exc: Exception, platform: str, secrets: tuple[str, ...]) -> SendError:
    """A send that got no answer. Retried only when it never reached the platform (no
    connection made: refused, DNS, connect timeout); a read timeout or a connection dropped after
    the request went out may have posted it, and neither X nor Graph takes an idempotency key, so
    retrying could post twice: it fails as ``outcome_unknown`` for an agent to check instead."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError  # NewConnectionError and NameResolutionError too

    cause = exc.args[0] if exc.args else None
    never_connected = isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        getattr(cause, "reason", cause), ConnectTimeoutError)
    what = f"{platform} did not answer: {type(exc).__name__}: {exc}"
    if never_connected:
        return RetryableSendError(safe(what, secrets), code=type(exc).__name__)
    return PermanentSendError(safe(what + " (it may have been posted: check before sending again)", secrets),
                              code="outcome_unknown")


def send_x(client: tweepy.Client, message: OutboundMessage, text: str, secrets: tuple[str, ...]) -> SendResult:
    """Send ``text`` on X as ``message.route`` says; raises a ``SendError`` subclass."""
    import requests
    import tweepy

    to = message.to
    try:
        if message.route is ReplyRoute.PUBLIC_REPLY:
            response = client.create_tweet(text=text, in_reply_to_tweet_id=to.platform_message_id, user_auth=True)
            return SendResult(platform_message_id=_field(response, "id"), recipient_id=to.author_id)
        if message.route is ReplyRoute.MESSAGE and to.kind is Kind.DIRECT_MESSAGE and to.conversation_id:
            # an answer inside the customer's DM conversation (one-to-one or group) goes to that conversation
            response = client.create_direct_message(dm_conversation_id=to.conversation_id, text=text, user_auth=True)
        else:  # DIRECT_MESSAGE: a DM to the author of a public post (X opens or reuses the 1:1 conversation)
            response = client.create_direct_message(participant_id=to.author_id, text=text, user_auth=True)
        return SendResult(platform_message_id=_field(response, "dm_event_id"), recipient_id=to.author_id)
    except tweepy.HTTPException as exc:
        raise x_error(exc, secrets) from exc
    except requests.RequestException as exc:  # no answer: retried only if it never reached X
        raise transport_error(exc, "X", secrets) from exc


def _field(response: Any, name: str) -> str:
    data = getattr(response, "data", None)
    value = data.get(name) if isinstance(data, dict) else None
    if not value:
        # X took the request (2xx) but named nothing: retrying could post twice, so it is not retried
        raise PermanentSendError(f"X answered without data.{name}", code="no_id")
    return str(value)


def _problem(exc: tweepy.HTTPException) -> tuple[str | None, str]:
    """X's error code (an ``errors[].code``, else the problem type's last segment) and message."""
    code = str(exc.api_codes[0]) if exc.api_codes else None
    messages = list(exc.api_messages)
    try:
        body = exc.response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if code is None and isinstance(body.get("type"), str) and body["type"] != "about:blank":
            code = body["type"].rstrip("/").rsplit("/", 1)[-1]
        if not messages and isinstance(body.get("title"), str):
            messages.append(body["title"])
    return code, "; ".join(str(m) for m in messages) or str(exc.response.reason or "")


def x_error(exc: tweepy.HTTPException, secrets: tuple[str, ...]) -> SendError:
    """The send error for one of tweepy's HTTP exceptions (status first, X's code for detail)."""
    import tweepy

    status = int(exc.response.status_code)
    found, detail = _problem(exc)
    reason = safe(f"X refused the reply ({status}{f' {found}' if found else ''}): {detail}", secrets)
    code = found or str(status)
    if isinstance(exc, tweepy.TooManyRequests):
        return RetryableSendError(reason, retry_after_s=_retry_after(exc), code=code, status=status)
    if isinstance(exc, tweepy.TwitterServerError):
        return RetryableSendError(reason, code=code, status=status)
    if isinstance(exc, tweepy.Unauthorized):  # revoked or wrong user tokens: an operator must act
        return CredentialsError(reason, code=code, status=status)
    # 400 (bad request), 403 (duplicate content, not allowed to reply or DM, app not permitted), 404...
    return PermanentSendError(reason, code=code, status=status)


def _retry_after(exc: tweepy.TooManyRequests) -> float:
    """Seconds until ``x-rate-limit-reset`` (epoch seconds), at least 1; the default without it."""
    # newer tweepy parse the header into reset_time; 4.14 does not
    reset = getattr(exc, "reset_time", None) or exc.response.headers.get("x-rate-limit-reset")
    try:
        return max(1.0, float(reset) - time.time()) if reset else DEFAULT_RETRY_AFTER_S
    except ValueError:
        return DEFAULT_RETRY_AFTER_S
