"""What the bench sends: API Gateway HTTP API (payload 2.0) events carrying platform payloads
signed the way each platform signs them.

The payloads are the repository's channel fixtures (tests/fixtures/channels/, docs/channels.md);
the bench only changes the message id, the author and the time so each interaction is new.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "channels"
PATHS = {"x": "/webhooks/x", "meta": "/webhooks/meta", "inbound": "/webhooks/inbound"}
FUNCTIONS = {"x": "WebhookXFunction", "meta": "WebhookMetaFunction", "inbound": "WebhookInboundFunction"}
SECRETS = {"x": "XConsumerSecret", "meta": "MetaAppSecret", "inbound": "InboundSecret"}


@cache
def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def http_event(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
               query: dict[str, str] | None = None) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": urlencode(query or {}),
        "queryStringParameters": query,
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "platform"},
            "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": int(time.time() * 1000),
        },
        "body": body.decode("utf-8"), "isBase64Encoded": False,
    }


def signature_headers(endpoint: str, secret: str, body: bytes) -> dict[str, str]:
    key = secret.encode()
    if endpoint == "x":  # x-twitter-webhooks-signature: base64 HMAC-SHA256 of the body
        digest = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        return {"x-twitter-webhooks-signature": "sha256=" + digest}
    if endpoint == "meta":  # X-Hub-Signature-256: hex HMAC-SHA256 of the body
        return {"x-hub-signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()}
    stamp = str(int(time.time()))  # our gateway: hex HMAC-SHA256 of "<timestamp>.<body>"
    mac = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-socialcare-timestamp": stamp, "x-socialcare-signature": "sha256=" + mac}


def signed_post(endpoint: str, secret: str, body: bytes) -> dict[str, Any]:
    return http_event("POST", PATHS[endpoint], body, signature_headers(endpoint, secret, body))


def whatsapp_message(n: int, wa_id: str, name: str, text: str) -> bytes:
    """One WhatsApp text message (the fixture's first), from ``wa_id``, with a unique id."""
    payload = copy.deepcopy(fixture("meta_whatsapp_messages.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    message = copy.deepcopy(value["messages"][0])
    message.update({"from": wa_id, "id": f"wamid.BENCH{n:08d}{uuid.uuid4().hex[:8]}",
                    "timestamp": str(int(time.time())), "text": {"body": text}})
    value["messages"] = [message]
    value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
    return json.dumps(payload).encode()


def mention_of_post(n: int, post_id: str) -> bytes:
    """An X reply to ``post_id`` from a new author (the fixture's second tweet: a reply)."""
    payload = copy.deepcopy(fixture("x_tweet_create_events.json"))
    tweet = copy.deepcopy(payload["tweet_create_events"][1])
    tweet.update({"id_str": str(1_870_000_000_000_000_000 + n), "in_reply_to_status_id_str": post_id,
                  "timestamp_ms": str(int(time.time() * 1000)),
                  "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime())})
    tweet["user"] = {**tweet["user"], "id_str": str(4_400_000_000 + n), "screen_name": f"fan{n}", "name": f"Fan {n}"}
    payload["tweet_create_events"] = [tweet]
    return json.dumps(payload).encode()


def fixture_body(endpoint: str) -> bytes:
    name = {"x": "x_tweet_create_events.json", "meta": "meta_whatsapp_messages.json",
            "inbound": "gateway_email.json"}[endpoint]
    return json.dumps(fixture(name)).encode()


def italian_mobile(n: int) -> str:
    """A wa_id in the 333 mobile range (a valid number for phonenumbers)."""
    return f"39333{n % 10_000_000:07d}"
