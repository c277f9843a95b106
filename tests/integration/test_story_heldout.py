"""A held-out story, deliberately not the demo's: another brand (a fashion house numbering its
orders ``LUX-<year>-<serial>``), an English-first customer with a Spanish name whose accents come
and go between platforms, a Spanish mobile, and references introduced the ways people write them
("order", "booking ref.", "order no.", "ordine"). The payloads are the platforms' own envelopes
(the shapes of infra/socialcare_infra/scenario.py, documented in docs/protocols.md) with her
content, parsed by ``x.parse``/``meta.parse``/Connect's parser and run through the real processor
on moto with the built-in default configuration - nothing here configures the brand's format.

The promise: one customer, every channel linked, one case triaged on all of her messages (the
refund and lawyer threat she writes on WhatsApp raise the case she opened on X), and a stranger
quoting a similar-looking reference under another name stays apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from socialcare.domain.channels import connect, meta, x
from socialcare.domain.channels.common import Parsed
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.observability import metrics
from socialcare_infra import scenario

pytestmark = pytest.mark.integration

ORDER = "LUX-2026-004711"
SOFIA = {"x_id": "3141592653", "handle": "sofi_mtz", "facebook_id": "10159000000000042",
         "psid": "7261839450012345", "wa_id": "34612345678", "phone": "+34612345678"}
STRANGER = {"instagram_id": "17841400000000777", "username": "marco.bellini", "order": "LUX-2026-004717"}


def _x_payloads(now: float) -> list[dict[str, Any]]:
    mention = scenario.x_mention(now)
    tweet = mention["tweet_create_events"][0]
    text = (f"@brand my order {ORDER} has been 'in transit' for three weeks. "
            "Nobody answers. Really disappointed.")
    tweet.update(id_str="1870000000000000042", id=1870000000000000042, text=text[:140])
    tweet["extended_tweet"]["full_text"] = text
    tweet["user"].update(id=int(SOFIA["x_id"]), id_str=SOFIA["x_id"], name="Sofia Martinez",
                         screen_name=SOFIA["handle"], followers_count=2300)
    dm = scenario.x_dm(now)
    event = dm["direct_message_events"][0]
    event["id"] = "1870000000000000099"
    event["message_create"]["sender_id"] = SOFIA["x_id"]
    event["message_create"]["message_data"]["text"] = (
        f"Hi, I'm Sofía Martínez, booking ref. {ORDER}. You can reach me on +34 612 345 678."
    )
    dm["users"] = {SOFIA["x_id"]: {"id": SOFIA["x_id"], "name": "Sofía Martínez", "screen_name": SOFIA["handle"]},
                   scenario.BRAND_X_ID: {"id": scenario.BRAND_X_ID, "name": "Brand", "screen_name": "brand"}}
    return [mention, dm]


def _meta_payloads(now: float) -> list[dict[str, Any]]:
    batch = scenario.meta_page_batch(now)
    comment = batch["entry"][0]["changes"][0]["value"]
    comment.update({"from": {"id": SOFIA["facebook_id"], "name": "Sofía Martínez"},
                    "comment_id": "900000000000001_1200000000000042",
                    "message": f"Still waiting for order no. {ORDER}. Three weeks and not a word from you."})
    messenger = batch["entry"][1]["messaging"][0]
    messenger["sender"]["id"] = SOFIA["psid"]
    messenger["message"].update(mid="m_SofiaMessenger0001",
                                text=f"Hello, my order {ORDER} seems lost. Can you check?\nThanks,\nSofía Martínez")
    batch["entry"][1]["messaging"][1]["recipient"]["id"] = SOFIA["psid"]
    whatsapp = scenario.whatsapp_message(now)
    value = whatsapp["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Sofía Martínez"}, "wa_id": SOFIA["wa_id"]}]
    value["messages"][0].update({"from": SOFIA["wa_id"], "id": "wamid.SOFIA0001"})
    value["messages"][0]["text"]["body"] = (
        f"Ordine {ORDER}: if I don't get a full refund by Friday my lawyer will contact you."
    )
    stranger = scenario.instagram_praise(now)
    change = stranger["entry"][0]["changes"][0]["value"]
    change.update({"from": {"id": STRANGER["instagram_id"], "username": STRANGER["username"]},
                   "id": "17950000000000777",
                   "text": f"I'm Marco Bellini, my order {STRANGER['order']} arrived today, lovely packaging!"})
    return [batch, whatsapp, stranger]


def _call() -> Any:
    event = connect.ContactFlowEvent.model_validate(scenario.connect_call(SOFIA["phone"]))
    return connect.call_event(event, SOFIA["phone"])


def _play(wiring: Wiring) -> None:
    processor = Processor(wiring)
    now = time.time() - 7200
    x_parse = partial(x.parse, brand_x_ids=wiring.settings.brand_x_ids)
    steps: list[tuple[Callable[[Any], Parsed], dict[str, Any]]] = [
        *((x_parse, p) for p in _x_payloads(now)), *((meta.parse, p) for p in _meta_payloads(now)),
    ]
    for parse, payload in steps:
        for event in parse(payload).events:
            processor.process(event)
    processor.process(_call())
    metrics.clear_metrics()


def test_a_held_out_story_makes_one_customer_with_every_channel_and_one_case(wiring: Wiring) -> None:
    _play(wiring)
    identity = wiring.identity
    sofia = identity.find_customer("x", SOFIA["x_id"])
    assert sofia is not None
    where = {kind: identity.find_customer(kind, value) for kind, value in (
        ("facebook", SOFIA["facebook_id"]), ("messenger", SOFIA["psid"]), ("whatsapp", SOFIA["wa_id"]),
        ("phone", "+34 612 345 678"), ("ref", ORDER))}
    assert where == dict.fromkeys(where, sofia), f"not linked to her X customer {sofia}: {where}"

    inbound = [i for i in wiring.profiles.timeline(sofia).items if i["direction"] == "inbound"]
    assert sorted(i["channel"] for i in inbound) == ["facebook", "messenger", "phone", "whatsapp", "x", "x"]
    case = wiring.case_queries.open_case_for(sofia)
    assert case is not None
    assert {"x", "facebook", "messenger", "whatsapp", "phone"} <= set(case.channels)
    # the refund-and-lawyer message on WhatsApp triages the case she opened on X
    assert case.priority.value in {"high", "urgent"}
    assert {i["case_id"] for i in inbound} == {case.id}


def test_a_stranger_quoting_a_similar_reference_stays_apart(wiring: Wiring) -> None:
    _play(wiring)
    identity = wiring.identity
    sofia = identity.find_customer("x", SOFIA["x_id"])
    marco = identity.find_customer("instagram", STRANGER["instagram_id"])
    assert marco is not None and sofia is not None and marco != sofia
    assert identity.find_customer("ref", STRANGER["order"]) in (marco, None)
    marco_case = wiring.case_queries.open_case_for(marco)
    sofia_case = wiring.case_queries.open_case_for(sofia)
    assert marco_case is None or sofia_case is None or marco_case.id != sofia_case.id
