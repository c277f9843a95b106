"""WhatsApp media fetched through facebook-sdk (Graph API on a fake server) into the moto media
bucket under the customer's prefix, before the processor stores the interaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from socialcare.config.settings import Settings
from socialcare.domain.channels import meta
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import InboundEvent, Interaction
from socialcare.observability import metrics

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "channels"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
WA_PHONE_ID = "109876543210"


@pytest.fixture
def graph(aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_VERSION", "v21.0")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["MetaAccessTokens"], SecretString=json.dumps({WA_PHONE_ID: "wa-token"})
    )
    yield httpserver


@pytest.fixture
def services(graph: HTTPServer) -> Wiring:
    """The processor's services, built from the environment once it points at the fake Graph API."""
    return Wiring(Settings())


def whatsapp_events() -> list[InboundEvent]:
    return meta.parse(json.loads((FIXTURES / "meta_whatsapp_messages.json").read_bytes())).events


def image_interaction() -> Interaction:
    interaction = whatsapp_events()[1].interaction
    assert interaction is not None and interaction.attachments[0].media_id == "1234567890123456"
    return interaction


def serve_media(server: HTTPServer) -> list[Request]:
    downloads: list[Request] = []

    def download(request: Request) -> Response:
        downloads.append(request)
        if request.headers.get("Authorization") != "Bearer wa-token":
            return Response(status=401)
        return Response(JPEG, content_type="image/jpeg")

    server.expect_request("/v21.0/1234567890123456", query_string={"access_token": "wa-token"}).respond_with_json(
        {"url": server.url_for("/lookaside/1234567890123456"), "mime_type": "image/jpeg",
         "sha256": "abc", "file_size": len(JPEG), "id": "1234567890123456", "messaging_product": "whatsapp"}
    )
    server.expect_request("/lookaside/1234567890123456").respond_with_handler(download)
    return downloads


def test_whatsapp_image_lands_in_s3_under_the_customers_prefix(
    aws: AwsStack, graph: HTTPServer, services: Wiring
) -> None:
    downloads = serve_media(graph)
    stored = services.media.store_attachments(image_interaction(), "cus_anna")
    key = "customers/cus_anna/whatsapp/wamid.IMAGE0001/0-1234567890123456.jpg"
    assert stored.attachments[0].s3_key == key
    obj = boto3.client("s3").get_object(Bucket=aws.buckets["MediaBucket"], Key=key)
    assert obj["Body"].read() == JPEG and obj["ContentType"] == "image/jpeg"
    assert len(downloads) == 1

    again = services.media.store_attachments(image_interaction(), "cus_anna")  # a redelivery
    assert again.attachments[0].s3_key == key and len(downloads) == 1  # not downloaded twice


def test_media_the_platform_no_longer_has_is_noted_and_the_message_still_stored(
    aws: AwsStack, graph: HTTPServer, services: Wiring
) -> None:
    graph.expect_request("/v21.0/1234567890123456").respond_with_json(
        {"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}}, status=400
    )
    stored = services.media.store_attachments(image_interaction(), "cus_anna")
    assert stored.attachments[0].s3_key is None
    (error,) = stored.metadata["media_errors"]
    assert (error["index"], error["media_id"], error["retryable"]) == (0, "1234567890123456", False)


def test_a_graph_outage_is_retried_once_then_the_message_is_stored_with_a_retryable_note(
    aws: AwsStack, graph: HTTPServer, services: Wiring
) -> None:
    calls: list[Request] = []

    def outage(request: Request) -> Response:
        calls.append(request)
        body = {"error": {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}}
        return Response(json.dumps(body), status=503, content_type="application/json")

    graph.expect_request("/v21.0/1234567890123456").respond_with_handler(outage)
    stored = services.media.store_attachments(image_interaction(), "cus_anna")
    assert len(calls) == 2
    assert stored.attachments[0].s3_key is None
    assert stored.metadata["media_errors"][0]["retryable"] is True
    assert stored.metadata["media_errors"][0]["media_id"] == "1234567890123456"


def test_a_failure_to_write_our_bucket_raises_so_the_record_is_retried(
    aws: AwsStack, graph: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_media(graph)
    monkeypatch.setenv("SOCIALCARE_MEDIA_BUCKET", "no-such-bucket-anywhere")
    with pytest.raises(ClientError):
        Wiring(Settings()).media.store_attachments(image_interaction(), "cus_anna")


def test_the_processor_stores_the_interaction_with_its_s3_key(
    aws: AwsStack, graph: HTTPServer, services: Wiring
) -> None:
    serve_media(graph)
    event = whatsapp_events()[1]
    result = Processor(services).process(event)
    metrics.clear_metrics()  # ProcessorFunction's handler flushes these in its own invocation
    customer_id = result["customer_id"]
    items = services.profiles.timeline(customer_id).items
    stored = next(i for i in items if i.get("id") == "whatsapp:wamid.IMAGE0001")
    key = stored["attachments"][0]["s3_key"]
    assert key.startswith(f"customers/{customer_id}/whatsapp/")
    assert boto3.client("s3").get_object(Bucket=aws.buckets["MediaBucket"], Key=key)["Body"].read() == JPEG
