"""Calling the webhook Lambda handlers the way API Gateway (HTTP API, payload 2.0) does, with
bodies signed the way each platform signs them. Shared by the corpus replay and any test that
posts to ``functions/webhook_*``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import boto3

from socialcare.models.interaction import InboundEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

PATHS = {"x": "/webhooks/x", "meta": "/webhooks/meta", "inbound": "/webhooks/inbound"}
FUNCTIONS = {"x": "webhook_x", "meta": "webhook_meta", "inbound": "webhook_inbound"}
SECRETS = {"x": "XConsumerSecret", "meta": "MetaAppSecret", "inbound": "InboundSecret"}


class Context:
    """The LambdaContext a handler is given: which function runs, and the time it has left."""

    function_version = "$LATEST"

    def __init__(self, remaining_ms: int = 10_000, *, function_name: str = "test-function",
                 memory_limit_in_mb: int = 512, aws_request_id: str = "req-0001") -> None:
        self.remaining_ms = remaining_ms
        self.function_name = function_name
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        self.aws_request_id = aws_request_id

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None, base64_body: bool = False,
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "queryStringParameters": query,
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "platform"},
            "requestId": "req-0001", "routeKey": "$default", "stage": "$default",
            "time": "22/Nov/2026:07:00:00 +0000", "timeEpoch": 1795330800000,
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def call(module: ModuleType, event: dict[str, Any], context: Context | None = None) -> tuple[int, Any]:
    response = module.handler(event, context or Context())
    body = response.get("body") or ""
    try:
        return response["statusCode"], json.loads(body)
    except ValueError:
        return response["statusCode"], body


def x_signature(secret: str, body: bytes) -> str:
    """``x-twitter-webhooks-signature``: base64 HMAC-SHA256 of the raw body."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def meta_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def inbound_headers(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Our gateway's headers: hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {"x-socialcare-timestamp": stamp, "x-socialcare-signature": "sha256=" + mac.hexdigest()}


def signed_headers(endpoint: str, secret: str, body: bytes) -> dict[str, str]:
    if endpoint == "x":
        return {"x-twitter-webhooks-signature": x_signature(secret, body)}
    if endpoint == "meta":
        return {"x-hub-signature-256": meta_signature(secret, body)}
    if endpoint == "inbound":
        return inbound_headers(secret, body)
    raise ValueError(f"no such webhook endpoint: {endpoint}")


def post_signed(
    module: ModuleType, endpoint: str, secret: str, body: bytes, context: Context | None = None
) -> tuple[int, Any]:
    """POST ``body`` to the endpoint's handler, signed as its platform signs it."""
    return call(module, http_event("POST", PATHS[endpoint], body, signed_headers(endpoint, secret, body)), context)


def drain_messages(queue_url: str) -> list[MessageTypeDef]:
    """Every message now on the queue, with all its attributes, received and deleted, in queue order."""
    sqs = boto3.client("sqs")
    got: list[MessageTypeDef] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        for message in batch:
            got.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got


def events_of(messages: list[MessageTypeDef]) -> list[InboundEvent]:
    return [InboundEvent.model_validate_json(m["Body"]) for m in messages]


def drain_events(queue_url: str) -> list[InboundEvent]:
    """Every event now on inbound.fifo, received and deleted, in queue order."""
    return events_of(drain_messages(queue_url))
