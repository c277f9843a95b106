"""The acceptance story, replayed against `socialcare local` over HTTP only.

One stack for the module: the story (infra/socialcare_infra/scenario.py) is played once, with
the CRM adapter pointed at a loopback CRM that refuses its first deliveries with 503; then
each test checks one promise a user relies on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from socialcare_infra import scenario

pytestmark = pytest.mark.e2e

CRM_SECRET = "e2e-crm-webhook-secret"


@dataclass
class LoopbackCrm:
    """A CRM that answers 503 to its first deliveries, then records every accepted one."""

    refuse_first: int = 3
    seen: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    duplicate_deliveries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = request.get_data()
        expected = "sha256=" + hmac.new(CRM_SECRET.encode(), body, hashlib.sha256).hexdigest()
        with self.lock:
            self.seen += 1
            if not hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected):
                self.bad_signatures += 1
                return Response(status=401)(environ, start_response)
            if self.seen <= self.refuse_first:
                return Response(status=503, headers={"Retry-After": "1"})(environ, start_response)
            delivery = request.headers.get("X-Socialcare-Delivery-Id", "")
            if any(d["delivery_id"] == delivery for d in self.accepted):
                self.duplicate_deliveries += 1
            self.accepted.append({"delivery_id": delivery, "body": json.loads(body)})
        return Response(status=200)(environ, start_response)

    def latest_case_views(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        with self.lock:
            for d in self.accepted:
                case = d["body"]["case"]
                latest[case["id"]] = d["body"]
        return latest


@dataclass
class StoryRun:
    stack: Any
    secrets: scenario.Secrets
    responses: dict[str, requests.Response]
    crm: LoopbackCrm

    def api(self, path: str, **params: str) -> Any:
        r = requests.get(
            f"{self.stack.api_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.secrets.api_token}"},
            timeout=10,
        )
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def customer_by(self, **query: str) -> list[dict[str, Any]]:
        return list(self.api("/api/customers", **query)["customers"])

    def call(self, phone: str) -> dict[str, Any]:
        client = boto3.client(
            "lambda",
            endpoint_url=self.stack.invoke_url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        out = client.invoke(FunctionName="CallerLookupFunction", Payload=json.dumps(scenario.connect_call(phone)))
        assert "FunctionError" not in out, out["Payload"].read()
        return dict(json.loads(out["Payload"].read()))


def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, requests.RequestException, KeyError, IndexError):
            pass
        time.sleep(interval)
    return check()


@pytest.fixture(scope="module")
def story(local_stack_factory: Callable[..., Any]) -> Iterator[StoryRun]:
    crm = LoopbackCrm()
    server = make_server("127.0.0.1", 0, crm, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "SOCIALCARE_CRM_PROVIDER": "webhook",
        "SOCIALCARE_CRM_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/crm",
        "SOCIALCARE_CRM_WEBHOOK_SECRET": CRM_SECRET,
    }
    with local_stack_factory(env) as stack:
        secrets = scenario.Secrets.from_env(env)
        responses: dict[str, requests.Response] = {}
        for step in scenario.story(secrets):
            responses[step.name] = requests.request(
                step.method, f"{stack.api_url}{step.path}", data=step.body, headers=step.headers, timeout=10
            )
        run = StoryRun(stack, secrets, responses, crm)
        # Everything is asynchronous behind the webhooks: wait until the last genuine message
        # (Marco's praise) and Anna's WhatsApp message are both visible.
        wait_for(lambda: run.customer_by(instagram=scenario.MARCO["instagram_id"]))
        wait_for(lambda: run.customer_by(whatsapp=scenario.ANNA["wa_id"]))
        yield run
    server.shutdown()


def _timeline(run: StoryRun, customer_id: str) -> list[dict[str, Any]]:
    return list(run.api(f"/api/customers/{customer_id}")["timeline"])


# ---------------------------------------------------------------- issue 3: channels
def test_every_webhook_step_got_the_answer_its_platform_expects(story: StoryRun) -> None:
    for step in scenario.story(story.secrets):
        assert story.responses[step.name].status_code == step.expect_status, step.name
        if step.expect_status >= 400:
            assert story.responses[step.name].headers["content-type"].startswith("application/json"), step.name
            assert "reason" in story.responses[step.name].json(), step.name


def test_crc_and_meta_verification_answers_are_correct(story: StoryRun) -> None:
    crc = story.responses["X CRC check"].json()
    assert crc == {"response_token": scenario.x_crc_response(story.secrets.x_consumer, "demo-crc-token")}
    assert story.responses["Meta verification"].text == "1158201444"


@pytest.mark.parametrize(
    ("channel", "user_id", "expected_messages"),
    [
        ("x", scenario.ANNA["x_id"], {"x:1860000000000000001", "x:1860000000000000777"}),
        ("facebook", scenario.ANNA["facebook_id"], {"facebook:900000000000001_1200000000000001"}),
        ("messenger", scenario.ANNA["messenger_psid"], {"messenger:m_AnnaMessenger0001"}),
        ("whatsapp", scenario.ANNA["wa_id"], {"whatsapp:wamid.HBgMMzkzMzMxMTEyMjIyFQIAEhgWQU5OQTAwMDE="}),
        ("instagram", scenario.MARCO["instagram_id"], {"instagram:17950000000000001"}),
    ],
)
def test_every_genuine_message_is_stored_exactly_once_on_its_customers_timeline(
    story: StoryRun, channel: str, user_id: str, expected_messages: set[str]
) -> None:
    (customer,) = story.customer_by(**{channel: user_id})
    timeline = _timeline(story, customer["id"])
    inbound = [t for t in timeline if t["direction"] == "inbound" and t["channel"] == channel]
    ids = [t["id"] for t in inbound]
    assert expected_messages <= set(ids)
    for message_id in expected_messages:
        assert ids.count(message_id) == 1, f"{message_id} stored {ids.count(message_id)} times"


def test_nothing_forged_echoed_or_receipted_is_stored(story: StoryRun) -> None:
    (anna,) = story.customer_by(x=scenario.ANNA["x_id"])
    timeline = _timeline(story, anna["id"])
    assert not [t for t in timeline if "PageEcho" in t["id"] or "OUTBOUND" in t["id"]]
    assert story.customer_by(messenger=scenario.BRAND_PAGE_ID) == []


def test_the_invoke_endpoint_answers_a_connect_event_with_a_flat_string_map(story: StoryRun) -> None:
    answer = story.call("+390611122233")
    assert answer and all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items())
    assert len(json.dumps(answer).encode()) < 32 * 1024


# ---------------------------------------------------------------- issue 4: one customer everywhere
def test_her_phone_in_any_format_finds_exactly_one_customer_holding_all_her_channels(story: StoryRun) -> None:
    formats = ("+39 333 111 2222", "0039 333 111 2222", "393331112222")
    found = {c["id"] for fmt in formats for c in story.customer_by(phone=fmt)}
    assert len(found) == 1
    (customer_id,) = found
    for channel, user_id in (
        ("x", scenario.ANNA["x_id"]),
        ("facebook", scenario.ANNA["facebook_id"]),
        ("messenger", scenario.ANNA["messenger_psid"]),
        ("whatsapp", scenario.ANNA["wa_id"]),
    ):
        assert [c["id"] for c in story.customer_by(**{channel: user_id})] == [customer_id], channel
    kinds = {i["kind"] for i in story.api(f"/api/customers/{customer_id}")["identities"]}
    assert {"x", "whatsapp", "phone"} <= kinds and kinds & {"facebook", "messenger"}


def test_her_timeline_holds_her_five_messages_and_none_of_marcos(story: StoryRun) -> None:
    (anna,) = story.customer_by(phone="+393331112222")
    inbound = [t for t in _timeline(story, anna["id"]) if t["direction"] == "inbound" and t["channel"] != "phone"]
    assert len(inbound) == 5, [t["id"] for t in inbound]
    assert not [t for t in inbound if t["channel"] == "instagram"]


def test_the_call_centre_recognises_her_call_and_not_a_stranger(story: StoryRun) -> None:
    (anna,) = story.customer_by(phone="+393331112222")
    answer = story.call("+393331112222")
    assert answer["customerKnown"] == "true"
    assert answer["customerId"] == anna["id"] or "Anna" in answer["customerName"]
    assert story.call("+390655566677")["customerKnown"] == "false"


# ---------------------------------------------------------------- issue 5: one case, right team
def _open_cases(run: StoryRun, customer_id: str) -> list[dict[str, Any]]:
    cases = run.api(f"/api/customers/{customer_id}")["cases"]
    return [c for c in cases if c.get("is_open")]


def test_one_open_case_follows_her_across_channels_onto_the_phone(story: StoryRun) -> None:
    (anna,) = story.customer_by(phone="+393331112222")
    story.call("+393331112222")

    def case_with_call() -> dict[str, Any] | None:
        (open_case,) = _open_cases(story, anna["id"])
        case = story.api(f"/api/cases/{open_case['id']}")
        return case if "phone" in {i["channel"] for i in case["interactions"]} else None

    case = wait_for(case_with_call)
    assert case, "the call never reached her case"
    assert len(_open_cases(story, anna["id"])) == 1
    assert {"x", "facebook", "messenger", "whatsapp", "phone"} <= {i["channel"] for i in case["interactions"]}
    assert case["priority"] in {"high", "urgent"}
    assert case["team"] == "callcentre" or any(h.get("to") == "callcentre" for h in case.get("handoffs", []))
    assert story.call("+393331112222")["openCaseId"] == case["id"]


def test_marcos_praise_is_an_engage_item_not_a_complaint_in_her_case(story: StoryRun) -> None:
    (marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])
    (anna,) = story.customer_by(phone="+393331112222")
    (marco_case,) = story.api(f"/api/customers/{marco['id']}")["cases"]
    assert marco_case["id"] not in {c["id"] for c in story.api(f"/api/customers/{anna['id']}")["cases"]}
    case = story.api(f"/api/cases/{marco_case['id']}")
    assert case["priority"] == "low"
    assert case["team"] == "social"


# ---------------------------------------------------------------- issue 6: the CRM sees it all, once
def test_the_crm_holds_one_signed_record_per_case_despite_refusing_the_first_deliveries(story: StoryRun) -> None:
    (anna,) = story.customer_by(phone="+393331112222")
    (marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])

    def synced() -> dict[str, dict[str, Any]] | None:
        views = story.crm.latest_case_views()
        owners = {v["case"].get("customer_id") or v.get("customer", {}).get("id") for v in views.values()}
        return views if {anna["id"], marco["id"]} <= owners else None

    views = wait_for(synced, timeout=90)
    assert views, "the CRM never received both customers' cases"
    assert story.crm.bad_signatures == 0
    assert story.crm.duplicate_deliveries == 0
    anna_cases = [
        v for v in views.values() if (v["case"].get("customer_id") or v.get("customer", {}).get("id")) == anna["id"]
    ]
    assert len(anna_cases) == 1
    assert {"x", "facebook", "messenger", "whatsapp"} <= set(anna_cases[0]["case"]["channels"])


def test_reconcile_finds_nothing_lagging_once_the_crm_caught_up(story: StoryRun) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import urlparse

    wait_for(lambda: len(story.crm.latest_case_views()) >= 2, timeout=90)
    script = Path(sys.executable).parent / "socialcare"
    env = {**os.environ, "SOCIALCARE_LOCAL_MOTO_PORT": str(urlparse(story.stack.moto_url).port)}
    env.pop("AWS_ENDPOINT_URL", None)

    last: list[str] = []

    def lagging() -> str | None:
        out = subprocess.run(
            [str(script), "crm", "reconcile", "--local", "--dry-run"], env=env, capture_output=True, text=True,
            timeout=60, cwd=Path(__file__).resolve().parents[2],
        )
        assert out.returncode == 0, out.stderr
        last[:] = [out.stdout]
        return out.stdout if "0 case(s) lag the CRM" in out.stdout else None

    assert wait_for(lagging, timeout=60), f"reconcile still reports cases lagging the CRM: {last}"


# ---------------------------------------------------------------- issue 12: answer where she spoke
def _sent_to_platforms(run: StoryRun) -> list[dict[str, Any]]:
    """Every request the stack's functions sent to the loopback X/Graph stand-in."""
    r = requests.get(f"{run.stack.platforms_url}/_standin/requests", timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json())


def _reply(run: StoryRun, case_id: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{run.stack.api_url}/api/cases/{case_id}/replies", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {run.secrets.api_token}",
                                  "X-Socialcare-Agent": "giulia.rossi"})


def _tweets_replying_to(run: StoryRun, tweet_id: str) -> list[dict[str, Any]]:
    return [r for r in _sent_to_platforms(run) if r["method"] == "POST" and r["path"] == "/2/tweets"
            and (r.get("body") or {}).get("reply", {}).get("in_reply_to_tweet_id") == tweet_id]


def test_an_agents_reply_to_her_x_mention_is_posted_under_her_tweet_and_stops_the_clock(story: StoryRun) -> None:
    (anna,) = story.customer_by(x=scenario.ANNA["x_id"])
    case_id = story.api(f"/api/customers/{anna['id']}")["open_case_id"]
    mention = "x:1860000000000000001"
    tweet_id = mention.split(":", 1)[1]

    text = "Ciao Anna, ci dispiace: ti scriviamo in privato."
    answer = _reply(story, case_id, {"text": text, "in_reply_to": mention})

    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["status"] == "queued" and queued["interaction_id"]
    posted = wait_for(lambda: _tweets_replying_to(story, tweet_id), timeout=60)
    assert len(posted) == 1, posted
    assert posted[0]["headers"]["Authorization"].startswith("OAuth ")  # OAuth 1.0a user context
    assert posted[0]["body"]["text"].startswith("Ciao Anna")

    def sent() -> dict[str, Any] | None:
        case = story.api(f"/api/cases/{case_id}")
        states = {r["interaction_id"]: r for r in case.get("replies", [])}
        return case if states.get(queued["interaction_id"], {}).get("status") == "sent" else None

    case = wait_for(sent, timeout=60)
    assert case, "the sent reply never showed on the case"
    assert case["first_response_at"]
    outbound = [i for i in case["interactions"] if i["id"] == queued["interaction_id"]]
    assert outbound and outbound[0]["direction"] == "outbound" and outbound[0]["channel"] == "x"
    timeline = _timeline(story, anna["id"])
    assert [t for t in timeline if t["id"] == queued["interaction_id"] and t["direction"] == "outbound"]

    # Redelivered by SQS (same body, a new deduplication id): the responder must not post again.
    sqs = story.stack.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=story.stack.names["OutboundQueue"])["QueueUrl"]
    from socialcare.models.reply import OutboundMessage, ReplyRoute, ReplyTo

    item = next(t for t in timeline if t["id"] == mention)
    again = OutboundMessage(
        interaction_id=queued["interaction_id"], case_id=case_id, customer_id=anna["id"], channel="x",
        route=ReplyRoute.PUBLIC_REPLY, text=posted[0]["body"]["text"], source="api", agent="giulia.rossi",
        to=ReplyTo(interaction_id=mention, channel="x", kind=item["kind"], public=True, platform_message_id=tweet_id,
                   author_id=scenario.ANNA["x_id"], account_id=scenario.BRAND_X_ID, occurred_at=item["occurred_at"],
                   last_inbound_at=item["occurred_at"]),
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=again.queue_body(), MessageGroupId=case_id,
                     MessageDeduplicationId=f"redelivery-{time.time_ns()}")

    def drained() -> bool:
        counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"

    assert wait_for(drained, timeout=30), "the redelivered message was never consumed"
    time.sleep(1.0)
    assert len(_tweets_replying_to(story, tweet_id)) == 1


def test_a_whatsapp_reply_far_outside_the_24h_window_is_refused_and_nothing_is_sent(story: StoryRun) -> None:
    wa_id, message_id = "393471234567", "wamid.HBgMMzkzNDcxMjM0NTY3FQIAEhgWT0xEMDAwMQ=="
    three_days_ago = time.time() - 3 * 86_400
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "390212345678", "phone_number_id": scenario.BRAND_WA_PHONE_ID},
            "contacts": [{"profile": {"name": "Piero Gallo"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": message_id, "timestamp": str(int(three_days_ago)), "type": "text",
                          "text": {"body": "Salve, il mio reso non è ancora stato rimborsato."}}]}}]}]}
    body = json.dumps(payload).encode()
    posted = requests.post(f"{story.stack.api_url}/webhooks/meta", data=body, timeout=10, headers={
        "content-type": "application/json",
        "x-hub-signature-256": scenario.meta_signature(story.secrets.meta_app, body)})
    assert posted.status_code == 200, posted.text
    (piero,) = wait_for(lambda: story.customer_by(whatsapp=wa_id))
    case_id = wait_for(lambda: story.api(f"/api/customers/{piero['id']}")["open_case_id"])

    refused = _reply(story, case_id, {"text": "Buongiorno, ci scusiamo per il ritardo."})

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["error"] == "messaging_window_closed"
    assert "24" in problem["detail"] and "whatsapp" in problem["rule"].lower()
    assert {o["route"] for o in problem["options"]} >= {"message", "template"}
    time.sleep(2.0)  # had anything been queued, the responder would have sent it by now
    assert not [r for r in _sent_to_platforms(story) if wa_id in json.dumps(r.get("body"))]
    case = story.api(f"/api/cases/{case_id}")
    assert case["first_response_at"] is None


# ---------------------------------------------------------------- issue 13: roles and the audit trail
LOCAL_TOKENS = {"agent": "local-agent-token", "supervisor": "local-supervisor-token", "admin": "local-admin-token"}


def _as(run: StoryRun, role: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {LOCAL_TOKENS[role]}"}
    return requests.request(method, f"{run.stack.api_url}{path}", headers=headers, timeout=10, **kwargs)


def test_the_openapi_document_lists_the_api_without_a_token_and_holds_no_data(story: StoryRun) -> None:
    r = requests.get(f"{story.stack.api_url}/api/openapi.json", timeout=10)

    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    assert {"/api/customers", "/api/customers/merge", "/api/cases/{case_id}/replies", "/api/audit"} <= set(paths)
    assert scenario.ANNA["phone"] not in r.text and scenario.ANNA["name"] not in r.text
    assert requests.get(f"{story.stack.api_url}/api/customers", timeout=10).status_code == 401


def test_an_agent_cannot_merge_customers_and_the_two_stay_apart(story: StoryRun) -> None:
    (anna,) = story.customer_by(x=scenario.ANNA["x_id"])
    (marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])

    refused = _as(story, "agent", "POST", "/api/customers/merge",
                  json={"source": marco["id"], "target": anna["id"]})

    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"]
    (still_marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])
    assert still_marco["id"] == marco["id"] != anna["id"]
    audit = _as(story, "admin", "GET", "/api/audit").json()["records"]
    assert not [a for a in audit if a["action"].endswith("/api/customers/merge")]


def test_an_agent_or_a_supervisor_cannot_export_or_erase_a_customer(story: StoryRun) -> None:
    (marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])

    for role in ("agent", "supervisor"):
        erase = _as(story, role, "DELETE", f"/api/customers/{marco['id']}")
        export = _as(story, role, "GET", f"/api/customers/{marco['id']}/export")
        assert (erase.status_code, export.status_code) == (403, 403), (role, erase.text, export.text)
        assert erase.json()["reason"]
    (still_there,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])
    assert still_there["id"] == marco["id"]


def test_an_agent_cannot_read_the_audit_trail(story: StoryRun) -> None:
    assert _as(story, "agent", "GET", "/api/audit").status_code == 403


def test_every_agent_action_is_in_the_audit_trail_with_who_what_and_which_case(story: StoryRun) -> None:
    (marco,) = story.customer_by(instagram=scenario.MARCO["instagram_id"])
    case_id = wait_for(lambda: story.api(f"/api/customers/{marco['id']}")["open_case_id"])
    resolved = _as(story, "agent", "POST", f"/api/cases/{case_id}/resolve", json={"note": "thanked him"})
    assert resolved.status_code == 200, resolved.text

    records = _as(story, "admin", "GET", "/api/audit", params={"actor": "local-agent"}).json()["records"]

    (entry,) = [r for r in records if r["action"] == "POST /api/cases/{case_id}/resolve"]
    assert entry["targets"]["case_id"] == case_id
    assert entry["role"] == "agent" and entry["status"] == 200 and entry["at"]
    everyone = _as(story, "admin", "GET", "/api/audit").json()["records"]
    assert [r for r in everyone if r["action"] == "POST /api/cases/{case_id}/replies"], "the replies above"
