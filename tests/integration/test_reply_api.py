"""Replies end to end on moto (template.yaml's tables and queues, the ``aws`` fixture): a customer's
message goes through the real ProcessorFunction flow onto the timeline and into a case, then an
agent answers through the real API resolver, or an agent answers in the CRM through the real
CrmWebhookFunction handler. What a user notices: what lands on outbound.fifo (and what does not),
the 202/409/4xx answers, the reply states on the case and on the CRM's copy of it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socialcare.crm.render import reply_notes, summary
from socialcare.domain.cases.merge import CaseMerge
from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CaseUpserted
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind, ThreadRef
from socialcare.models.reply import OutboundMessage
from socialcare_infra.handlers import load_app

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
BRAND_X = "783214"
PAGE = "page-1"
WA_NUMBER = "wa-number-1"


class Context:
    function_name = "CrmWebhookFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:CrmWebhookFunction"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def ago(**delta: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


def message(channel: Channel, kind: Kind, pmid: str, text: str, at: datetime, *, author: str, account: str,
            name: str = "Anna Bianchi", thread: ThreadRef | None = None) -> Interaction:
    return Interaction(id=Interaction.make_id(channel, pmid), channel=channel, kind=kind, account_id=account,
                       platform_message_id=pmid, author=Author(id=author, handle=None, name=name), text=text,
                       occurred_at=at, thread=thread or ThreadRef())


def ingest(wiring: Wiring, interaction: Interaction) -> str:
    """The ProcessorFunction's flow: recognised, on the timeline, threaded into a case."""
    event = InboundEvent(action=Action.CREATE, source="test", event_id=interaction.platform_message_id,
                         interaction=interaction)
    done = Processor(wiring).process(event)
    assert done["status"] == "stored", done
    return str(done["case_id"])


def x_mention(at: datetime) -> Interaction:
    return message(Channel.X, Kind.PUBLIC_POST, "1850000000000000001", "@brand il mio pacco non è mai arrivato",
                   at, author="2244001", account=BRAND_X, thread=ThreadRef(conversation_id="1850000000000000001"))


def whatsapp(at: datetime, pmid: str = "wamid.HBgM1") -> Interaction:
    return message(Channel.WHATSAPP, Kind.DIRECT_MESSAGE, pmid, "Ciao, aspetto ancora il rimborso", at,
                   author="393331112222", account=WA_NUMBER)


def messenger(at: datetime) -> Interaction:
    return message(Channel.MESSENGER, Kind.DIRECT_MESSAGE, "m_abc1", "Buongiorno, vi scrivo per l'ordine",
                   at, author="psid-77", account=PAGE)


def call_api(app: Any, method: str, path: str, token: str, body: Any = None, *, raw: str | None = None,
             query: dict[str, str] | None = None, agent: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    if agent:
        headers["x-socialcare-agent"] = agent
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query, "headers": headers,
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                    "userAgent": "t"},
                           "requestId": "r", "routeKey": "$default", "stage": "$default", "domainName": "localhost",
                           "accountId": "123456789012", "apiId": "api", "time": "x", "timeEpoch": 0},
        "body": raw if raw is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Any:
    app = build(wiring)

    def request(method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return call_api(app, method, path, aws.api_token, body, **kwargs)

    return request


def outbound(aws: AwsStack) -> list[OutboundMessage]:
    return [OutboundMessage.model_validate(m) for m in aws.drain(aws.queue_urls["OutboundQueue"])]


# ---------------------------------------------------------------- the API
def test_a_reply_to_an_x_mention_is_queued_once_as_a_public_reply(aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, x_mention(ago(minutes=20)))

    status, body = api("POST", f"/api/cases/{case_id}/replies", {"text": "Ciao Anna, ci scusiamo: ti scriviamo in DM"},
                       agent="marta")

    assert status == 202, body
    assert body["status"] == "queued" and body["route"] == "public_reply" and body["channel"] == "x"
    (queued,) = outbound(aws)
    assert queued.interaction_id == body["interaction_id"] and queued.interaction_id.startswith("reply:")
    assert queued.case_id == case_id and queued.route.value == "public_reply" and queued.agent == "marta"
    assert queued.to.platform_message_id == "1850000000000000001" and queued.to.author_id == "2244001"
    assert queued.to.account_id == BRAND_X and queued.to.conversation_id == "1850000000000000001"
    assert queued.text == "Ciao Anna, ci scusiamo: ti scriviamo in DM" and queued.source == "api"
    (state,) = wiring.case_queries.get_case(case_id).replies
    assert (state.status.value, state.route.value if state.route else None) == ("queued", "public_reply")
    assert state.in_reply_to == "x:1850000000000000001" and state.agent == "marta"


def test_whatsapp_after_the_24_hour_window_without_a_template_is_refused_and_nothing_is_queued(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, whatsapp(ago(hours=25)))

    status, body = api("POST", f"/api/cases/{case_id}/replies", {"text": "Rimborso avviato"})

    assert status == 409, body
    assert body["error"] == "messaging_window_closed" and body["rule"] == "whatsapp_24h_window"
    assert "24-hour" in body["reason"] and "template" in body["reason"]
    assert {o["route"] for o in body["options"]} == {"message", "template"}
    assert outbound(aws) == []
    assert wiring.case_queries.get_case(case_id).replies == []  # an agent's refused reply: told, not recorded


def test_whatsapp_inside_the_window_is_queued_as_a_message(aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, whatsapp(ago(hours=23)))

    status, body = api("POST", f"/api/cases/{case_id}/replies", {"text": "Rimborso avviato, ci scusiamo."})

    assert status == 202, body
    assert (body["route"], body["channel"]) == ("message", "whatsapp")
    (queued,) = outbound(aws)
    assert queued.to.author_id == "393331112222" and queued.to.account_id == WA_NUMBER
    assert queued.to.platform_message_id == "wamid.HBgM1"


def test_the_window_opens_with_the_customers_newest_message_not_the_one_answered(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    """She wrote 30 h ago and again 2 h ago: answering the older message is still in the window."""
    old = whatsapp(ago(hours=30), "wamid.OLD")
    case_id = ingest(wiring, old)
    ingest(wiring, whatsapp(ago(hours=2), "wamid.NEW"))

    status, body = api("GET", f"/api/cases/{case_id}/reply-options", query={"in_reply_to": old.id})

    assert status == 200, body
    assert body["in_reply_to"] == old.id
    message_route = next(o for o in body["options"] if o["route"] == "message")
    assert message_route["available"] is True
    assert datetime.fromisoformat(message_route["until"]) > datetime.now(UTC) + timedelta(hours=21)


def test_a_messenger_dm_three_days_old_goes_out_with_the_human_agent_tag(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, messenger(ago(days=3)))

    status, body = api("POST", f"/api/cases/{case_id}/replies", {"text": "Gentile Anna, il Suo ordine è partito."})

    assert status == 202, body
    assert body["route"] == "human_agent_tag"
    (queued,) = outbound(aws)
    assert queued.route.value == "human_agent_tag" and queued.to.author_id == "psid-77"
    assert queued.to.account_id == PAGE


def test_reply_options_list_every_route_with_its_deadline_and_cost_and_change_nothing(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, messenger(ago(hours=2)))
    before = wiring.case_queries.get_case(case_id).version

    status, body = api("GET", f"/api/cases/{case_id}/reply-options")

    assert status == 200, body
    assert body["case_id"] == case_id and body["in_reply_to"] == "messenger:m_abc1"
    routes = {o["route"]: o for o in body["options"]}
    assert set(routes) == {"message", "human_agent_tag"}
    assert routes["message"]["available"] and routes["human_agent_tag"]["available"]
    until = datetime.fromisoformat(routes["message"]["until"])
    assert timedelta(hours=21) < until - datetime.now(UTC) < timedelta(hours=23)
    assert all("estimated_cost_usd" in o for o in body["options"])
    assert body["draft"]["language"] == "it" and body["draft"]["text"].startswith("Gentile Anna")
    assert outbound(aws) == [] and wiring.case_queries.get_case(case_id).version == before


def test_bad_requests_are_4xx_json_and_queue_nothing(aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = ingest(wiring, x_mention(ago(minutes=5)))
    path = f"/api/cases/{case_id}/replies"

    status, body = api("POST", path, {"text": "x" * 281})
    assert status == 400 and body["details"]["limit"] == 280 and "280" in body["reason"]
    status, body = api("POST", path, {"text": "ciao", "cc": "someone"})
    assert status == 422 and body["error"] == "validation_error"
    status, body = api("POST", path, {"text": "ciao", "visibility": "loud"})
    assert status == 422
    status, body = api("POST", path, {})
    assert status == 400 and "text" in body["reason"]
    status, body = api("POST", path, raw="{not json")
    assert 400 <= status < 500 and body["error"]
    status, body = api("POST", path, {"text": "ciao", "template": {"name": "case_update"}})
    assert status == 409 and body["error"] == "template_not_allowed"
    status, body = api("POST", path, {"text": "ciao", "in_reply_to": "x:nobody-knows"})
    assert status == 404 and body["error"] == "not_found"
    assert api("POST", "/api/cases/SC-2026-999999/replies", {"text": "ciao"})[0] == 404
    other = ingest(wiring, whatsapp(ago(hours=1)))
    assert other != case_id
    status, body = api("POST", path, {"text": "ciao", "in_reply_to": "whatsapp:wamid.HBgM1"})
    assert status == 400 and other in body["reason"]
    assert outbound(aws) == []


# ---------------------------------------------------------------- from the CRM
def _crm_webhook(doc: dict[str, Any], secret: str) -> dict[str, Any]:
    body = json.dumps(doc).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    event = {
        "version": "2.0", "routeKey": "POST /webhooks/crm/{provider}", "rawPath": "/webhooks/crm/webhook",
        "rawQueryString": "",
        "headers": {"host": "api.test", "x-socialcare-timestamp": stamp, "x-socialcare-signature": signature},
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/crm/webhook"}, "domainName": "api.test",
                           "stage": "$default", "requestId": "r-1"},
        "pathParameters": {"provider": "webhook"}, "body": body.decode(), "isBase64Encoded": False,
    }
    response: dict[str, Any] = load_app("crm_webhook").handler(event, Context())
    response["json"] = json.loads(response["body"])
    return response


def _synced(wiring: Wiring, case_id: str) -> str:
    record = f"crm-{case_id}"
    assert wiring.cases_repo.record_crm_sync(case_id, provider="webhook", record_id=record, version=1)
    return record


def test_a_crm_public_comment_queues_one_reply_however_often_the_crm_retries(aws: AwsStack, wiring: Wiring) -> None:
    case_id = ingest(wiring, whatsapp(ago(hours=3)))
    record = _synced(wiring, case_id)
    doc = {"event": "case.replied", "record_id": record,
           "reply": {"id": "c-1", "text": "Rimborso avviato, ci scusiamo.", "public": True,
                     "author": {"id": "agent-7", "name": "Marta"}}}

    first = _crm_webhook(doc, aws.secret_values["CrmWebhookSecret"])
    again = _crm_webhook(doc, aws.secret_values["CrmWebhookSecret"])

    assert first["statusCode"] == again["statusCode"] == 200
    assert first["json"] == {"received": 1, "applied": 1, "ignored": 0}
    (queued,) = outbound(aws)
    assert queued.case_id == case_id and queued.route.value == "message" and queued.channel.value == "whatsapp"
    assert queued.source == "crm:webhook" and queued.crm_reply_id == "c-1" and queued.crm_record_id == record
    assert queued.agent == "Marta" and queued.text == "Rimborso avviato, ci scusiamo."
    (state,) = wiring.case_queries.get_case(case_id).replies
    assert state.interaction_id == queued.interaction_id and state.status.value == "queued"
    # A retry after the idempotency record expired: the reply's id is the comment's, nothing more is queued.
    assert wiring.reply_service.request(case_id, text="Rimborso avviato, ci scusiamo.", source="crm:webhook",
                                        crm_reply_id="c-1").interaction_id == queued.interaction_id
    assert outbound(aws) == []


def test_a_refused_crm_reply_shows_up_refused_on_the_case_and_in_the_crm(aws: AwsStack, wiring: Wiring) -> None:
    case_id = ingest(wiring, whatsapp(ago(hours=25)))
    record = _synced(wiring, case_id)
    doc = {"event": "case.replied", "record_id": record,
           "reply": {"id": "c-2", "text": "Ecco il rimborso", "public": True, "author": {"name": "Marta"}}}

    response = _crm_webhook(doc, aws.secret_values["CrmWebhookSecret"])

    assert response["statusCode"] == 200  # retrying could never make it acceptable
    assert response["json"] == {"received": 1, "applied": 0, "ignored": 1}
    assert outbound(aws) == []
    (state,) = wiring.case_queries.get_case(case_id).replies
    assert state.status.value == "refused" and state.crm_reply_id == "c-2" and state.agent == "Marta"
    assert state.reason is not None and state.reason.startswith("whatsapp_24h_window:") and "24-hour" in state.reason
    view = wiring.crm_views.get_case_view(case_id)
    assert view is not None
    event = CaseUpserted.from_view(view)
    (seen,) = event.replies
    assert seen.status == "refused" and seen.reason == state.reason and seen.source == "crm:webhook"
    assert "refused: whatsapp" in summary(event) and state.reason in summary(event)
    ((_, note, _),) = reply_notes(event)
    assert "refused" in note and "24-hour" in note
    assert _crm_webhook(doc, aws.secret_values["CrmWebhookSecret"])["json"]["ignored"] == 1  # the CRM retried
    assert len(wiring.case_queries.get_case(case_id).replies) == 1 and outbound(aws) == []


def test_a_private_reply_to_a_facebook_comment_is_allowed_once(aws: AwsStack, wiring: Wiring, api: Any) -> None:
    comment = message(Channel.FACEBOOK, Kind.COMMENT, "post1_c9", "Ancora nessuna risposta sul pacco", ago(hours=5),
                      author="fb-anna", account=PAGE, thread=ThreadRef(post_id="post1", parent_id="post1"))
    case_id = ingest(wiring, comment)
    path = f"/api/cases/{case_id}/replies"

    status, body = api("POST", path, {"text": "Ti scriviamo in privato", "visibility": "private"})
    assert status == 202 and body["route"] == "private_reply", body
    status, body = api("POST", path, {"text": "Ti riscriviamo", "visibility": "private"})
    assert status == 409 and body["error"] == "private_reply_unavailable" and "already" in body["reason"]
    status, body = api("POST", path, {"text": "Ci scusiamo, ti abbiamo scritto in privato"})
    assert status == 202 and body["route"] == "public_reply"
    assert [m.route.value for m in outbound(aws)] == ["private_reply", "public_reply"]
    assert outbound(aws) == []


def test_a_reply_to_a_merged_case_goes_to_the_case_it_was_merged_into(aws: AwsStack, wiring: Wiring,
                                                                      api: Any) -> None:
    survivor = ingest(wiring, x_mention(ago(hours=2)))
    merged = ingest(wiring, whatsapp(ago(hours=1)))
    survivor_customer = wiring.case_queries.get_case(survivor).customer_id
    merged_customer = wiring.case_queries.get_case(merged).customer_id
    assert survivor_customer and merged_customer and survivor != merged
    CaseMerge(wiring.cases_repo).merge_customers(merged_customer, survivor_customer)

    status, body = api("POST", f"/api/cases/{merged}/replies", {"text": "Rimborso avviato"})

    assert status == 202, body
    assert body["case_id"] == survivor and body["channel"] == "whatsapp"  # where she last wrote
    (queued,) = outbound(aws)
    assert queued.case_id == survivor
    assert [r.status.value for r in wiring.case_queries.get_case(survivor).replies] == ["queued"]


def test_a_crm_reply_too_long_for_x_is_refused_with_the_limit(aws: AwsStack, wiring: Wiring) -> None:
    case_id = ingest(wiring, x_mention(ago(minutes=10)))
    doc = {"event": "case.replied", "record_id": _synced(wiring, case_id),
           "reply": {"id": "c-3", "text": "Gentile cliente, " + "x" * 300, "public": True}}

    response = _crm_webhook(doc, aws.secret_values["CrmWebhookSecret"])

    assert response["json"] == {"received": 1, "applied": 0, "ignored": 1}
    (state,) = wiring.case_queries.get_case(case_id).replies
    assert state.status.value == "refused" and state.reason is not None and "at most 280" in state.reason
    assert outbound(aws) == []


def test_the_draft_answers_in_the_customers_tone_with_the_order_she_quoted(aws: AwsStack, wiring: Wiring,
                                                                          api: Any) -> None:
    complaint = message(Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "wamid.R1",
                        "Ciao, il mio ordine LX-2026-004711 non è mai arrivato 😡", ago(hours=1),
                        author="393330000001", account=WA_NUMBER)
    case_id = ingest(wiring, complaint)

    status, body = api("GET", f"/api/cases/{case_id}/reply-options")

    assert status == 200, body
    draft = body["draft"]
    assert (draft["language"], draft["register"]) == ("it", "informal")
    assert draft["text"].startswith("Ciao Anna,") and "LX-2026-004711" in draft["text"]
