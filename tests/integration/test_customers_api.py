"""The customer API, and the cross-channel story it must tell (issue 4 acceptance).

Events go through the real processor flow (``flows.processor.Processor.process``) built the way the
channel parsers build them; answers come from the real ApiFunction resolver with its auth middleware.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    Identifier,
    IdentifierKind,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from conftest import AwsStack

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------- helpers
class Api:
    def __init__(self, app: APIGatewayHttpResolver, token: str) -> None:
        self.app, self.token = app, token

    def call(self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None,
             token: str | None = "default") -> tuple[int, dict[str, Any]]:
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {self.token if token == 'default' else token}"
        event = {
            "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path,
            "rawQueryString": urlencode(query or {}), "headers": headers,
            "queryStringParameters": query or None,
            "requestContext": {
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                         "userAgent": "pytest"},
                "requestId": "req-1", "routeKey": "ANY /api/{proxy+}", "stage": "$default", "accountId": "1",
                "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
                "time": "02/Nov/2026:09:00:00 +0000", "timeEpoch": 1793610000000,
            },
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }
        response = self.app.resolve(event, {})
        return response["statusCode"], json.loads(response["body"])

    def get(self, path: str, **query: str) -> dict[str, Any]:
        status, body = self.call("GET", path, query)
        assert status == 200, body
        return body


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Api:
    return Api(build(wiring), aws.api_token)


@pytest.fixture
def processor(wiring: Wiring) -> Processor:
    """The ProcessorFunction's flow, over the same tables and queues as the API."""
    return Processor(wiring)


def event(
    channel: Channel, kind: Kind, mid: str, author: Author, text: str | None, minutes: int,
    identifiers: list[Identifier], source: str,
) -> InboundEvent:
    interaction = Interaction(
        id=Interaction.make_id(channel, mid), channel=channel, kind=kind, platform_message_id=mid,
        author=author, text=text, occurred_at=T0 + timedelta(minutes=minutes), identifiers=identifiers,
        thread=ThreadRef(conversation_id=f"{channel.value}:{author.id}"),
    )
    return InboundEvent(action=Action.CREATE, source=source, event_id=mid, interaction=interaction,
                        raw={"id": mid, "text": text})


def x_post(mid: str, user_id: str, handle: str, name: str, text: str, minutes: int) -> InboundEvent:
    return event(Channel.X, Kind.PUBLIC_POST, mid, Author(id=user_id, handle=handle, name=name, followers=320),
                 text, minutes, [Identifier(kind=IdentifierKind.X, value=user_id)], "x")


def facebook_comment(mid: str, user_id: str, name: str, text: str, minutes: int) -> InboundEvent:
    return event(Channel.FACEBOOK, Kind.COMMENT, mid, Author(id=user_id, name=name), text, minutes,
                 [Identifier(kind=IdentifierKind.FACEBOOK, value=user_id)], "meta")


def messenger_dm(mid: str, psid: str, text: str, minutes: int) -> InboundEvent:
    # Messenger webhooks carry no name: only what the customer writes can introduce her.
    return event(Channel.MESSENGER, Kind.DIRECT_MESSAGE, mid, Author(id=psid), text, minutes,
                 [Identifier(kind=IdentifierKind.MESSENGER, value=psid)], "meta")


def instagram_dm(mid: str, igsid: str, handle: str, name: str, text: str, minutes: int) -> InboundEvent:
    return event(Channel.INSTAGRAM, Kind.DIRECT_MESSAGE, mid, Author(id=igsid, handle=handle, name=name), text,
                 minutes, [Identifier(kind=IdentifierKind.INSTAGRAM, value=igsid)], "meta")


def whatsapp_message(mid: str, wa_id: str, profile_name: str, text: str, minutes: int) -> InboundEvent:
    return event(Channel.WHATSAPP, Kind.DIRECT_MESSAGE, mid, Author(id=wa_id, name=profile_name), text, minutes,
                 [Identifier(kind=IdentifierKind.WHATSAPP, value=wa_id),
                  Identifier(kind=IdentifierKind.PHONE, value=f"+{wa_id}")], "meta")


def phone_call(contact_id: str, caller: str, minutes: int) -> InboundEvent:
    return event(Channel.PHONE, Kind.CALL, contact_id, Author(id=caller), None, minutes,
                 [Identifier(kind=IdentifierKind.PHONE, value=caller)], "connect")


# ---------------------------------------------------------------------------------- the story
ANNA_MESSAGES = {
    "x:1850000000000000001": x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi",
                                    "@brand il mio ordine ORD-123456 non è ancora arrivato!", 0),
    "facebook:page_1_c77": facebook_comment("page_1_c77", "fb-5501", "Anna Bianchi",
                                            "Ancora nessuna notizia dell'ordine 123456, vergogna", 20),
    "messenger:m_mid.88": messenger_dm("m_mid.88", "psid-8801",
                                       "Buongiorno, sono Anna Bianchi. Ordine ORD-123456. "
                                       "Potete chiamarmi al 333 111 2222?", 45),
    "instagram:ig_mid.5": instagram_dm("ig_mid.5", "ig-9901", "anna.bianchi", "Anna Bianchi",
                                       "Scrivo anche qui per l'ordine ORD-123456", 70),
    "whatsapp:wamid.A1": whatsapp_message("wamid.A1", "393331112222", "Anna",
                                          "Vi scrivo anche su WhatsApp, nessuno mi ha chiamata", 95),
}
ANNA_CALL = phone_call("connect-contact-1", "+393331112222", 120)
MARCO = [
    x_post("1850000000000000002", "2002", "marco_v", "Marco Verdi", "@brand servizio pessimo, ordine ORD-777777", 5),
    messenger_dm("m_mid.99", "psid-9902", "sono Marco Verdi, ordine ORD-777777, chiamate il 347 555 6666", 50),
]
GIULIA = facebook_comment("page_1_c78", "fb-6602", "Giulia Neri", "Anche il mio ordine ORD-123456 è in ritardo!", 60)


def play_story(processor: Processor) -> None:
    story = [*ANNA_MESSAGES.values(), ANNA_CALL, *MARCO, GIULIA]
    for item in sorted(story, key=lambda e: e.interaction.occurred_at if e.interaction else T0):
        processor.process(item)


def test_one_person_on_five_channels_and_the_phone_is_one_customer(api: Api, processor: Processor) -> None:
    # Given Anna writes on X, Facebook, Messenger, Instagram and WhatsApp and then calls, with a
    # different platform id each time, while Marco and Giulia write about their own orders
    play_story(processor)

    # When the agent looks her up by phone, in every spelling
    found = [api.get("/api/customers", phone=p)["customers"]
             for p in ("+39 333 111 2222", "0039 333 111 2222", "393331112222", "3331112222")]

    # Then it is exactly one customer, every time
    assert all(len(f) == 1 for f in found)
    anna_id = found[0][0]["id"]
    assert {f[0]["id"] for f in found} == {anna_id} and found[0][0]["name"] == "Anna Bianchi"
    anna = api.get(f"/api/customers/{anna_id}")
    kinds = {i["kind"] for i in anna["identities"]}
    assert {"x", "facebook", "messenger", "instagram", "whatsapp", "phone", "ref"} <= kinds
    assert {"kind": "phone", "value": "+393331112222", "verified": True} in [
        {k: i[k] for k in ("kind", "value", "verified")} for i in anna["identities"]
    ]
    # and her timeline holds exactly her messages, newest first, none of Marco's or Giulia's
    messages = [t for t in anna["timeline"] if t["channel"] != "phone"]
    assert [t["id"] for t in messages] == list(reversed(ANNA_MESSAGES))
    assert [t["channel"] for t in anna["timeline"] if t["channel"] == "phone"] == ["phone"]
    assert anna["channel_counts"] == {"facebook": 1, "instagram": 1, "messenger": 1, "phone": 1, "whatsapp": 1,
                                      "x": 1}
    # one open case follows her across the channels, and every message is threaded into it
    (open_case,) = [c for c in anna["cases"] if c["is_open"]]
    assert {t["case_id"] for t in anna["timeline"]} == {open_case["id"]}
    assert anna["open_case_id"] == open_case["id"]
    # every platform id finds her too
    for kind, value in (("x", "1001"), ("x", "@anna_bianchi"), ("x", "Anna_Bianchi"), ("instagram", "@anna.bianchi"),
                        ("facebook", "fb-5501"),
                        ("messenger", "psid-8801"), ("instagram", "ig-9901"), ("whatsapp", "393331112222")):
        assert [c["id"] for c in api.get("/api/customers", **{kind: value})["customers"]] == [anna_id], kind


def test_a_stranger_with_the_same_order_number_is_a_suggestion_not_a_merge(api: Api, processor: Processor) -> None:
    play_story(processor)
    anna_id = api.get("/api/customers", phone="+393331112222")["customers"][0]["id"]
    (giulia,) = api.get("/api/customers", facebook="fb-6602")["customers"]
    (marco,) = api.get("/api/customers", x="2002")["customers"]
    assert len({anna_id, giulia["id"], marco["id"]}) == 3

    giulia_360 = api.get(f"/api/customers/{giulia['id']}")
    assert [t["id"] for t in giulia_360["timeline"]] == ["facebook:page_1_c78"]
    assert [(s["customer_id"], s["evidence"]) for s in giulia_360["suggestions"]] == [
        (anna_id, [{"kind": "ref", "value": "123456"}])
    ]
    suggestions = api.get(f"/api/customers/{anna_id}/suggestions")["suggestions"]
    assert [s["customer_id"] for s in suggestions] == [giulia["id"]]
    assert [c["id"] for c in api.get("/api/customers", phone="347 555 6666")["customers"]] == [marco["id"]]


def test_the_call_centre_screen_pop_knows_her_and_not_a_stranger(
    api: Api, processor: Processor, wiring: Wiring
) -> None:
    play_story(processor)
    identity = wiring.identity
    anna_id = identity.find_customer("phone", "+393331112222")
    assert anna_id is not None
    context = identity.context_for(anna_id)
    assert (context["name"], context["channel_count"], context["last_channel"]) == ("Anna Bianchi", 6, "phone")
    assert identity.find_customer("phone", "+39 06 1234 5678") is None


def test_a_redelivered_event_days_later_does_not_duplicate_the_timeline(api: Api, processor: Processor) -> None:
    first = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "ciao", 0))
    again = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "ciao", 0))
    assert first["customer_id"] == again["customer_id"]
    assert len(api.get(f"/api/customers/{first['customer_id']}")["timeline"]) == 1


def test_a_delete_removes_the_text_from_the_360_but_keeps_the_entry(api: Api, processor: Processor) -> None:
    stored = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "oops", 0))
    processor.process(InboundEvent(action=Action.DELETE, source="x", event_id="d1",
                                  target_id="x:1850000000000000001"))
    (entry,) = api.get(f"/api/customers/{stored['customer_id']}")["timeline"]
    assert (entry["id"], entry["text"], entry["deleted"]) == ("x:1850000000000000001", None, True)


# ---------------------------------------------------------------------------------- API contract
def test_the_api_refuses_requests_without_a_valid_token(api: Api) -> None:
    assert api.call("GET", "/api/customers", {"phone": "3331112222"}, token=None)[0] == 401
    assert api.call("GET", "/api/customers", {"phone": "3331112222"}, token="wrong")[0] == 401


def test_lookups_answer_an_empty_list_or_a_clear_error(api: Api) -> None:
    assert api.get("/api/customers", phone="+39 333 000 0000") == {"customers": [], "cursor": None}
    assert api.get("/api/customers", email="Nobody@Example.com") == {"customers": [], "cursor": None}
    status, body = api.call("GET", "/api/customers")
    assert (status, body["error"]) == (400, "bad_request")
    status, body = api.call("GET", "/api/customers", {"phone": "1", "limit": "0"})
    assert (status, body["error"]) == (422, "validation_error")


def test_an_unknown_customer_is_a_json_404(api: Api) -> None:
    status, body = api.call("GET", "/api/customers/cus_nobody")
    assert (status, body["error"]) == (404, "not_found")


def test_the_360_keeps_the_contract_field_names_flat(api: Api, processor: Processor) -> None:
    stored = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi",
                                     "ordine ORD-123456", 0))
    body = api.get(f"/api/customers/{stored['customer_id']}")
    assert {"id", "name", "identities", "timeline", "cases", "suggestions"} <= set(body)
    assert {"kind", "value", "verified"} <= set(body["identities"][0])
    assert {"id", "channel", "direction", "text", "occurred_at", "case_id"} <= set(body["timeline"][0])
    assert body["timeline"][0]["text"] == "ordine ORD-123456"


def test_the_timeline_pages_with_an_opaque_cursor(api: Api, processor: Processor) -> None:
    for n in range(3):
        stored = processor.process(x_post(f"18500000000000000{n:02d}", "1001", "anna_bianchi", "Anna Bianchi",
                                         f"messaggio {n}", n))
    customer = stored["customer_id"]
    first = api.get(f"/api/customers/{customer}", limit="2")
    assert [t["text"] for t in first["timeline"]] == ["messaggio 2", "messaggio 1"]
    second = api.get(f"/api/customers/{customer}/timeline", limit="2", cursor=first["timeline_cursor"])
    assert [t["text"] for t in second["timeline"]] == ["messaggio 0"] and second["cursor"] is None
    status, body = api.call("GET", f"/api/customers/{customer}/timeline", {"cursor": "not-a-cursor"})
    assert (status, body["error"]) == (400, "bad_request")


def test_merge_then_unmerge_through_the_api(api: Api, processor: Processor) -> None:
    anna_x = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "a", 0))
    anna_fb = processor.process(facebook_comment("page_1_c77", "fb-5501", "Anna B.", "b", 5))
    source, target = anna_fb["customer_id"], anna_x["customer_id"]

    status, merged = api.call("POST", "/api/customers/merge", body={"source": source, "target": target})
    assert (status, merged["id"], merged["merged"]) == (200, target, source)
    # the merged id still answers, with the survivor's 360, and says so
    via_alias = api.get(f"/api/customers/{source}")
    assert (via_alias["id"], via_alias["merged_into"]) == (target, target)
    assert [t["id"] for t in via_alias["timeline"]] == ["facebook:page_1_c77", "x:1850000000000000001"]
    assert api.call("POST", "/api/customers/merge", body={"source": source, "target": target})[0] == 409

    status, split = api.call("POST", f"/api/customers/{target}/unmerge",
                             body={"identities": [{"kind": "facebook", "value": "fb-5501"}]})
    assert (status, split["split_into"], split["restored"]) == (200, source, True)
    assert [t["id"] for t in api.get(f"/api/customers/{source}")["timeline"]] == ["facebook:page_1_c77"]
    actions = [m["action"] for m in api.get(f"/api/customers/{target}")["merges"]]
    assert actions == ["unmerge", "merge"]


def test_merging_two_different_verified_phones_is_a_409(api: Api, processor: Processor) -> None:
    anna = processor.process(phone_call("c-1", "+393331112222", 0))
    other = processor.process(phone_call("c-2", "+393339998888", 5))
    status, body = api.call("POST", "/api/customers/merge",
                            body={"source": other["customer_id"], "target": anna["customer_id"]})
    assert (status, body["error"]) == (409, "conflict")
    assert body["details"]["conflicts"] == {"phone": ["+393331112222", "+393339998888"]}


def test_merge_and_unmerge_bodies_are_validated(api: Api) -> None:
    assert api.call("POST", "/api/customers/merge", body={"source": "a"})[0] == 422
    assert api.call("POST", "/api/customers/cus_x/unmerge", body={"identities": []})[0] == 422
    assert api.call("POST", "/api/customers/cus_x/unmerge",
                    body={"identities": [{"kind": "fax", "value": "1"}]})[0] == 422
    assert api.call("POST", "/api/customers/merge", body={"source": "cus_a", "target": "cus_b"})[0] == 404


def test_a_dismissed_suggestion_is_gone_and_not_made_again(api: Api, processor: Processor) -> None:
    play_story(processor)
    anna_id = api.get("/api/customers", phone="+393331112222")["customers"][0]["id"]
    giulia_id = api.get("/api/customers", facebook="fb-6602")["customers"][0]["id"]

    status, body = api.call("DELETE", f"/api/customers/{giulia_id}/suggestions/{anna_id}")
    assert (status, body["dismissed"]) == (200, anna_id)
    # Giulia writes about the same order again
    processor.process(facebook_comment("page_1_c79", "fb-6602", "Giulia Neri", "ordine ORD-123456??", 200))

    for customer in (giulia_id, anna_id):
        assert api.get(f"/api/customers/{customer}/suggestions")["suggestions"] == []
    giulia = api.get(f"/api/customers/{giulia_id}")
    assert [m["action"] for m in giulia["merges"]] == ["dismiss_suggestion"]
    assert [t["id"] for t in giulia["timeline"]] == ["facebook:page_1_c79", "facebook:page_1_c78"]
    assert api.call("DELETE", f"/api/customers/{giulia_id}/suggestions/{anna_id}")[0] == 404


def test_a_lookup_by_several_identifiers_pages_its_customers(api: Api, processor: Processor) -> None:
    anna = processor.process(phone_call("c-1", "+393331112222", 0))["customer_id"]
    marco = processor.process(x_post("1850000000000000002", "2002", "marco_v", "Marco Verdi", "ciao", 5))["customer_id"]
    first = api.get("/api/customers", phone="333 111 2222", x="2002", limit="1")
    assert [c["id"] for c in first["customers"]] == [anna] and first["cursor"]
    second = api.get("/api/customers", phone="333 111 2222", x="2002", limit="1", cursor=first["cursor"])
    assert [c["id"] for c in second["customers"]] == [marco] and second["cursor"] is None
    assert api.call("GET", "/api/customers", {"phone": "1", "cursor": "%%%"})[0] == 400
