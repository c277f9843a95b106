"""Names from the platforms: a Messenger / Instagram DM without a name gets its sender's profile
name from the Graph API (facebook-sdk against a fake Graph server), links with it, and caches it.

Sources of the data (adapted only where noted):
- webhook bodies: Meta's Messenger Platform "messages" webhook event example
  (https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages) and
  the Instagram Messaging webhook example
  (https://developers.facebook.com/docs/messenger-platform/instagram/features/webhook); Meta's
  Page "feed" webhook comment example for the customer's earlier comment
  (https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed). Ids made
  consistent; texts carry an order number.
- Graph answers: the User Profile API samples - Messenger (first_name/last_name "Peter Chang",
  https://developers.facebook.com/docs/messenger-platform/identity/user-profile) and Instagram
  (name "Peter Chang", username "peter_chang_live",
  https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile);
  the refusals from Graph's error documentation
  (https://developers.facebook.com/docs/graph-api/guides/error-handling) and the User Profile
  API's "No profile available for this user." (error_subcode 2018218).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from socialcare.config.settings import Settings
from socialcare.domain.channels import meta
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import InboundEvent
from socialcare.observability import metrics
from socialcare_infra.platform_standin import PlatformStandIn
from socialcare_infra.stack import LocalStack

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration

PAGE_ID, IG_ACCOUNT_ID = "104000000000777", "17841400000000777"
PSID, IGSID, FB_USER = "1254459154682919", "1914934501906573", "10158000000000777"
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "channels"
PAGE_TOKEN, IG_TOKEN = "page-token-777", "ig-token-777"
ORDER_TEXT = "Hi, my order 482130 still has not arrived. Can you check?"
MESSENGER_PROFILE = {"first_name": "Peter", "last_name": "Chang", "profile_pic": "https://fbcdn-profile-a.akamaihd.net/p.jpg",
                     "id": PSID}
INSTAGRAM_PROFILE = {"name": "Peter Chang", "username": "peter_chang_live", "profile_pic": "https://fbcdn-profile-a/p.jpg",
                     "follower_count": 1234, "is_user_follow_business": False, "is_business_follow_user": True}


@pytest.fixture
def graph(aws: AwsStack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_VERSION", "v21.0")
    monkeypatch.setenv("SOCIALCARE_PROFILE_NAME_TIMEOUT_SECONDS", "0.5")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["MetaAccessTokens"],
        SecretString=json.dumps({PAGE_ID: PAGE_TOKEN, IG_ACCOUNT_ID: IG_TOKEN}),
    )
    yield httpserver


@pytest.fixture
def processor(graph: HTTPServer) -> Iterator[Processor]:
    yield Processor(Wiring(Settings()))
    metrics.clear_metrics()  # ProcessorFunction's handler flushes these in its own invocation


def messenger_dm(mid: str, text: str = ORDER_TEXT) -> InboundEvent:
    now = int(time.time() * 1000)
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": [{
        "sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": now,
        "message": {"mid": mid, "text": text},
    }]}]}
    (event,) = meta.parse(body).events
    return event


def instagram_dm(mid: str) -> InboundEvent:
    now = int(time.time() * 1000)
    body = {"object": "instagram", "entry": [{"id": IG_ACCOUNT_ID, "time": now, "messaging": [{
        "sender": {"id": IGSID}, "recipient": {"id": IG_ACCOUNT_ID}, "timestamp": now,
        "message": {"mid": mid, "text": ORDER_TEXT},
    }]}]}
    (event,) = meta.parse(body).events
    return event


def peter_comments(processor: Processor) -> str:
    """Peter Chang, known from a comment under the brand's post that names him and his order."""
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time()), "changes": [{
        "field": "feed",
        "value": {"item": "comment", "verb": "add", "from": {"id": FB_USER, "name": "Peter Chang"},
                  "post_id": f"{PAGE_ID}_900000000000777", "comment_id": "900000000000777_1200000000000777",
                  "parent_id": f"{PAGE_ID}_900000000000777", "message": "Where is order 482130?",
                  "created_time": int(time.time())},
    }]}]}
    (event,) = meta.parse(body).events
    return str(processor.process(event)["customer_id"])


def stored(processor: Processor, customer_id: str, interaction_id: str) -> dict[str, Any]:
    return next(i for i in processor.w.profiles.timeline(customer_id).items if i["id"] == interaction_id)


def profile_calls(server: HTTPServer, user_id: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == f"/v21.0/{user_id}"]


def test_a_messenger_dm_without_a_name_links_with_the_name_graph_gives(graph: HTTPServer,
                                                                      processor: Processor) -> None:
    peter = peter_comments(processor)
    graph.expect_request(f"/v21.0/{PSID}", query_string={
        "fields": "first_name,last_name,name,profile_pic", "access_token": PAGE_TOKEN,
    }).respond_with_json(MESSENGER_PROFILE)

    first = processor.process(messenger_dm("m_peter_0001"))
    assert first["customer_id"] == peter  # name from Graph + the same order number: one customer
    assert stored(processor, peter, "messenger:m_peter_0001")["author_name"] == "Peter Chang"
    cached = processor.w.profiles.platform_profile("messenger", PSID)
    assert cached is not None and cached["profile_name"] == "Peter Chang" and "profile_fetched_at" in cached

    second = processor.process(messenger_dm("m_peter_0002", "Any news?"))
    assert second["customer_id"] == peter
    assert stored(processor, peter, "messenger:m_peter_0002")["author_name"] == "Peter Chang"
    assert len(profile_calls(graph, PSID)) == 1  # the second DM used the cached name


def test_an_instagram_dm_gets_the_name_and_username(graph: HTTPServer, processor: Processor) -> None:
    peter = peter_comments(processor)
    graph.expect_request(f"/v21.0/{IGSID}", query_string={
        "fields": "name,username,profile_pic", "access_token": IG_TOKEN,
    }).respond_with_json(INSTAGRAM_PROFILE)

    result = processor.process(instagram_dm("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE"))
    assert result["customer_id"] == peter
    item = stored(processor, peter, "instagram:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE")
    assert (item["author_name"], item["author_handle"]) == ("Peter Chang", "peter_chang_live")
    assert processor.w.identity.find_customer("instagram", "@peter_chang_live") == peter


def _graph_error(status: int, error: dict[str, Any]) -> Response:
    return Response(json.dumps({"error": {**error, "fbtrace_id": "AbCdEfGhIjK"}}), status=status,
                    content_type="application/json")


RELEASED = threading.Event()
REFUSALS = {
    "no profile (#100)": (lambda _: _graph_error(400, {
        "message": "(#100) No profile available for this user.", "type": "OAuthException", "code": 100,
        "error_subcode": 2018218}), "unknown_user"),
    "expired token (190)": (lambda _: _graph_error(400, {
        "message": "Error validating access token: Session has expired on Tuesday, 10-Jun-25 10:00:00 PDT.",
        "type": "OAuthException", "code": 190, "error_subcode": 463}), "token"),
    # Graph answers only once the test is over (RELEASED): the test server answers one request at a
    # time, so a handler that merely slept would still hold it when the next test's request came
    "timeout": (lambda _: (RELEASED.wait(10), Response("{}", content_type="application/json"))[1], "timeout"),
    "outage (500)": (lambda _: _graph_error(500, {
        "message": "An unknown error has occurred.", "type": "OAuthException", "code": 1}), "graph_error"),
}


@pytest.fixture
def released() -> Iterator[None]:
    RELEASED.clear()
    yield
    RELEASED.set()  # a held "timeout" answer goes now, before the next test asks the server


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.usefixtures("released")
def test_a_graph_refusal_costs_only_the_name(graph: HTTPServer, processor: Processor, case: str) -> None:
    handler, reason = REFUSALS[case]
    calls: list[Request] = []
    graph.expect_request(f"/v21.0/{PSID}").respond_with_handler(lambda r: (calls.append(r), handler(r))[1])

    result = processor.process(messenger_dm("m_refused_0001"))
    assert result["status"] == "stored" and result["case_id"]
    item = stored(processor, result["customer_id"], "messenger:m_refused_0001")
    assert item["text"] == ORDER_TEXT and not item.get("author_name")
    cached = processor.w.profiles.platform_profile("messenger", PSID)
    assert cached is not None and cached["profile_refusal"] == reason and "profile_refused_at" in cached

    again = processor.process(messenger_dm("m_refused_0002"))
    assert again["customer_id"] == result["customer_id"]
    assert len(calls) == 1  # the refusal is cached: Graph is not asked per message


def test_no_token_for_the_page_is_a_refusal_too(aws: AwsStack, graph: HTTPServer, processor: Processor) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["MetaAccessTokens"], SecretString=json.dumps({"some-other-page": "x"}),
    )
    fresh = Processor(Wiring(Settings()))
    result = fresh.process(messenger_dm("m_notoken_0001"))
    assert result["status"] == "stored"
    assert graph.log == []  # nothing to ask Graph with
    cached = fresh.w.profiles.platform_profile("messenger", PSID)
    assert cached is not None and cached["profile_refusal"] == "no_token"


def test_a_stale_name_is_fetched_again(graph: HTTPServer, processor: Processor,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    graph.expect_request(f"/v21.0/{PSID}").respond_with_json(MESSENGER_PROFILE)
    processor.process(messenger_dm("m_stale_0001"))
    processor.w.profiles.cache_platform_profile("messenger", PSID, at="2020-01-01T00:00:00.000000Z",
                                                name="Peter Chang")
    processor.process(messenger_dm("m_stale_0002"))
    assert len(profile_calls(graph, PSID)) == 2
    cached = processor.w.profiles.platform_profile("messenger", PSID)
    assert cached is not None and cached["profile_fetched_at"] > "2020-01-01"


# ---------------------------------------------------------------------------- the local stack's stand-in
@pytest.fixture
def standin(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlatformStandIn]:
    server = PlatformStandIn({PSID: {"first_name": "Peter", "last_name": "Chang", "name": "Peter Chang"}}).serve()
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", server.url)
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_VERSION", "v21.0")
    yield server
    server.stop()


def test_the_local_stand_in_names_dm_senders_and_has_no_media(standin: PlatformStandIn) -> None:
    processor = Processor(Wiring(Settings()))
    peter = peter_comments(processor)
    assert processor.process(messenger_dm("m_local_0001"))["customer_id"] == peter  # the name it was given
    stranger = instagram_dm("aWdfbG9jYWwx")
    result = processor.process(stranger)
    item = stored(processor, result["customer_id"], stranger.interaction.id if stranger.interaction else "")
    assert result["customer_id"] != peter and item["author_name"] and item["author_handle"]  # a generated one

    image = meta.parse(json.loads((FIXTURES / "meta_whatsapp_messages.json").read_bytes())).events[1]
    outcome = processor.process(image)
    media = processor.w.profiles.interaction("whatsapp:wamid.IMAGE0001")
    metrics.clear_metrics()
    assert outcome["status"] == "stored" and media is not None
    assert media["metadata"]["media_errors"][0]["retryable"] is False  # "does not exist": not retried
    assert ("GET", f"/v21.0/{PSID}") in standin.requests


def test_the_local_stack_points_graph_and_x_at_the_stand_in_unless_told_otherwise(tmp_path: Path) -> None:
    stack = LocalStack(state_dir=tmp_path, environ={}, parameters={"XApiUrl": "http://127.0.0.1:9"})
    stack._start_platforms()
    try:
        values = stack.resolver.parameter_values
        assert values["GraphApiUrl"] == stack.platforms.url and values["GraphApiUrl"].startswith("http://127.0.0.1:")
        assert values["XApiUrl"] == "http://127.0.0.1:9"  # the user's --param wins
    finally:
        stack.stop()
