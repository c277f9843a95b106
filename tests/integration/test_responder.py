"""Replies, end to end through the real handlers: a customer writes (signed webhook -> inbound.fifo
-> ProcessorFunction), an agent's reply is checked and queued (``ReplyService``), ResponderFunction
sends it with the real senders (tweepy, facebook-sdk) against ``responses`` standing in for X and
the Graph API, and the platform's receipts come back through the webhook and the processor.
AWS is moto, built from template.yaml (the ``aws`` fixture); nothing leaves the machine."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import responses
from botocore.exceptions import ClientError
from event_source import run_event_source  # tests/integration/event_source.py
from webhook_calls import Context, post_signed  # tests/integration/webhook_calls.py

from socialcare import aws as aws_clients
from socialcare.config.settings import Settings
from socialcare.domain.replies.policy import disclosure
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Case
from socialcare.models.reply import OutboundMessage, ReplyRoute, ReplyStatus
from socialcare_infra.esm import lambda_sqs_record
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py

pytestmark = pytest.mark.integration

X_API = "http://x.fake.test"
GRAPH = "http://graph.fake.test"
BRAND_X = "1500000000000000001"
ANNA_X = "2244994945"
WA_PHONE_ID = "109876543210"
ANNA_WA = "393331112222"
META_TOKEN = "EAAGm0PX4ZCpsBAPIUExpIredToken"
OAUTH1 = {"consumer_key": "ck-brand", "consumer_secret": "cs-brand", "access_token": "at-brand",
          "access_token_secret": "ats-brand"}


@dataclass
class World:
    aws: AwsStack
    wiring: Wiring
    webhook_x: ModuleType
    webhook_meta: ModuleType
    processor: ModuleType
    responder: ModuleType

    def ingest(self) -> None:
        run_event_source(lambda e: self.processor.handler(e, Context(30_000)), self.aws.queue_urls["InboundQueue"])

    def respond(self, **kwargs: Any) -> int:
        return run_event_source(lambda e: self.responder.handler(e, Context(60_000, function_name="Responder")),
                                self.aws.queue_urls["OutboundQueue"], **kwargs)

    def case(self, case_id: str) -> Case:
        case = self.wiring.cases_repo.get_with_interactions(case_id)
        assert case is not None
        return case


@pytest.fixture
def world(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("SOCIALCARE_X_API_URL", X_API)
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", GRAPH)
    monkeypatch.setenv("SOCIALCARE_BRAND_X_ACCOUNT_IDS", BRAND_X)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({"default": OAUTH1}))
    secrets.put_secret_value(SecretId=aws.secret_arns["MetaAccessTokens"],
                             SecretString=json.dumps({"default": META_TOKEN}))
    # each function is loaded as at its cold start, from the environment set above
    return World(aws, Wiring(Settings()), load_app("webhook_x"), load_app("webhook_meta"), load_app("processor"),
                 load_app("responder"))


@pytest.fixture
def platforms() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


# ------------------------------------------------------------------ the customer writes
def x_mention(world: World, tweet_id: str, text: str) -> str:
    """Anna mentions the brand on X; returns her case's id once the processor has threaded it."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    body = json.dumps({"for_user_id": BRAND_X, "tweet_create_events": [{
        "created_at": now.strftime("%a %b %d %H:%M:%S +0000 %Y"), "id_str": tweet_id, "text": text,
        "user": {"id_str": ANNA_X, "name": "Anna Bianchi", "screen_name": "anna_bianchi", "followers_count": 480},
        "in_reply_to_status_id_str": None, "lang": "it", "timestamp_ms": str(int(now.timestamp() * 1000)),
        "entities": {"user_mentions": [{"id_str": BRAND_X, "screen_name": "brand"}]},
    }]}).encode()
    status, answer = post_signed(world.webhook_x, "x", world.aws.secret_values["XConsumerSecret"], body)
    assert status == 200, answer
    world.ingest()
    return case_of(world, "x", ANNA_X)


def whatsapp(world: World, value: dict[str, Any]) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "390212345678",
                                                    "phone_number_id": WA_PHONE_ID}, **value}}]}]}).encode()
    status, answer = post_signed(world.webhook_meta, "meta", world.aws.secret_values["MetaAppSecret"], body)
    assert status == 200, answer
    world.ingest()


def whatsapp_message(world: World, wamid: str, text: str) -> str:
    sent = str(int(time.time()) - 60)
    whatsapp(world, {"contacts": [{"profile": {"name": "Anna Bianchi"}, "wa_id": ANNA_WA}], "messages": [{
        "from": ANNA_WA, "id": wamid, "timestamp": sent, "type": "text", "text": {"body": text}}]})
    return case_of(world, "whatsapp", ANNA_WA)


def whatsapp_receipt(world: World, wamid: str, status: str) -> None:
    whatsapp(world, {"statuses": [{"id": wamid, "status": status, "timestamp": str(int(time.time())),
                                   "recipient_id": ANNA_WA}]})


def case_of(world: World, kind: str, value: str) -> str:
    claim = world.wiring.profiles.get_claim(kind, value)
    assert claim is not None, f"{kind} {value} was not recognised"
    case_id = world.wiring.cases_repo.latest_case_id(claim.customer_id)
    assert case_id is not None
    return case_id


# ------------------------------------------------------------------ what the platforms answer
def x_posts(platforms: responses.RequestsMock, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
    for status, body, headers in answers:
        platforms.post(f"{X_API}/2/tweets", status=status, json=body, headers=headers)


def graph_messages(platforms: responses.RequestsMock, status: int, body: dict[str, Any]) -> None:
    platforms.post(f"{GRAPH}/v21.0/{WA_PHONE_ID}/messages", status=status, json=body)


def sent_bodies(platforms: responses.RequestsMock, path: str) -> list[Any]:
    return [c.request.body for c in platforms.calls if path in (c.request.url or "")]


def dead_letters(world: World) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=world.aws.queue_urls["OutboundDLQ"], MaxNumberOfMessages=10,
                              MessageAttributeNames=["All"]).get("Messages", [])
    return [{"body": json.loads(m["Body"]),
             **{k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()}} for m in got]


def work_items(world: World, kind: str) -> list[dict[str, Any]]:
    items = [i for q in ("SocialTeamQueue", "CallcentreTeamQueue") for i in world.aws.drain(world.aws.queue_urls[q])]
    return [i for i in items if i["kind"] == kind]


def reply_state(world: World, case_id: str, reply_id: str) -> Any:
    return next(r for r in world.case(case_id).replies if r.interaction_id == reply_id)


def redeliver(world: World, message: OutboundMessage, times: int) -> None:
    """The same body again, as SQS redelivers it (new deduplication ids: the dedupe window is over)."""
    for n in range(times):
        boto3.client("sqs").send_message(QueueUrl=world.aws.queue_urls["OutboundQueue"],
                                         MessageBody=message.queue_body(), MessageGroupId=message.group_id,
                                         MessageDeduplicationId=f"redelivery-{n}")


# ------------------------------------------------------------------ tests
def test_an_x_reply_is_posted_once_though_delivered_three_times_and_joins_the_case(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = x_mention(world, "1870000000000000001", "@brand il mio ordine ORD-123456 non è mai arrivato!")
    message = world.wiring.reply_service.request(case_id, text="Ciao Anna, ci scusiamo: verifichiamo subito.",
                                                 agent="marco")
    assert message.route is ReplyRoute.PUBLIC_REPLY
    redeliver(world, message, 2)
    x_posts(platforms, (201, {"data": {"id": "1870000000000000099", "text": "Ciao Anna"}}, {}))

    assert world.respond(batch=1) == 3  # three deliveries, three invocations

    posted = sent_bodies(platforms, "/2/tweets")
    assert len(posted) == 1, "a redelivered reply must never post twice"
    assert json.loads(posted[0]) == {"text": "Ciao Anna, ci scusiamo: verifichiamo subito.",
                                     "reply": {"in_reply_to_tweet_id": "1870000000000000001"}}
    assert str(platforms.calls[0].request.headers["Authorization"]).startswith("OAuth ")  # the brand user's tokens
    case = world.case(case_id)
    outbound = [i for i in case.interactions if i.id == message.interaction_id]
    assert len(outbound) == 1 and outbound[0].direction == "outbound" and outbound[0].kind == "public_reply"
    state = reply_state(world, case_id, message.interaction_id)
    assert state.status is ReplyStatus.SENT and state.platform_message_id == "1870000000000000099"
    assert case.first_response_at is not None and case.first_response_at == state.at
    assert case.status.value == "open"
    claim = world.wiring.profiles.get_claim("x", ANNA_X)
    assert claim is not None
    timeline = {i["id"]: i for i in world.wiring.profiles.timeline(claim.customer_id).items}
    mine = timeline[message.interaction_id]
    assert (mine["direction"], mine["platform_message_id"], mine["case_id"]) == (
        "outbound", "1870000000000000099", case_id)
    assert mine["metadata"]["in_reply_to"] == "x:1870000000000000001" and mine["metadata"]["agent"] == "marco"


def test_a_whatsapp_reply_moves_to_delivered_then_read_with_the_platforms_receipts(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = whatsapp_message(world, "wamid.IN0001", "Buongiorno, dov'è il mio rimborso?")
    message = world.wiring.reply_service.request(case_id, text="Buongiorno Anna, il rimborso parte oggi.")
    graph_messages(platforms, 200, {"messaging_product": "whatsapp", "contacts": [{"input": ANNA_WA, "wa_id": ANNA_WA}],
                                    "messages": [{"id": "wamid.OUT0001"}]})
    world.respond()
    form = dict(p.split("=", 1) for p in str(sent_bodies(platforms, "/messages")[0]).split("&"))
    assert form["to"] == ANNA_WA and form["type"] == "text"
    assert reply_state(world, case_id, message.interaction_id).status is ReplyStatus.SENT

    whatsapp_receipt(world, "wamid.OUT0001", "delivered")
    assert reply_state(world, case_id, message.interaction_id).status is ReplyStatus.DELIVERED
    whatsapp_receipt(world, "wamid.OUT0001", "read")
    whatsapp_receipt(world, "wamid.OUT0001", "delivered")  # late and out of order: never goes back
    assert reply_state(world, case_id, message.interaction_id).status is ReplyStatus.READ
    claim = world.wiring.profiles.get_claim("whatsapp", ANNA_WA)
    assert claim is not None
    timeline = {i["id"]: i for i in world.wiring.profiles.timeline(claim.customer_id).items}
    assert timeline[message.interaction_id]["delivery_status"] == "read"  # the agent sees it on the reply


def test_a_rate_limited_reply_waits_for_the_platforms_reset_then_goes_with_the_next_in_order(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = x_mention(world, "1870000000000000002", "@brand ancora nessuna risposta")
    first = world.wiring.reply_service.request(case_id, text="Eccoci, Anna: ti rispondiamo subito.")
    second = world.wiring.reply_service.request(case_id, text="Il rimborso è partito.")
    reset = int(time.time()) + 6
    x_posts(platforms, (429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                              "status": 429}, {"x-rate-limit-reset": str(reset)}),
            (201, {"data": {"id": "1870000000000000100", "text": "Eccoci"}}, {}),
            (201, {"data": {"id": "1870000000000000101", "text": "Il rimborso"}}, {}))
    sqs = boto3.client("sqs")
    url = world.aws.queue_urls["OutboundQueue"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                              MessageAttributeNames=["All"])["Messages"]
    arn = world.aws.queue_arns["OutboundQueue"]
    answer = world.responder.handler({"Records": [lambda_sqs_record(m, arn, "eu-west-1") for m in got]},
                                     Context(60_000))
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == sorted(m["MessageId"] for m in got)
    assert len(sent_bodies(platforms, "/2/tweets")) == 1, "the second reply must wait behind the first"
    assert reply_state(world, case_id, first.interaction_id).status is ReplyStatus.QUEUED
    time.sleep(2)
    assert not sqs.receive_message(QueueUrl=url).get("Messages"), "retried before X's reset"
    world.respond(deadline_s=20)  # back after the reset (the queue's own timeout is 360 s)
    assert time.time() >= reset - 1
    texts = [json.loads(b)["text"] for b in sent_bodies(platforms, "/2/tweets")]
    assert texts == [first.text, first.text, second.text]  # the case's replies keep their order
    assert reply_state(world, case_id, first.interaction_id).status is ReplyStatus.SENT
    assert reply_state(world, case_id, second.interaction_id).status is ReplyStatus.SENT
    assert dead_letters(world) == []


def test_a_reply_still_rate_limited_on_its_last_receive_fails_for_good(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = x_mention(world, "1870000000000000003", "@brand rispondete?")
    message = world.wiring.reply_service.request(case_id, text="Sì, Anna, eccoci.")
    x_posts(platforms, *[(429, {"title": "Too Many Requests", "type": "about:blank", "status": 429}, {})] * 5)
    world.respond(timeout_elapses=True)  # each retry's wait is skipped: five receives in a row
    assert len(sent_bodies(platforms, "/2/tweets")) == 5
    (dead,) = dead_letters(world)
    assert dead["body"]["interaction_id"] == message.interaction_id
    assert dead["reason"].startswith("still failing after 5 tries: X refused the reply (429")
    state = reply_state(world, case_id, message.interaction_id)
    assert state.status is ReplyStatus.FAILED and state.reason == dead["reason"]


def test_a_reply_the_platform_refuses_for_good_goes_to_the_dlq_and_back_to_the_team(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = whatsapp_message(world, "wamid.IN0002", "Il pacco è rotto")
    message = world.wiring.reply_service.request(case_id, text="Ci dispiace, Anna: ti mandiamo un corriere.")
    graph_messages(platforms, 400, {"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException",
                                              "code": 131026, "fbtrace_id": "AbC"}})
    world.respond()
    (dead,) = dead_letters(world)
    assert dead["body"]["interaction_id"] == message.interaction_id and dead["code"] == "131026"
    assert "Message undeliverable" in dead["reason"]
    state = reply_state(world, case_id, message.interaction_id)
    assert state.status is ReplyStatus.FAILED and state.reason == dead["reason"]
    (item,) = work_items(world, "reply_failed")
    assert item["case"]["id"] == case_id and item["note"] == f"reply failed: {dead['reason']}"
    assert item["team"] == world.case(case_id).team.value
    assert sqs_empty(world, "OutboundQueue")


def test_an_expired_token_alerts_the_operators(world: World, platforms: responses.RequestsMock) -> None:
    inbox = world.aws.alerts_inbox()
    case_id = whatsapp_message(world, "wamid.IN0003", "Ciao, novità?")
    message = world.wiring.reply_service.request(case_id, text="Sì, Anna: domani.")
    graph_messages(platforms, 401, {"error": {"message": "Error validating access token: Session has expired",
                                              "type": "OAuthException", "code": 190, "error_subcode": 463}})
    world.respond()
    alerts = [a for a in world.aws.drain(inbox) if a.get("kind") == "reply_credentials"]
    assert len(alerts) == 1
    assert alerts[0]["channel"] == "whatsapp" and alerts[0]["code"].startswith("190")
    assert alerts[0]["reply_id"] == message.interaction_id
    assert META_TOKEN not in json.dumps(alerts[0])
    (dead,) = dead_letters(world)
    assert dead["code"].startswith("190")
    assert reply_state(world, case_id, message.interaction_id).status is ReplyStatus.FAILED
    assert len(work_items(world, "reply_failed")) == 1


def test_an_automated_reply_carries_the_disclosure(world: World, platforms: responses.RequestsMock) -> None:
    case_id = x_mention(world, "1870000000000000004", "@brand il mio ordine è in ritardo")
    text = "Grazie Anna, abbiamo ricevuto la tua segnalazione e ti risponderemo al più presto."
    message = world.wiring.reply_service.request(case_id, text=text, automated=True, source="system")
    x_posts(platforms, (201, {"data": {"id": "1870000000000000101", "text": "Grazie"}}, {}))
    world.respond()
    (posted,) = sent_bodies(platforms, "/2/tweets")
    notice = disclosure(world.wiring.reply_rules, "it")
    assert json.loads(posted)["text"] == f"{text}\n\n{notice}"
    claim = world.wiring.profiles.get_claim("x", ANNA_X)
    assert claim is not None
    timeline = {i["id"]: i for i in world.wiring.profiles.timeline(claim.customer_id).items}
    assert timeline[message.interaction_id]["text"].endswith(notice)  # what the customer saw
    assert timeline[message.interaction_id]["metadata"]["automated"] is True


def test_a_crash_between_the_send_and_the_record_finishes_on_redelivery_without_posting_again(
    world: World, platforms: responses.RequestsMock
) -> None:
    case_id = x_mention(world, "1870000000000000005", "@brand aiuto")
    message = world.wiring.reply_service.request(case_id, text="Eccoci, Anna.")
    x_posts(platforms, (201, {"data": {"id": "1870000000000000102", "text": "Eccoci"}}, {}))
    with refused_once("dynamodb", "TransactWriteItems",
                      lambda params: world.aws.tables["CasesTable"] in json.dumps(params["TransactItems"][0])):
        world.respond(timeout_elapses=True)
    assert len(sent_bodies(platforms, "/2/tweets")) == 1
    case = world.case(case_id)
    assert [i.id for i in case.interactions].count(message.interaction_id) == 1
    assert reply_state(world, case_id, message.interaction_id).status is ReplyStatus.SENT


def test_a_body_that_is_no_reply_is_dead_lettered_with_its_reason(world: World) -> None:
    boto3.client("sqs").send_message(QueueUrl=world.aws.queue_urls["OutboundQueue"], MessageBody='{"text": "hi"}',
                                     MessageGroupId="SC-2026-1", MessageDeduplicationId="garbage")
    assert world.respond() == 1  # acknowledged at once, never retried in a loop
    (dead,) = dead_letters(world)
    assert dead["body"] == {"text": "hi"} and dead["code"] == "malformed"
    assert dead["reason"].startswith("not an outbound message: ")


# ------------------------------------------------------------------ helpers
def sqs_empty(world: World, queue: str) -> bool:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=world.aws.queue_urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


class refused_once:  # noqa: N801 - used as a context manager
    """AWS refuses the functions' first ``operation`` whose parameters ``match`` (injected at the
    client, as a throttled or failed request would be): a crash at that point of a flow."""

    def __init__(self, service: str, operation: str, match: Callable[[dict[str, Any]], bool]) -> None:
        self.event = f"provide-client-params.{service}.{operation}"
        self.service, self.operation, self.match = service, operation, match
        self.left = 1

    def __enter__(self) -> refused_once:
        aws_clients.client(self.service).meta.events.register(self.event, self._refuse, unique_id="refused-once")
        return self

    def __exit__(self, *exc: object) -> None:
        aws_clients.client(self.service).meta.events.unregister(self.event, unique_id="refused-once")
        assert self.left == 0, "the injected failure never happened"

    def _refuse(self, params: dict[str, Any], **_: Any) -> None:
        if self.left and self.match(params):
            self.left -= 1
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, self.operation)
