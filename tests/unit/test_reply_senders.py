"""Sending replies: for every route, the exact request the platform documents goes out through the
real SDK (tweepy, facebook-sdk) to the configured base URL (``responses``; secrets in moto), and
each refusal becomes the send error the responder acts on, with no token in its text.

Sources of the data (ids made consistent across files, texts ours):
- X: POST /2/tweets and the DM endpoints, their 201 bodies, problem documents, the 429 body and
  ``x-rate-limit-reset`` (docs.x.com, ``xdevplatform/docs``: x-api/posts/manage-tweets/integrate,
  x-api/direct-messages/manage/quickstart, x-api/fundamentals/response-codes-and-errors and
  rate-limits); the duplicate-content detail is X's own wording.
- Graph: the Send API (developers.facebook.com/docs/messenger-platform/reference/send-api), its
  error codes (.../send-api/error-codes: 10/2018278 "outside of allowed window", 551), private
  replies (Messenger and Instagram Platform pages), Graph "Handling Errors" (codes 2, 4, 102, 190),
  the WhatsApp Cloud API text/template/contextual-reply pages and error codes (130429 "Rate
  limit hit" with subcode 2494055, 131047 "Re-engagement message", 131026 "Message undeliverable"),
  and the wamid / phone-number id of Meta's own examples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
import requests
import responses
import urllib3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from oauthlib.oauth1.rfc5849 import signature, utils

from socialcare.models.interaction import Channel, Kind
from socialcare.models.reply import (
    CredentialsError,
    OutboundMessage,
    PermanentSendError,
    ReplyRoute,
    ReplyTo,
    RetryableSendError,
    SendError,
    TemplateRef,
)
from socialcare.platforms import Platforms
from socialcare.platforms.senders import Senders
from socialcare.secrets import SecretStore

X_URL, GRAPH_URL, VERSION = "http://x.fake.test:8080/prefix", "http://graph.fake.test:9090", "v21.0"
GRAPH = f"{GRAPH_URL}/{VERSION}"
BRAND_X, CUSTOMER_X, TWEET = "2244994945", "783214", "1445880548472328192"
CONVERSATION = f"{CUSTOMER_X}-{BRAND_X}"  # one-to-one: smaller id first
X_CREDS = {"consumer_key": "ck-brand", "consumer_secret": "cs-secret-brand", "access_token": "2244994945-at-brand",
           "access_token_secret": "ats-secret-brand"}
PAGE, PSID, IG_ACCOUNT, IGSID = "104000000000777", "1254459154682919", "17841400000000777", "1914934501906573"
FB_COMMENT, FB_POST = "104000000000777_880000000000123", "104000000000777_461184817813069"
IG_COMMENT = "17865799348089039"
PHONE_ID, WA_ID = "106540352242922", "16505551234"
WAMID_IN = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA="
WAMID_OUT = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
TOKENS = {"default": "EAAdefault-token", PAGE: "EAApage-token-777", IG_ACCOUNT: "EAAig-token-777",
          PHONE_ID: "EAAwa-token-777"}
SECRETS = [*X_CREDS.values(), *TOKENS.values()]
TEXT = "Sorry about order 482130, Anna. We have sent you a DM."


def target(channel: str, kind: str, message_id: str, author: str, account: str | None, **extra: Any) -> ReplyTo:
    now = datetime.now(UTC)
    return ReplyTo(interaction_id=f"{channel}:{message_id}", channel=Channel(channel), kind=Kind(kind),
                   public=kind != "direct_message", platform_message_id=message_id, author_id=author,
                   account_id=account, occurred_at=now - timedelta(minutes=5), last_inbound_at=now, **extra)


def outbound(to: ReplyTo, route: ReplyRoute, **extra: Any) -> OutboundMessage:
    return OutboundMessage(interaction_id="reply:0f3c", case_id="CASE-000123", channel=to.channel, route=route,
                           to=to, text=extra.pop("text", TEXT), source="api", agent="marta", **extra)


TWEET_TO = target("x", "public_post", TWEET, CUSTOMER_X, BRAND_X)
X_DM_TO = target("x", "direct_message", "1582838000000000001", CUSTOMER_X, BRAND_X,
                 conversation_id=CONVERSATION)
FB_COMMENT_TO = target("facebook", "comment", FB_COMMENT, "10158000000000777", PAGE)
IG_COMMENT_TO = target("instagram", "comment", IG_COMMENT, IGSID, IG_ACCOUNT)
MESSENGER_TO = target("messenger", "direct_message", "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM", PSID, PAGE)
IG_DM_TO = target("instagram", "direct_message", "aWdfZAG1faXRlbTox", IGSID, IG_ACCOUNT)
WA_TO = target("whatsapp", "direct_message", WAMID_IN, WA_ID, PHONE_ID)


@pytest.fixture
def senders() -> Iterator[Senders]:
    """Senders as wiring builds them: the platform clients on fake hosts, the secrets in moto."""
    with mock_aws(), responses.mock:  # moto first: its own mock then passes AWS calls through this one
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        x_arn = sm.create_secret(Name="x", SecretString=json.dumps(
            {BRAND_X: X_CREDS, "default": {"bearer_token": "app-only-bearer"}}))["ARN"]
        meta_arn = sm.create_secret(Name="meta", SecretString=json.dumps(TOKENS))["ARN"]
        parameters.clear_caches()
        platforms = Platforms(x_api_url=X_URL, graph_api_url=GRAPH_URL, graph_api_version=VERSION)
        yield Senders(platforms, SecretStore({"x_api_credentials": x_arn, "meta_access_tokens": meta_arn}))
        parameters.clear_caches()


def sent() -> requests.PreparedRequest:
    assert len(responses.calls) == 1, [c.request.url for c in responses.calls]
    return responses.calls[0].request


def form(request: requests.PreparedRequest) -> dict[str, Any]:
    """A Graph form body, object fields decoded (they travel as JSON text)."""
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(str(request.body)).items()}
    return {k: json.loads(v) if v.startswith(("{", "[")) else v for k, v in fields.items()}


def assert_oauth1_signed_for_x(request: requests.PreparedRequest, url: str) -> None:
    """OAuth 1.0a user context, signed for the X URL tweepy built (what X verifies)."""
    header = str(request.headers["Authorization"])
    assert header.startswith("OAuth ")
    params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
    assert params["oauth_consumer_key"] == X_CREDS["consumer_key"] and params["oauth_token"] == X_CREDS["access_token"]
    assert params["oauth_signature_method"] == "HMAC-SHA1"
    collected = signature.collect_parameters(headers={"Authorization": header}, exclude_oauth_signature=True)
    base = signature.signature_base_string("POST", signature.base_string_uri(url),
                                           signature.normalize_parameters(collected))
    secrets = SimpleNamespace(client_secret=X_CREDS["consumer_secret"],
                              resource_owner_secret=X_CREDS["access_token_secret"])
    assert params["oauth_signature"] == signature.sign_hmac_sha1_with_client(base, secrets)


def assert_no_secret(exc: BaseException) -> None:
    """No credential in the error's text, its reason, or any exception it was raised from."""
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), str(getattr(seen, "reason", ""))]
        seen = seen.__cause__ or seen.__context__
    for secret in SECRETS:
        assert all(secret not in text for text in texts), (secret, texts)


def refused(senders: Senders, message: OutboundMessage, error: type[SendError]) -> SendError:
    with pytest.raises(error) as caught:
        senders.send(message, TEXT)
    assert_no_secret(caught.value)
    return caught.value


# ---------------------------------------------------------------------------- X
def test_a_public_reply_on_x_is_a_post_in_reply_to_the_customers_post(senders: Senders) -> None:
    responses.post(f"{X_URL}/2/tweets", status=201,
                   json={"data": {"edit_history_tweet_ids": ["1445880548472328200"], "id": "1445880548472328200",
                                  "text": TEXT}})

    result = senders.send(outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY), TEXT)

    assert result.platform_message_id == "1445880548472328200" and result.recipient_id == CUSTOMER_X
    request = sent()
    assert request.method == "POST" and request.url == f"{X_URL}/2/tweets"
    assert json.loads(request.body or b"") == {"text": TEXT, "reply": {"in_reply_to_tweet_id": TWEET}}
    assert_oauth1_signed_for_x(request, "https://api.twitter.com/2/tweets")


def test_a_dm_to_the_author_of_a_post_goes_to_the_one_to_one_conversation_with_them(senders: Senders) -> None:
    responses.post(f"{X_URL}/2/dm_conversations/with/{CUSTOMER_X}/messages", status=201,
                   json={"data": {"dm_conversation_id": CONVERSATION, "dm_event_id": "1582103724607971332"}})

    result = senders.send(outbound(TWEET_TO, ReplyRoute.DIRECT_MESSAGE), TEXT)

    assert result.platform_message_id == "1582103724607971332"
    request = sent()
    assert json.loads(request.body or b"") == {"text": TEXT}
    assert_oauth1_signed_for_x(request, f"https://api.twitter.com/2/dm_conversations/with/{CUSTOMER_X}/messages")


def test_an_answer_to_a_dm_goes_to_its_conversation(senders: Senders) -> None:
    responses.post(f"{X_URL}/2/dm_conversations/{CONVERSATION}/messages", status=201,
                   json={"data": {"dm_conversation_id": CONVERSATION, "dm_event_id": "1582106224379559940"}})

    result = senders.send(outbound(X_DM_TO, ReplyRoute.MESSAGE), "Thanks, Anna: refund on its way.")

    assert result.platform_message_id == "1582106224379559940"
    assert json.loads(sent().body or b"") == {"text": "Thanks, Anna: refund on its way."}


def test_x_refusals_become_the_errors_the_responder_acts_on(senders: Senders) -> None:
    reply = outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY)
    url = f"{X_URL}/2/tweets"
    responses.post(url, status=403, json={
        "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
        "title": "Forbidden", "status": 403})
    duplicate = refused(senders, reply, PermanentSendError)
    assert duplicate.status == 403 and "duplicate content" in duplicate.reason

    responses.post(url, status=401, json={"title": "Unauthorized", "type": "about:blank", "status": 401,
                                          "detail": "Unauthorized"})
    assert refused(senders, reply, CredentialsError).status == 401

    responses.post(url, status=400, json={"errors": [{"parameters": {"reply.in_reply_to_tweet_id": [TWEET]},
                                                      "message": "The `reply.in_reply_to_tweet_id` query parameter "
                                                                 "value [1445880548472328192] is not valid"}],
                                          "title": "Invalid Request", "detail": "One or more parameters to your "
                                          "request was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"})
    invalid = refused(senders, reply, PermanentSendError)
    assert invalid.code == "invalid-request" and "is not valid" in invalid.reason

    responses.post(url, status=503, json={"title": "Service Unavailable", "detail": "Service Unavailable",
                                          "type": "about:blank", "status": 503})
    assert refused(senders, reply, RetryableSendError).status == 503
    assert len(responses.calls) == 4


def test_an_x_rate_limit_waits_until_the_windows_reset(senders: Senders) -> None:
    reset = int(time.time()) + 120
    responses.post(f"{X_URL}/2/tweets", status=429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
                   headers={"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                            "x-rate-limit-reset": str(reset)})

    error = refused(senders, outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY), RetryableSendError)

    assert error.retry_after_s is not None and 110 <= error.retry_after_s <= 121
    assert error.code == "88" and "Rate limit exceeded" in error.reason


def _refused_connection() -> requests.exceptions.ConnectionError:
    """What requests raises when nothing listens: the request never left the machine."""
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def _dropped_connection() -> requests.exceptions.ConnectionError:
    """What requests raises when the platform hangs up after the request went out."""
    reason = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
    return requests.exceptions.ConnectionError(reason)


NEVER_SENT = [requests.exceptions.ConnectTimeout("connect timed out"), _refused_connection()]
MAYBE_SENT = [requests.exceptions.ReadTimeout("read timed out"), _dropped_connection()]


@pytest.mark.parametrize("failure", NEVER_SENT)
def test_x_not_reached_is_retried(senders: Senders, failure: Exception) -> None:
    responses.post(f"{X_URL}/2/dm_conversations/with/{CUSTOMER_X}/messages", body=failure)

    refused(senders, outbound(TWEET_TO, ReplyRoute.DIRECT_MESSAGE), RetryableSendError)


@pytest.mark.parametrize("failure", MAYBE_SENT)
def test_x_silent_after_the_request_went_out_is_not_retried_for_it_may_have_posted(
        senders: Senders, failure: Exception) -> None:
    responses.post(f"{X_URL}/2/tweets", body=failure)

    error = refused(senders, outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY), PermanentSendError)

    assert error.code == "outcome_unknown" and "may have been posted" in error.reason


def test_x_sends_need_the_accounts_oauth1_user_credentials(senders: Senders) -> None:
    # the default entry holds only the app's bearer token: it can read mentions, never post as a user
    elsewhere = TWEET_TO.model_copy(update={"account_id": "99999"})
    error = refused(senders, outbound(elsewhere, ReplyRoute.PUBLIC_REPLY), CredentialsError)
    assert "99999" in error.reason and not responses.calls


# ---------------------------------------------------------------------------- Facebook, Instagram
@pytest.mark.parametrize(("to", "edge", "token"), [(FB_COMMENT_TO, "comments", TOKENS[PAGE]),
                                                   (IG_COMMENT_TO, "replies", TOKENS[IG_ACCOUNT])])
def test_a_public_reply_is_a_comment_under_the_customers_comment(senders: Senders, to: ReplyTo, edge: str,
                                                                   token: str) -> None:
    responses.post(f"{GRAPH}/{to.platform_message_id}/{edge}", json={"id": "17858893269000001"})

    result = senders.send(outbound(to, ReplyRoute.PUBLIC_REPLY), TEXT)

    assert result.platform_message_id == "17858893269000001"
    request = sent()
    assert request.method == "POST" and "Authorization" not in request.headers
    assert form(request) == {"message": TEXT, "access_token": token}


@pytest.mark.parametrize(("to", "node", "recipient"), [
    (FB_COMMENT_TO, PAGE, {"comment_id": FB_COMMENT}),
    (target("facebook", "public_post", FB_POST, "10158000000000777", PAGE), PAGE, {"post_id": FB_POST}),
    (IG_COMMENT_TO, IG_ACCOUNT, {"comment_id": IG_COMMENT}),
])
def test_a_private_reply_is_a_message_to_the_comment(senders: Senders, to: ReplyTo, node: str,
                                                     recipient: dict[str, str]) -> None:
    responses.post(f"{GRAPH}/{node}/messages", json={"recipient_id": "1008372609250235", "message_id": "m_pr1"})

    result = senders.send(outbound(to, ReplyRoute.PRIVATE_REPLY), TEXT)

    assert (result.platform_message_id, result.recipient_id) == ("m_pr1", "1008372609250235")
    fields = form(sent())
    assert fields.pop("access_token") == TOKENS[node]
    assert fields == {"recipient": recipient, "message": {"text": TEXT}}


@pytest.mark.parametrize(("to", "route", "extra"), [
    (MESSENGER_TO, ReplyRoute.MESSAGE, {"messaging_type": "RESPONSE"}),
    (MESSENGER_TO, ReplyRoute.HUMAN_AGENT_TAG, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
    (IG_DM_TO, ReplyRoute.MESSAGE, {"messaging_type": "RESPONSE"}),
    (IG_DM_TO, ReplyRoute.HUMAN_AGENT_TAG, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
])
def test_a_message_goes_through_the_send_api_to_the_customers_scoped_id(
    senders: Senders, to: ReplyTo, route: ReplyRoute, extra: dict[str, str]
) -> None:
    assert to.account_id is not None
    responses.post(f"{GRAPH}/{to.account_id}/messages", json={"recipient_id": to.author_id, "message_id": "m_1"})

    result = senders.send(outbound(to, route), TEXT)

    assert (result.platform_message_id, result.recipient_id) == ("m_1", to.author_id)
    assert form(sent()) == {"recipient": {"id": to.author_id}, "message": {"text": TEXT},
                            "access_token": TOKENS[to.account_id], **extra}


def test_without_an_account_the_send_api_is_called_on_the_tokens_own_page(senders: Senders) -> None:
    responses.post(f"{GRAPH}/me/messages", json={"recipient_id": PSID, "message_id": "m_2"})

    senders.send(outbound(MESSENGER_TO.model_copy(update={"account_id": None}), ReplyRoute.MESSAGE), TEXT)

    assert form(sent())["access_token"] == TOKENS["default"]


# ---------------------------------------------------------------------------- WhatsApp
WA_ANSWER = {"messaging_product": "whatsapp", "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
             "messages": [{"id": WAMID_OUT}]}


def test_a_whatsapp_reply_quotes_the_customers_message(senders: Senders) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", json=WA_ANSWER)

    result = senders.send(outbound(WA_TO, ReplyRoute.MESSAGE), TEXT)

    assert (result.platform_message_id, result.recipient_id) == (WAMID_OUT, WA_ID)
    assert form(sent()) == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
                            "type": "text", "text": {"body": TEXT}, "context": {"message_id": WAMID_IN},
                            "access_token": TOKENS[PHONE_ID]}


@pytest.mark.parametrize(("parameters", "components"), [
    (["Anna", "482130"], [{"type": "body", "parameters": [{"type": "text", "text": "Anna"},
                                                          {"type": "text", "text": "482130"}]}]),
    ([], None),
])
def test_a_whatsapp_template_names_the_template_its_language_and_body_parameters(
    senders: Senders, parameters: list[str], components: list[dict[str, Any]] | None
) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", json={**WA_ANSWER, "messages": [
        {"id": WAMID_OUT, "message_status": "accepted"}]})
    template = TemplateRef(name="order_update", language="en_GB", parameters=parameters, category="utility")

    result = senders.send(outbound(WA_TO, ReplyRoute.TEMPLATE, text=None, template=template), None)

    assert result.platform_message_id == WAMID_OUT
    expected = {"name": "order_update", "language": {"code": "en_GB"}}
    fields = form(sent())
    assert fields["type"] == "template" and fields["to"] == WA_ID and "text" not in fields
    assert fields["template"] == ({**expected, "components": components} if components else expected)


# ---------------------------------------------------------------------------- Graph refusals
def graph_refusal(status: int, code: int, message: str, **more: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **more,
                      "fbtrace_id": "AbCdEfGhIjK"}}


@pytest.mark.parametrize(("to", "route", "status", "body", "error", "says"), [
    (MESSENGER_TO, ReplyRoute.MESSAGE, 400, graph_refusal(
        400, 10, "(#10) This message is sent outside of allowed window.", error_subcode=2018278),
     PermanentSendError, "10/2018278"),
    (MESSENGER_TO, ReplyRoute.MESSAGE, 400, graph_refusal(400, 551, "This person isn't available right now.",
                                                          error_subcode=1545041), PermanentSendError, "551"),
    (WA_TO, ReplyRoute.MESSAGE, 400, graph_refusal(
        400, 131047, "(#131047) Re-engagement message", error_data={
            "messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have "
                                                        "passed since the customer last replied to this number."}),
     PermanentSendError, "more than 24 hours"),
    (WA_TO, ReplyRoute.MESSAGE, 400, graph_refusal(400, 131026, "(#131026) Message undeliverable"),
     PermanentSendError, "131026"),
    (FB_COMMENT_TO, ReplyRoute.PUBLIC_REPLY, 400, graph_refusal(
        400, 190, "Error validating access token: Session has expired on Friday, 09-Jan-26 10:00:00 PST.",
        error_subcode=463), CredentialsError, "190/463"),
    (IG_DM_TO, ReplyRoute.MESSAGE, 400, graph_refusal(400, 102, "API Session"), CredentialsError, "102"),
    (WA_TO, ReplyRoute.MESSAGE, 401, graph_refusal(401, 0, "(#0) AuthException"), CredentialsError, "HTTP 401"),
    (MESSENGER_TO, ReplyRoute.MESSAGE, 500, graph_refusal(500, 2, "An unexpected error has occurred. Please retry "
                                                          "your request later.", is_transient=True),
     RetryableSendError, "code 2"),
    (WA_TO, ReplyRoute.MESSAGE, 500, graph_refusal(500, 3, "(#3) Capability or permissions issue."),
     PermanentSendError, "code 3"),
])
def test_graph_refusals_become_the_errors_the_responder_acts_on(
    senders: Senders, to: ReplyTo, route: ReplyRoute, status: int, body: dict[str, Any], error: type[SendError],
    says: str,
) -> None:
    responses.post(f"{GRAPH}/{to.account_id}/messages" if route is not ReplyRoute.PUBLIC_REPLY
                   else f"{GRAPH}/{to.platform_message_id}/comments", status=status, json=body)

    refusal = refused(senders, outbound(to, route), error)

    assert type(refusal) is error and says in refusal.reason and refusal.status == status


@pytest.mark.parametrize(("status", "code", "headers", "wait"), [
    (400, 4, {}, 60.0),  # "Application request limit reached": no hint, the default
    (400, 32, {"Retry-After": "30"}, 30.0),
    (400, 80007, {"X-Business-Use-Case-Usage": json.dumps({"102290129340398": [
        {"type": "whatsapp", "call_count": 100, "total_cputime": 2, "total_time": 3,
         "estimated_time_to_regain_access": 5}]})}, 300.0),
    (429, 130429, {}, 60.0),
    (400, 131056, {}, 60.0),
])
def test_graph_rate_limits_are_retried_later(senders: Senders, status: int, code: int, headers: dict[str, str],
                                             wait: float) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", status=status, headers=headers,
                   json=graph_refusal(status, code, f"(#{code}) Rate limit hit", error_subcode=2494055))

    refusal = refused(senders, outbound(WA_TO, ReplyRoute.MESSAGE), RetryableSendError)

    assert isinstance(refusal, RetryableSendError) and refusal.retry_after_s == pytest.approx(wait, abs=1)


def test_a_graph_outage_page_is_retried_and_its_echoed_token_masked(senders: Senders) -> None:
    # a proxy's HTML error page that echoes the request, token and all
    responses.post(f"{GRAPH}/{PAGE}/messages", status=502, content_type="text/html",
                   body=f"<html>502 Bad Gateway: POST /{PAGE}/messages?access_token={TOKENS[PAGE]}</html>")

    refusal = refused(senders, outbound(MESSENGER_TO, ReplyRoute.MESSAGE), RetryableSendError)

    assert refusal.status == 502 and "502 Bad Gateway" in refusal.reason


@pytest.mark.parametrize("failure", NEVER_SENT)
def test_graph_not_reached_is_retried(senders: Senders, failure: Exception) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", body=failure)

    refused(senders, outbound(WA_TO, ReplyRoute.MESSAGE), RetryableSendError)


@pytest.mark.parametrize("failure", MAYBE_SENT)
def test_graph_silent_after_the_request_went_out_is_not_retried(senders: Senders, failure: Exception) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", body=failure)

    error = refused(senders, outbound(WA_TO, ReplyRoute.MESSAGE), PermanentSendError)

    assert error.code == "outcome_unknown"


def test_an_accepted_send_without_an_id_is_not_retried(senders: Senders) -> None:
    responses.post(f"{GRAPH}/{PHONE_ID}/messages", json={"messaging_product": "whatsapp"})

    error = refused(senders, outbound(WA_TO, ReplyRoute.MESSAGE), PermanentSendError)

    assert error.code == "no_id"


# ---------------------------------------------------------------------------- nothing sent
def test_a_meta_account_without_a_token_is_a_credentials_error(senders: Senders) -> None:
    with mock_aws():  # a fresh moto: the tokens secret has no default and no entry for this page
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = sm.create_secret(Name="meta-other", SecretString=json.dumps({"999": "EAAother"}))["ARN"]
        parameters.clear_caches()
        other = Senders(senders.platforms, SecretStore({"meta_access_tokens": arn}))

        error = refused(other, outbound(MESSENGER_TO, ReplyRoute.MESSAGE), CredentialsError)

    assert PAGE in error.reason and not responses.calls
    assert refused(other, outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY), CredentialsError).code == "no_credentials"


@pytest.mark.parametrize(("message", "code"), [
    (outbound(MESSENGER_TO, ReplyRoute.PUBLIC_REPLY), "unsupported_route"),
    (outbound(WA_TO, ReplyRoute.PRIVATE_REPLY), "unsupported_route"),
    (outbound(TWEET_TO, ReplyRoute.TEMPLATE), "unsupported_route"),
    (outbound(WA_TO, ReplyRoute.TEMPLATE, text=None), "no_template"),
    (outbound(WA_TO.model_copy(update={"account_id": None}), ReplyRoute.MESSAGE), "no_phone_number_id"),
])
def test_a_reply_the_platform_cannot_take_is_refused_without_a_call(senders: Senders, message: OutboundMessage,
                                                                    code: str) -> None:
    with pytest.raises(PermanentSendError) as caught:
        senders.send(message, TEXT if message.route is not ReplyRoute.TEMPLATE else None)

    assert caught.value.code == code and not responses.calls


def test_a_reply_without_text_is_refused(senders: Senders) -> None:
    with pytest.raises(PermanentSendError) as caught:
        senders.send(outbound(MESSENGER_TO, ReplyRoute.MESSAGE, text=None), "  ")

    assert caught.value.code == "no_text" and not responses.calls
