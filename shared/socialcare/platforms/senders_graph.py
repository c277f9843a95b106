"""Replies on Facebook, Messenger, Instagram and WhatsApp through facebook-sdk's ``GraphAPI``
(docs/protocols.md, section 4, "Sending on Meta").

Every reply is one ``POST /{version}/{node}/{edge}``, sent with ``GraphAPI.put_object``:

* Facebook public reply: ``{comment or post id}/comments`` with ``message``;
* Instagram public reply: ``{ig-comment-id}/replies`` with ``message``;
* Facebook / Instagram private reply: ``{page or IG account id}/messages`` with
  ``recipient={"comment_id"}`` (``post_id`` for a visitor post) and ``message={"text"}``;
* Messenger / Instagram message: ``{page or IG account id}/messages`` with ``recipient={"id"}``,
  ``messaging_type=RESPONSE`` (``MESSAGE_TAG`` and ``tag=HUMAN_AGENT``) and ``message={"text"}``;
* WhatsApp message or template: ``{phone-number id}/messages`` with ``messaging_product``,
  ``recipient_type``, ``to``, ``type`` and ``text={"body"}`` + ``context`` or ``template={...}``.

facebook-sdk 3.1 sends ``post_args`` as form fields (``data=``), with ``access_token`` among
them, and cannot send a JSON body: object-valued fields (``recipient``, ``message``, ``text``,
``template``, ``context``) are JSON-encoded strings, the form Graph documents for the Send API
(``recipient={"id":"…"}&message={"text":"…"}``). Meta documents WhatsApp sends with a JSON body
only; the form encoding is Graph's generic one (an open item in docs/protocols.md).

facebook-sdk drops the HTTP status and headers of a failed call (``GraphAPIError`` keeps only the
body), so a ``requests`` response hook on the client's own session keeps the last response for
``graph_error`` (status, ``Retry-After``). facebook-sdk and requests are imported on use.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from socialcare.models.interaction import Channel, Kind
from socialcare.models.reply import (
    CredentialsError,
    OutboundMessage,
    PermanentSendError,
    ReplyRoute,
    RetryableSendError,
    SendError,
    SendResult,
)
from socialcare.platforms.senders_x import DEFAULT_RETRY_AFTER_S, safe, transport_error

if TYPE_CHECKING:
    import facebook
    import requests

# Graph error codes (Graph "Handling Errors", Messenger Send API errors, WhatsApp error codes).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131056})
TRANSIENT_CODES = frozenset({1, 2, 1200, 131000, 131016, 133004})  # "temporary", "try again later"
CREDENTIAL_CODES = frozenset({102, 190})  # session or access token expired, revoked or invalid
# Sent with a 5xx status but never fixed by waiting: capability (3) and permission (10, 200-299) errors.
PERMISSION_CODES = frozenset({3, 10, *range(200, 300)})

GRAPH_ROUTES: dict[Channel, frozenset[ReplyRoute]] = {
    Channel.FACEBOOK: frozenset({ReplyRoute.PUBLIC_REPLY, ReplyRoute.PRIVATE_REPLY}),
    Channel.MESSENGER: frozenset({ReplyRoute.MESSAGE, ReplyRoute.HUMAN_AGENT_TAG}),
    Channel.INSTAGRAM: frozenset({ReplyRoute.PUBLIC_REPLY, ReplyRoute.PRIVATE_REPLY, ReplyRoute.MESSAGE,
                                  ReplyRoute.HUMAN_AGENT_TAG}),
    Channel.WHATSAPP: frozenset({ReplyRoute.MESSAGE, ReplyRoute.TEMPLATE}),
}


def _obj(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _account(message: OutboundMessage) -> str:
    # "me" is the page (or Instagram account) the token belongs to, as Meta's own examples send it
    return message.to.account_id or "me"


def graph_call(message: OutboundMessage, text: str | None) -> tuple[str, str, dict[str, str]]:
    """The node, edge and form fields of the Graph call that sends ``message``."""
    to, route, channel = message.to, message.route, message.channel
    if route is ReplyRoute.PUBLIC_REPLY:
        edge = "replies" if channel is Channel.INSTAGRAM else "comments"
        return to.platform_message_id, edge, {"message": text or ""}
    if channel is Channel.WHATSAPP:
        return _whatsapp(message, text)
    if route is ReplyRoute.PRIVATE_REPLY:  # one message per comment (or visitor post), within 7 days
        recipient = {"post_id" if to.kind is Kind.PUBLIC_POST else "comment_id": to.platform_message_id}
        return _account(message), "messages", {"recipient": _obj(recipient), "message": _obj({"text": text})}
    fields = {"recipient": _obj({"id": to.author_id}), "messaging_type": "RESPONSE", "message": _obj({"text": text})}
    if route is ReplyRoute.HUMAN_AGENT_TAG:  # up to 7 days after the customer's message, written by a person
        fields.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    return _account(message), "messages", fields


def _whatsapp(message: OutboundMessage, text: str | None) -> tuple[str, str, dict[str, str]]:
    to = message.to
    if not to.account_id:
        raise PermanentSendError("a WhatsApp reply needs the business phone-number id (to.account_id)",
                                 code="no_phone_number_id")
    fields = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.author_id}
    if message.route is ReplyRoute.TEMPLATE:
        template = message.template
        if template is None:
            raise PermanentSendError("a WhatsApp template reply needs a template", code="no_template")
        body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if template.parameters:
            body["components"] = [{"type": "body",
                                   "parameters": [{"type": "text", "text": p} for p in template.parameters]}]
        fields.update(type="template", template=_obj(body))
    else:  # free-form, inside the 24 h window, quoting the customer's message
        fields.update(type="text", text=_obj({"body": text}), context=_obj({"message_id": to.platform_message_id}))
    return to.account_id, "messages", fields


def send_graph(graph: facebook.GraphAPI, message: OutboundMessage, text: str | None,
               secrets: tuple[str, ...]) -> SendResult:
    """Send ``message`` through ``graph``; raises a ``SendError`` subclass."""
    import requests
    from facebook import GraphAPIError

    node, edge, fields = graph_call(message, text)
    seen: list[requests.Response] = []
    graph.session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    try:
        # quoted: an id is one path segment, whatever a payload put in it
        result = graph.put_object(quote(node, safe=""), edge, **fields)
    except GraphAPIError as exc:
        raise graph_error(exc.result, seen[-1] if seen else None, message.channel, secrets) from exc
    except requests.RequestException as exc:  # no answer: retried only if it never reached Graph
        raise transport_error(exc, "Graph API", secrets) from exc
    except (KeyError, ValueError) as exc:  # the SDK reads Content-Type and JSON unguarded
        raise graph_error(None, seen[-1] if seen else None, message.channel, secrets) from exc
    return _result(result, message)


def _result(result: Any, message: OutboundMessage) -> SendResult:
    """The id Graph gave the reply: ``id`` (comments), ``message_id`` (Send API), ``messages[0].id`` (WhatsApp)."""
    body = result if isinstance(result, dict) else {}
    recipient = body.get("recipient_id") or message.to.author_id
    if message.channel is Channel.WHATSAPP:
        sent, contacts = body.get("messages") or [{}], body.get("contacts") or [{}]
        found, recipient = sent[0].get("id"), contacts[0].get("wa_id") or message.to.author_id
    else:
        found = body.get("message_id") or body.get("id")
    if not found:
        # Graph took the request (2xx) but named nothing: retrying could send twice, so it is not retried
        raise PermanentSendError("Graph API answered without a message id", code="no_id")
    return SendResult(platform_message_id=str(found), recipient_id=str(recipient) if recipient else None)


def graph_error(body: Any, response: requests.Response | None, channel: Channel,
                secrets: tuple[str, ...]) -> SendError:
    """The send error for a Graph error body (``{"error": {"code", "error_subcode", "message"…}}``)
    and the HTTP response it came with: the Graph code decides, the status when there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    status = response.status_code if response is not None else None
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    detail = " - ".join(str(p) for p in (error.get("message"), details) if p) or _summary(response)
    label = f"{code}/{subcode}" if code is not None and subcode else (str(code) if code is not None else None)
    reason = safe(f"Graph API refused the {channel.value} reply ({f'code {label}, ' if label else ''}"
                  f"HTTP {status or '?'}): {detail}", secrets)
    label = label or (str(status) if status else None)  # the code the responder records: Graph's, else the status
    if code in CREDENTIAL_CODES or status == 401:
        return CredentialsError(reason, code=label, status=status)
    if code in RATE_LIMIT_CODES or status == 429:
        return RetryableSendError(reason, retry_after_s=_retry_after(response), code=label, status=status)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or (
            status is not None and status >= 500 and code not in PERMISSION_CODES):
        return RetryableSendError(reason, retry_after_s=_retry_after(response, default=None), code=label,
                                  status=status)
    # 10/2018278 and 131047 (outside the window), 131026 (undeliverable), 551 (person unavailable),
    # 10900 (already replied privately), 100 (bad parameter), 368 (blocked for policy)...
    return PermanentSendError(reason, code=label, status=status)


def _summary(response: requests.Response | None) -> str:
    if response is None:
        return "no answer"
    return (response.text or response.reason or "").strip().replace("\n", " ")[:200] or "empty answer"


def _retry_after(response: requests.Response | None, default: float | None = DEFAULT_RETRY_AFTER_S) -> float | None:
    """``Retry-After`` if Graph sent one, else the longest ``estimated_time_to_regain_access``
    (minutes) of ``X-Business-Use-Case-Usage`` (page tokens are limited per business use case)."""
    if response is None:
        return default
    from socialcare.crm.base import parse_retry_after  # the one RFC 9110 parser; imports requests

    after = parse_retry_after(response.headers.get("Retry-After"))
    if after is not None:
        return after
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = max((float(u.get("estimated_time_to_regain_access") or 0)
                       for uses in usage.values() for u in uses), default=0.0)
    except (ValueError, TypeError, AttributeError):
        minutes = 0.0
    return minutes * 60 if minutes > 0 else default
