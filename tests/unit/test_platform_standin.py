"""The local stack's platform stand-in answers the sends as X and Graph document them, records what
it received (tokens masked) and plays scripted failures: driven by the real SDKs through
``Senders``, against the stand-in on a loopback port.

Sockets: this file lets the test connect to 127.0.0.1 only (the stand-in is a werkzeug server
in this process); every other host stays refused, as in the rest of the unit tier. Secrets are in
moto. Data: the ids and bodies of tests/unit/test_reply_senders.py (same sources).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pytest_socket import enable_socket, socket_allow_hosts

from socialcare.models.interaction import Channel, Kind
from socialcare.models.reply import (
    OutboundMessage,
    PermanentSendError,
    ReplyRoute,
    ReplyTo,
    RetryableSendError,
    TemplateRef,
)
from socialcare.platforms import Platforms
from socialcare.platforms.senders import Senders
from socialcare.secrets import SecretStore
from socialcare_infra.platform_standin import PlatformStandIn

BRAND_X, CUSTOMER_X, TWEET = "2244994945", "783214", "1445880548472328192"
X_CREDS = {"consumer_key": "ck-brand", "consumer_secret": "cs-secret-brand", "access_token": "2244994945-at-brand",
           "access_token_secret": "ats-secret-brand"}
PAGE, PSID, IG_ACCOUNT, IGSID = "104000000000777", "1254459154682919", "17841400000000777", "1914934501906573"
FB_COMMENT, IG_COMMENT = "104000000000777_880000000000123", "17865799348089039"
PHONE_ID, WA_ID = "106540352242922", "16505551234"
WAMID_IN = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA="
TOKEN = "EAApage-token-777"
SECRETS = [X_CREDS["consumer_secret"], X_CREDS["access_token"], X_CREDS["access_token_secret"], TOKEN]
TEXT = "Sorry about order 482130, Anna. We have sent you a DM."


def target(channel: str, kind: str, message_id: str, author: str, account: str, **extra: Any) -> ReplyTo:
    now = datetime.now(UTC)
    return ReplyTo(interaction_id=f"{channel}:{message_id}", channel=Channel(channel), kind=Kind(kind),
                   public=kind != "direct_message", platform_message_id=message_id, author_id=author,
                   account_id=account, occurred_at=now - timedelta(minutes=5), last_inbound_at=now, **extra)


def outbound(to: ReplyTo, route: ReplyRoute, **extra: Any) -> OutboundMessage:
    return OutboundMessage(interaction_id="reply:0f3c", case_id="CASE-000123", channel=to.channel, route=route,
                           to=to, text=extra.pop("text", TEXT), source="api", **extra)


TWEET_TO = target("x", "public_post", TWEET, CUSTOMER_X, BRAND_X)
X_DM_TO = target("x", "direct_message", "1582838000000000001", CUSTOMER_X, BRAND_X,
                 conversation_id=f"{CUSTOMER_X}-{BRAND_X}")
WA_TO = target("whatsapp", "direct_message", WAMID_IN, WA_ID, PHONE_ID)
EVERY_ROUTE = [
    (outbound(TWEET_TO, ReplyRoute.PUBLIC_REPLY), "/2/tweets"),
    (outbound(TWEET_TO, ReplyRoute.DIRECT_MESSAGE), f"/2/dm_conversations/with/{CUSTOMER_X}/messages"),
    (outbound(X_DM_TO, ReplyRoute.MESSAGE), f"/2/dm_conversations/{CUSTOMER_X}-{BRAND_X}/messages"),
    (outbound(target("facebook", "comment", FB_COMMENT, "10158000000000777", PAGE), ReplyRoute.PUBLIC_REPLY),
     f"/v21.0/{FB_COMMENT}/comments"),
    (outbound(target("facebook", "comment", FB_COMMENT, "10158000000000777", PAGE), ReplyRoute.PRIVATE_REPLY),
     f"/v21.0/{PAGE}/messages"),
    (outbound(target("instagram", "comment", IG_COMMENT, IGSID, IG_ACCOUNT), ReplyRoute.PUBLIC_REPLY),
     f"/v21.0/{IG_COMMENT}/replies"),
    (outbound(target("instagram", "comment", IG_COMMENT, IGSID, IG_ACCOUNT), ReplyRoute.PRIVATE_REPLY),
     f"/v21.0/{IG_ACCOUNT}/messages"),
    (outbound(target("messenger", "direct_message", "m_AG5Hz2Uq7tuw", PSID, PAGE), ReplyRoute.MESSAGE),
     f"/v21.0/{PAGE}/messages"),
    (outbound(target("instagram", "direct_message", "aWdfZAG1faXRlbTox", IGSID, IG_ACCOUNT),
              ReplyRoute.HUMAN_AGENT_TAG), f"/v21.0/{IG_ACCOUNT}/messages"),
    (outbound(WA_TO, ReplyRoute.MESSAGE), f"/v21.0/{PHONE_ID}/messages"),
    (outbound(WA_TO, ReplyRoute.TEMPLATE, text=None, template=TemplateRef(name="order_update", parameters=["Anna"])),
     f"/v21.0/{PHONE_ID}/messages"),
]


@pytest.fixture
def loopback() -> Iterator[None]:
    # sockets on, but connections only to 127.0.0.1: the stand-in, never the internet
    enable_socket()
    connect = socket.socket.connect
    socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    yield
    # as after any test (pytest-socket's own teardown runs before this one): sockets back as they
    # were, for whatever test this worker runs next (the unit tier's conftest refuses them again)
    socket.socket.connect = connect  # type: ignore[method-assign]
    enable_socket()


@pytest.fixture
def standin(loopback: None) -> Iterator[PlatformStandIn]:
    server = PlatformStandIn({PSID: {"first_name": "Peter", "last_name": "Chang", "name": "Peter Chang"}}).serve()
    yield server
    server.stop()


@pytest.fixture
def senders(standin: PlatformStandIn) -> Iterator[Senders]:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        x_arn = sm.create_secret(Name="x", SecretString=json.dumps({"default": X_CREDS}))["ARN"]
        meta_arn = sm.create_secret(Name="meta", SecretString=json.dumps({"default": TOKEN}))["ARN"]
        parameters.clear_caches()
        platforms = Platforms(x_api_url=standin.url, graph_api_url=standin.url, graph_api_version="v21.0")
        yield Senders(platforms, SecretStore({"x_api_credentials": x_arn, "meta_access_tokens": meta_arn}))
        parameters.clear_caches()


def seen(standin: PlatformStandIn) -> list[dict[str, Any]]:
    answer = requests.get(f"{standin.url}/_standin/requests", timeout=5)
    assert answer.status_code == 200
    records: list[dict[str, Any]] = answer.json()
    return records


def fail(standin: PlatformStandIn, rule: dict[str, Any]) -> requests.Response:
    return requests.post(f"{standin.url}/_standin/fail", json=rule, timeout=5)


def test_every_route_is_answered_as_documented_with_fresh_ids_and_recorded(
    senders: Senders, standin: PlatformStandIn
) -> None:
    results = [senders.send(message, message.text) for message, _ in EVERY_ROUTE]

    ids = [r.platform_message_id for r in results]
    assert len(set(ids)) == len(ids)  # fresh every time
    assert ids[0].isdigit() and len(ids[0]) >= 18  # a snowflake, like X's
    assert ids[3].startswith("104000000000777_")  # a comment id under the page's post
    assert ids[7].startswith("m_") and ids[9].startswith("wamid.") and results[9].recipient_id == WA_ID
    records = seen(standin)
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("POST", path, 201 if path.startswith("/2/") else 200) for _, path in EVERY_ROUTE]
    assert records[0]["body"] == {"text": TEXT, "reply": {"in_reply_to_tweet_id": TWEET}}
    assert records[7]["body"]["recipient"] == json.dumps({"id": PSID}, separators=(",", ":"))
    assert json.loads(records[10]["body"]["template"]) == {
        "name": "order_update", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Anna"}]}]}


def test_the_record_and_the_log_mask_tokens_and_signatures_and_keep_what_identifies_the_app(
    senders: Senders, standin: PlatformStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    senders.send(*EVERY_ROUTE[0])
    senders.send(EVERY_ROUTE[7][0], TEXT)
    requests.get(f"{standin.url}/v21.0/{PSID}", params={"fields": "name", "access_token": TOKEN}, timeout=5)

    records = seen(standin)
    text = json.dumps(records)
    assert all(secret not in text for secret in SECRETS)
    oauth = records[0]["headers"]["Authorization"]
    assert 'oauth_consumer_key="ck-brand"' in oauth and 'oauth_signature="[REDACTED]"' in oauth
    assert records[1]["body"]["access_token"] == "[REDACTED]"
    assert records[2]["query"] == {"fields": "name", "access_token": "[REDACTED]"}
    assert standin.requests[-1] == ("GET", f"/v21.0/{PSID}")
    assert f"GET /v21.0/{PSID}?fields=name&access_token=[REDACTED]" in caplog.text and TOKEN not in caplog.text

    assert requests.delete(f"{standin.url}/_standin/requests", timeout=5).status_code == 204
    assert seen(standin) == []


def test_a_scripted_rate_limit_is_answered_once_then_the_platform_recovers(
    senders: Senders, standin: PlatformStandIn
) -> None:
    reset = int(time.time()) + 300
    rule = {"path_contains": "/2/tweets", "status": 429, "times": 1, "method": "POST",
            "body": {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
            "headers": {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}}
    assert fail(standin, rule).status_code == 201

    with pytest.raises(RetryableSendError) as limited:
        senders.send(*EVERY_ROUTE[0])
    assert limited.value.retry_after_s is not None and 290 <= limited.value.retry_after_s <= 301
    assert senders.send(*EVERY_ROUTE[0]).platform_message_id  # times: 1
    assert [r["status"] for r in seen(standin)] == [429, 201]


def test_a_scripted_whatsapp_refusal_reaches_the_sender_as_graph_sends_it(senders: Senders,
                                                                          standin: PlatformStandIn) -> None:
    refusal = {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                         "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because "
                                        "more than 24 hours have passed since the customer last replied."},
                         "fbtrace_id": "AbCdEfGhIjK"}}
    assert fail(standin, {"path_contains": f"/{PHONE_ID}/messages", "status": 400, "body": refusal}).status_code == 201
    assert requests.get(f"{standin.url}/_standin/fail", timeout=5).json()[0]["status"] == 400

    with pytest.raises(PermanentSendError) as refused:
        senders.send(outbound(WA_TO, ReplyRoute.MESSAGE), TEXT)

    assert refused.value.code == "131047" and "more than 24 hours" in refused.value.reason
    assert requests.get(f"{standin.url}/_standin/fail", timeout=5).json() == []


@pytest.mark.parametrize("rule", [{}, {"path_contains": "/2/tweets"}, {"path_contains": "", "status": 500},
                                  {"path_contains": "/x", "status": 99}, {"path_contains": "/x", "status": 500,
                                                                           "times": 0}, {"status": 500, "oops": 1}])
def test_a_bad_failure_rule_is_a_clear_400(standin: PlatformStandIn, rule: dict[str, Any]) -> None:
    answer = fail(standin, rule)

    assert answer.status_code == 400 and answer.json()["error"] == "bad_request" and answer.json()["errors"]


def test_bad_control_requests_are_json_errors(standin: PlatformStandIn) -> None:
    garbage = requests.post(f"{standin.url}/_standin/fail", data=b"{not json", timeout=5)
    unknown = requests.get(f"{standin.url}/_standin/nothing", timeout=5)
    wrong = requests.put(f"{standin.url}/_standin/requests", timeout=5)

    assert (garbage.status_code, unknown.status_code, wrong.status_code) == (400, 404, 405)
    assert all(r.headers["Content-Type"] == "application/json" for r in (garbage, unknown, wrong))


def test_a_send_without_a_token_or_its_fields_is_refused_as_the_platform_would(standin: PlatformStandIn) -> None:
    graph = f"{standin.url}/v21.0/{PAGE}/messages"
    no_token = requests.post(graph, data={"recipient": json.dumps({"id": PSID}), "message": '{"text":"hi"}'}, timeout=5)
    no_recipient = requests.post(graph, data={"message": '{"text":"hi"}', "access_token": TOKEN}, timeout=5)
    no_body = requests.post(f"{standin.url}/v21.0/{PHONE_ID}/messages", timeout=5, data={
        "messaging_product": "whatsapp", "to": WA_ID, "type": "text", "access_token": TOKEN})
    unsigned = requests.post(f"{standin.url}/2/tweets", json={"text": "hi"}, timeout=5)
    empty = requests.post(f"{standin.url}/2/tweets", json={"text": " "}, headers={"Authorization": "Bearer t"},
                          timeout=5)

    assert no_token.status_code == 400 and no_token.json()["error"]["code"] == 2500
    assert no_recipient.status_code == 400 and no_recipient.json()["error"]["code"] == 100
    assert no_body.status_code == 400 and no_body.json()["error"]["code"] == 100
    assert unsigned.status_code == 401 and unsigned.json()["title"] == "Unauthorized"
    assert empty.status_code == 400 and empty.json()["type"].endswith("/invalid-request")


def test_profiles_and_missing_media_are_answered_as_before(standin: PlatformStandIn) -> None:
    profile = requests.get(f"{standin.url}/v21.0/{PSID}", params={"fields": "first_name,last_name"}, timeout=5)
    media = requests.get(f"{standin.url}/v21.0/1043309740549381", timeout=5)

    assert profile.json() == {"id": PSID, "first_name": "Peter", "last_name": "Chang"}
    assert media.status_code == 404 and media.json()["error"]["code"] == 100
