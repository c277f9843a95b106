"""No access token in any log line or stored item after a failing Graph media fetch.

facebook-sdk sends the page's token in the URL (``?access_token=…``), and a ``requests`` error
names the URL it failed on; the processor logs the failure and stores it on the interaction
(``metadata["media_errors"]``). The WhatsApp image comes from the channel fixtures (Meta's
WhatsApp Cloud API webhook example, see tests/fixtures/channels); the token has the shape of a
Meta page token.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from socialcare.config.settings import Settings
from socialcare.domain.channels import meta
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.observability import logger, metrics

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "channels"
WA_PHONE_ID = "109876543210"
TOKEN = "EAAGm0PX4ZCpsBAKZC7wZDZD9secretpagetoken"
MEDIA_ID = "1234567890123456"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its JSON lines), whatever module logs."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    sink = io.StringIO()
    previous = handler.setStream(sink)
    yield sink
    if previous is not None:
        handler.setStream(previous)


@pytest.fixture
def tokens(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_VERSION", "v21.0")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["MetaAccessTokens"], SecretString=json.dumps({WA_PHONE_ID: TOKEN})
    )


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_event() -> Any:
    events = meta.parse(json.loads((FIXTURES / "meta_whatsapp_messages.json").read_bytes())).events
    event = events[1]
    assert event.interaction is not None and event.interaction.attachments[0].media_id == MEDIA_ID
    return event


def everything_stored(aws: AwsStack) -> str:
    """Every item of every table and every object (key and body) of the media bucket, as text."""
    ddb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    parts: list[str] = []
    for table in aws.tables.values():
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            parts.extend(json.dumps(item, default=str) for item in page["Items"])
    bucket = aws.buckets["MediaBucket"]
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        parts.append(obj["Key"])
        parts.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8", "replace"))
    return "\n".join(parts)


def process(aws: AwsStack) -> dict[str, Any]:
    processor = Processor(Wiring(Settings()))
    result = processor.process(image_event())
    metrics.clear_metrics()
    item = processor.w.profiles.interaction("whatsapp:wamid.IMAGE0001")
    assert item is not None
    return {"result": result, "item": item}


def _graph_500(httpserver: HTTPServer) -> None:
    # An error page in front of Graph that quotes the request it failed on, query string included.
    url = f"https://graph.facebook.com/v21.0/{MEDIA_ID}?access_token={TOKEN}"
    httpserver.expect_request(f"/v21.0/{MEDIA_ID}").respond_with_json(
        {"error": {"message": f"Internal error while serving GET {url}", "type": "OAuthException", "code": 1}},
        status=500,
    )


@pytest.mark.parametrize("failure", ["graph answers 500", "connection refused"])
def test_a_failing_media_fetch_leaves_no_token_in_logs_or_storage(
    aws: AwsStack, tokens: None, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
    log_lines: io.StringIO, failure: str,
) -> None:
    if failure == "graph answers 500":
        _graph_500(httpserver)
        monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", httpserver.url_for("/").rstrip("/"))
    else:  # requests.ConnectionError: "Max retries exceeded with url: /v21.0/<id>?access_token=…"
        monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", f"http://127.0.0.1:{closed_port()}")

    outcome = process(aws)

    assert outcome["result"]["status"] == "stored"
    (error,) = outcome["item"]["metadata"]["media_errors"]
    assert error["retryable"] is True and error["reason"].startswith("platform unavailable")
    logged = log_lines.getvalue()
    assert "attachment not fetched" in logged  # the failure was logged, and captured here
    assert TOKEN not in logged
    assert TOKEN not in everything_stored(aws)
    if failure == "connection refused":
        # the reason still says what failed, without the secret
        assert f"/v21.0/{MEDIA_ID}?access_token=[REDACTED]" in error["reason"]


def test_every_log_line_is_scrubbed_whoever_logs_it(log_lines: io.StringIO) -> None:
    try:
        raise ConnectionError(f"Max retries exceeded with url: /v21.0/1?fields=name&access_token={TOKEN}")
    except ConnectionError:
        logger.exception("lookup failed", extra={"request": {"headers": {"Authorization": f"Bearer {TOKEN}"}},
                                                 "url": f"https://graph.facebook.com/v21.0/me?access_token={TOKEN}"})
    line = log_lines.getvalue()
    record = json.loads(line)  # still one valid JSON line
    assert TOKEN not in line
    assert record["message"] == "lookup failed" and record["exception_name"] == "ConnectionError"
    assert record["request"]["headers"]["Authorization"] == "[REDACTED]"
