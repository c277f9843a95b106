"""The agent API against a hostile caller (issue 11, item 1).

An anonymous or wrong-token caller learns nothing but 401, whatever its body or query (before,
request validation ran first and its 422 named fields and teams). A cursor is only ever one of the
listing's own pages: tampered, truncated, random or foreign cursors are a 400 with a JSON reason,
never a 500. A deeply nested body on a case action is a 400.

The customers and cases come from the customer-API story (``test_customers_api``), through the
real processor; the API is the real ApiFunction resolver on moto.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from test_customers_api import MARCO, Api, play_story

from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring


@pytest.fixture
def api(aws: Any, wiring: Wiring) -> Api:
    return Api(build(wiring), aws.api_token)


@pytest.fixture
def processor(wiring: Wiring) -> Processor:
    return Processor(wiring)


def send(api: Api, method: str, path: str, raw_body: str, token: str | None = "default") -> tuple[int, dict[str, Any]]:
    """A request whose body is sent as given (``Api.call`` JSON-encodes its body)."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {api.token if token == 'default' else token}"
    event = {
        "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "pytest"},
            "requestId": "req-1", "routeKey": "ANY /api/{proxy+}", "stage": "$default", "accountId": "1",
            "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
            "time": "02/Nov/2026:09:00:00 +0000", "timeEpoch": 1793610000000,
        },
        "body": raw_body, "isBase64Encoded": False,
    }
    response = api.app.resolve(event, {})
    return response["statusCode"], json.loads(response["body"])


NESTED = "[" * 100_000 + "]" * 100_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def assert_refused(status: int, body: dict[str, Any], what: str) -> None:
    assert status == 400, (what, status, body)
    assert body["error"] == "bad_request" and body["reason"], (what, body)


# ---------------------------------------------------------------------------------- the token first
ANONYMOUS_PROBES = [
    ("GET", "/api/cases", {"team": "nobody", "status": "sideways", "limit": "0"}, None),
    ("GET", "/api/cases", {}, None),
    ("GET", "/api/customers", {"limit": "100000", "phone": ""}, None),
    ("GET", "/api/customers/c-1/timeline", {"limit": "-1", "cursor": "x" * 5000}, None),
    ("POST", "/api/cases/c-1/handoff", {}, {"to": "nowhere", "surprise": 1}),
    ("POST", "/api/cases/c-1/handoff", {}, None),
    ("POST", "/api/customers/merge", {}, {"source": ""}),
    ("POST", "/api/customers/c-1/unmerge", {}, {"identities": [{"kind": "telepathy"}]}),
    ("POST", "/api/teams/nowhere/claim", {}, {"agent": ""}),
    ("POST", "/api/cases/c-1/resolve", {}, {"agent": ""}),
]


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["anonymous", "wrong-token"])
@pytest.mark.parametrize(("method", "path", "query", "body"), ANONYMOUS_PROBES,
                         ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(ANONYMOUS_PROBES)])
def test_a_caller_without_the_token_gets_401_and_no_schema(
    api: Api, token: str | None, method: str, path: str, query: dict[str, str], body: Any
) -> None:
    status, answer = api.call(method, path, query, body, token=token)

    assert status == 401, answer
    text = json.dumps(answer)
    for leak in ("team", "status", "limit", "cursor", "source", "identities", "social", "callcentre", "loc",
                 "details"):
        assert leak not in text, (leak, answer)


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["anonymous", "wrong-token"])
@pytest.mark.parametrize("path", ["/api/cases/c-1/resolve", "/api/cases/c-1/handoff", "/api/customers/merge"])
def test_a_caller_without_the_token_sending_a_nested_body_gets_401(api: Api, token: str | None, path: str) -> None:
    status, answer = send(api, "POST", path, NESTED, token=token)
    assert status == 401, answer


def test_the_right_token_still_gets_the_validation_details(api: Api) -> None:
    status, answer = api.call("GET", "/api/cases", {"team": "nobody"})
    assert status == 422 and "team" in json.dumps(answer)


# ---------------------------------------------------------------------------------- cursors
def tampered(real: str, own_partition: str, other_partition: str) -> dict[str, str]:
    """Ways a caller could bend ``real`` (a cursor the listing gave out)."""
    key = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    flipped = bytearray(real.encode())
    flipped[len(flipped) // 2] ^= 0x01
    rng = random.Random(11)
    partition = next(n for n, v in key.items() if v["S"] == own_partition)
    missing = {n: v for n, v in key.items() if n != partition}
    return {
        "flipped byte": flipped.decode("latin-1"),
        "truncated": real[: len(real) // 2],
        "random base64": b64(rng.randbytes(60)),
        "not base64": "%%%not-a-cursor%%%",
        "non-ascii": "cursoré☃",
        "json list": b64(b"[1, 2, 3]"),
        "json string": b64(b'"pk"'),
        "json number": b64(b"1e999"),
        "deeply nested json": b64(b"[" * 1200),
        "wrong value type": b64(json.dumps({n: {"N": "1"} for n in key}).encode()),
        "partition only": b64(json.dumps({partition: key[partition]}).encode()),
        "partition missing": b64(json.dumps(missing).encode()),
        "extra attribute": b64(json.dumps({**key, "expires_at": {"S": "1"}}).encode()),
        "empty values": b64(json.dumps({n: {"S": own_partition if n == partition else ""} for n in key}).encode()),
        "foreign": b64(json.dumps({**key, partition: {"S": other_partition}}).encode()),
    }


def page_cursor(api: Api, path: str, field: str, **query: str) -> str:
    answer = api.get(path, limit="1", **query)
    assert answer[field], f"{path} has one page only: {answer}"
    cursor: str = answer[field]
    return cursor


def assert_all_refused(api: Api, path: str, variants: dict[str, str], **query: str) -> None:
    for what, cursor in variants.items():
        status, body = api.call("GET", path, {**query, "limit": "1", "cursor": cursor})
        assert_refused(status, body, what)


def test_tampered_cursors_on_a_customers_timeline_are_400(api: Api, processor: Processor) -> None:
    play_story(processor)
    anna = api.get("/api/customers", phone="+393331112222")["customers"][0]["id"]
    marco = api.get("/api/customers", x="2002")["customers"][0]["id"]
    real = page_cursor(api, f"/api/customers/{anna}/timeline", "cursor")
    # the real cursor pages on; Marco's own cursor does not read Anna's timeline
    assert api.get(f"/api/customers/{anna}/timeline", limit="1", cursor=real)["timeline"]
    marcos = page_cursor(api, f"/api/customers/{marco}/timeline", "cursor")
    variants = {**tampered(real, f"CUSTOMER#{anna}", f"CUSTOMER#{marco}"), "another customer's": marcos}

    assert_all_refused(api, f"/api/customers/{anna}/timeline", variants)
    assert_all_refused(api, f"/api/customers/{anna}", variants)
    assert_all_refused(api, f"/api/customers/{anna}/suggestions", variants)


def test_tampered_cursors_on_a_team_queue_are_400(api: Api, processor: Processor) -> None:
    play_story(processor)
    team, status = next((t, "new") for t in ("social", "callcentre")
                        if len(api.get("/api/cases", team=t, status="new")["cases"]) > 1)
    real = page_cursor(api, "/api/cases", "cursor", team=team, status=status)
    assert api.get("/api/cases", team=team, status=status, limit="1", cursor=real)["cases"]
    other = "callcentre" if team == "social" else "social"
    variants = tampered(real, f"TEAM#{team}#STATUS#{status}", f"TEAM#{other}#STATUS#{status}")

    assert_all_refused(api, "/api/cases", variants, team=team, status=status)
    # the same team's cursor is not one of its other queue's, nor another team's
    assert_all_refused(api, "/api/cases", {"another status": real}, team=team, status="resolved")
    assert_all_refused(api, "/api/cases", {"another team": real}, team=other, status=status)


def test_tampered_cursors_on_a_lookup_are_400(api: Api, processor: Processor) -> None:
    play_story(processor)
    query = {"x": MARCO[0].interaction.author.id if MARCO[0].interaction else "", "phone": "+393331112222"}
    real = page_cursor(api, "/api/customers", "cursor", **query)
    variants = {
        "flipped byte": real[:-1] + ("A" if real[-1] != "A" else "B"),
        "random base64": b64(random.Random(7).randbytes(30)),
        "negative offset": b64(json.dumps({"offset": {"S": "-1"}}).encode()),
        "huge offset": b64(json.dumps({"offset": {"S": "9" * 300}}).encode()),
        "timeline cursor": b64(json.dumps({"pk": {"S": "CUSTOMER#x"}, "sk": {"S": "TL#x"}}).encode()),
        "json list": b64(b"[]"),
    }
    assert_all_refused(api, "/api/customers", variants, **query)


# ---------------------------------------------------------------------------------- bodies
@pytest.mark.parametrize("action", ["resolve", "reopen", "release", "handoff"])
def test_a_deeply_nested_body_on_a_case_action_is_400(api: Api, processor: Processor, action: str) -> None:
    play_story(processor)
    anna = api.get("/api/customers", phone="+393331112222")["customers"][0]["id"]
    case_id = api.get(f"/api/customers/{anna}")["open_case_id"]
    before = api.get(f"/api/cases/{case_id}")

    status, body = send(api, "POST", f"/api/cases/{case_id}/{action}", NESTED)

    assert status == 400, body
    assert body["reason"]
    # and the case is untouched
    after = api.get(f"/api/cases/{case_id}")
    assert (after["status"], after["team"], after["version"]) == (before["status"], before["team"], before["version"])
