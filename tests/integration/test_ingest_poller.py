"""X poller through the real tweepy client against a fake X API (pytest-httpserver), with the
StateTable checkpoints and inbound.fifo in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from webhook_calls import Context, drain_events, post_signed  # tests/integration/webhook_calls.py
from werkzeug.wrappers import Request, Response

from socialcare.domain.channels import x_api
from socialcare.flows.x_poller import DMS, MAX_PAGES, MENTIONS
from socialcare.models.interaction import InboundEvent
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

    from socialcare.flows.wiring import Wiring

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BRAND = "1500000000000000001"


CONTEXT = Context(50_000, function_name="XPollerFunction", aws_request_id="req-poll")


class FakeX:
    """Mentions and DM events, newest first, filtered by since_id like X's API."""

    def __init__(self) -> None:
        self.mentions: list[dict[str, Any]] = []
        self.dms: list[dict[str, Any]] = []
        self.users = [
            {"id": "2244994945", "name": "Anna Bianchi", "username": "anna_bianchi",
             "public_metrics": {"followers_count": 48200}},
            {"id": BRAND, "name": "Brand", "username": "brand", "public_metrics": {"followers_count": 1}},
        ]
        self.requests: list[tuple[str, dict[str, str], str]] = []
        self.page_size = 100  # X's max_results; smaller to exercise meta.next_token


    def __call__(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args), request.headers.get("Authorization", "")))
        if request.path.endswith("/mentions"):
            since = int(request.args.get("since_id", "0"))
            data = [t for t in sorted(self.mentions, key=lambda t: -int(t["id"])) if int(t["id"]) > since]
        else:
            data = sorted(self.dms, key=lambda e: -int(e["id"]))
        start = int(request.args.get("pagination_token", "0"))
        rest = data[start + self.page_size:]
        data = data[start:start + self.page_size]
        body: dict[str, Any] = {"data": data, "includes": {"users": self.users}, "meta": {"result_count": len(data)}}
        if rest:
            body["meta"]["next_token"] = str(start + self.page_size)
        if data:
            body["meta"]["newest_id"] = data[0]["id"]
        if not data:
            body = {"meta": {"result_count": 0}}
        return Response(json.dumps(body), content_type="application/json")


def tweet(n: int, author: str = "2244994945", text: str = "@brand dov'è il mio ordine?") -> dict[str, Any]:
    return {"id": str(1860000000000000000 + n), "author_id": author, "text": text,
            "created_at": "2026-11-22T06:00:00.000Z", "conversation_id": str(1860000000000000000 + n),
            "edit_history_tweet_ids": [str(1860000000000000000 + n)]}


def dm(n: int, sender: str = "2244994945") -> dict[str, Any]:
    return {"id": str(1860000000000000700 + n), "event_type": "MessageCreate", "text": f"DM {n} perché",
            "sender_id": sender, "dm_conversation_id": f"2244994945-{BRAND}", "created_at": "2026-11-22T06:10:00.000Z"}


@pytest.fixture
def fake_x(aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeX]:
    fake = FakeX()
    httpserver.expect_request(f"/2/users/{BRAND}/mentions").respond_with_handler(fake)
    httpserver.expect_request("/2/dm_events").respond_with_handler(fake)
    monkeypatch.setenv("SOCIALCARE_X_API_URL", httpserver.url_for("/").rstrip("/"))
    credentials = {BRAND: {"bearer_token": "app-bearer", "consumer_key": "ck", "consumer_secret": "cs",
                           "access_token": "at", "access_token_secret": "ats"}}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps(credentials)
    )
    yield fake


def drain(aws: AwsStack) -> list[InboundEvent]:
    return drain_events(aws.queue_urls["InboundQueue"])


def cold_start() -> ModuleType:
    """XPollerFunction's handler, loaded now: it builds its settings from the environment at import."""
    return load_app("x_poller")


def run(poller: ModuleType) -> dict[str, Any]:
    return poller.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, CONTEXT)


def test_mentions_and_dms_are_enqueued_and_checkpoints_advance(aws: AwsStack, wiring: Wiring, fake_x: FakeX) -> None:
    poller = cold_start()
    fake_x.mentions = [tweet(1), tweet(2, author=BRAND, text="our own tweet")]
    fake_x.dms = [dm(1), dm(2, sender=BRAND)]
    assert run(poller) == {BRAND: {"mentions": 1, "dms": 1}}
    events = drain(aws)
    assert sorted(e.interaction.id for e in events if e.interaction) == [
        "x:1860000000000000001", "x:1860000000000000701"
    ]
    assert all(e.source == "x-poller" for e in events)
    mention = next(e for e in events if e.event_id == "1860000000000000001")
    assert mention.interaction is not None and mention.interaction.author.followers == 48200
    assert wiring.state.checkpoint(BRAND, MENTIONS) == 1860000000000000002
    assert wiring.state.checkpoint(BRAND, DMS) == 1860000000000000702

    first_mentions = [r for r in fake_x.requests if r[0].endswith("/mentions")]
    assert "since_id" not in first_mentions[0][1] and first_mentions[0][2] == "Bearer app-bearer"
    dm_request = next(r for r in fake_x.requests if r[0] == "/2/dm_events")
    assert dm_request[1]["event_types"] == "MessageCreate" and dm_request[2].startswith("OAuth ")

    fake_x.mentions.append(tweet(3))
    fake_x.dms.append(dm(3))
    assert run(poller) == {BRAND: {"mentions": 1, "dms": 1}}
    assert sorted(e.event_id for e in drain(aws)) == ["1860000000000000003", "1860000000000000703"]
    latest_mentions = [r for r in fake_x.requests if r[0].endswith("/mentions")][-1]
    assert latest_mentions[1]["since_id"] == "1860000000000000002"
    assert wiring.state.checkpoint(BRAND, MENTIONS) == 1860000000000000003

    assert run(poller) == {BRAND: {"mentions": 0, "dms": 0}}  # nothing new: nothing enqueued
    assert drain(aws) == []


def test_a_burst_is_read_across_pages_and_dm_paging_stops_at_the_checkpoint(
    aws: AwsStack, wiring: Wiring, fake_x: FakeX
) -> None:
    poller = cold_start()
    fake_x.mentions, fake_x.dms = [tweet(1)], [dm(1), dm(2)]
    run(poller)
    drain(aws)
    fake_x.requests.clear()
    fake_x.page_size = 2
    fake_x.mentions += [tweet(n) for n in range(2, 7)]  # five new mentions: three pages
    fake_x.dms += [dm(3), dm(4), dm(5)]  # three new DMs above the checkpoint, two older ones below
    assert run(poller) == {BRAND: {"mentions": 5, "dms": 3}}
    assert sorted(e.event_id for e in drain(aws)) == [str(1860000000000000000 + n) for n in range(2, 7)] + [
        str(1860000000000000700 + n) for n in range(3, 6)
    ]
    mention_pages = [r[1].get("pagination_token") for r in fake_x.requests if r[0].endswith("/mentions")]
    assert mention_pages == [None, "2", "4"]
    dm_pages = [r[1].get("pagination_token") for r in fake_x.requests if r[0] == "/2/dm_events"]
    assert dm_pages == [None, "2"]  # the second page reaches the checkpoint: no third request
    assert wiring.state.checkpoint(BRAND, MENTIONS) == 1860000000000000006
    assert wiring.state.checkpoint(BRAND, DMS) == 1860000000000000705


def test_a_burst_beyond_the_page_limit_is_reported(
    aws: AwsStack, fake_x: FakeX, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    poller = cold_start()
    fake_x.mentions = [tweet(1)]
    run(poller)
    drain(aws)
    fake_x.page_size = 1
    fake_x.mentions += [tweet(n) for n in range(2, 9)]  # seven new mentions, one per page
    capsys.readouterr()
    assert run(poller)[BRAND]["mentions"] == MAX_PAGES
    assert '"XPollTruncated":[1.0]' in capsys.readouterr().out  # the metric, flushed as EMF
    assert any("page limit" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_a_checkpoint_never_moves_backwards(aws: AwsStack, wiring: Wiring, fake_x: FakeX) -> None:
    assert wiring.state.advance_checkpoint(BRAND, MENTIONS, 500)
    assert not wiring.state.advance_checkpoint(BRAND, MENTIONS, 400)
    assert wiring.state.checkpoint(BRAND, MENTIONS) == 500


def test_a_mention_seen_by_the_webhook_and_the_poller_is_queued_once(aws: AwsStack, fake_x: FakeX) -> None:
    payload = json.loads((ROOT / "tests" / "fixtures" / "channels" / "x_tweet_create_events.json").read_bytes())
    payload["tweet_create_events"] = payload["tweet_create_events"][:1]
    body = json.dumps(payload).encode()
    secret = aws.secret_values["XConsumerSecret"]
    assert post_signed(load_app("webhook_x"), "x", secret, body, CONTEXT)[0] == 200
    fake_x.mentions = [tweet(1)]  # the same tweet, read by the poller
    assert run(cold_start())[BRAND]["mentions"] == 1
    (only,) = drain(aws)
    assert only.interaction is not None and only.interaction.id == "x:1860000000000000001"
    polled = x_api.v2_tweet_interaction(tweet(1), {}, BRAND)
    assert polled is not None and polled.id == only.interaction.id


def test_a_rate_limited_stream_keeps_its_checkpoint_for_the_next_run(
    aws: AwsStack, wiring: Wiring, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request(f"/2/users/{BRAND}/mentions").respond_with_json(
        {"title": "Too Many Requests"}, status=429, headers={"x-rate-limit-reset": "1795330000"}
    )
    monkeypatch.setenv("SOCIALCARE_X_API_URL", httpserver.url_for("/").rstrip("/"))
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({BRAND: {"bearer_token": "b"}})
    )
    wiring.state.advance_checkpoint(BRAND, MENTIONS, 1860000000000000001)
    assert run(cold_start()) == {BRAND: {"mentions": "rate_limited"}}
    assert wiring.state.checkpoint(BRAND, MENTIONS) == 1860000000000000001
    assert drain(aws) == []


def test_brand_accounts_without_their_own_entry_poll_with_the_default_credentials(
    aws: AwsStack, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALCARE_BRAND_X_ACCOUNT_IDS", BRAND)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({"default": {"bearer_token": "shared"}})
    )
    fake_x.mentions = [tweet(9)]
    assert run(cold_start()) == {BRAND: {"mentions": 1}}  # no OAuth 1.0a user credentials: DMs are not polled
    assert [e.event_id for e in drain(aws)] == ["1860000000000000009"]
    assert fake_x.requests[-1][2] == "Bearer shared"
