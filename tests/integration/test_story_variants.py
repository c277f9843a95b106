"""The acceptance story told another way: English, a UK number from the fictional 07700 900xxx
range, a five-digit order number, names only where the platforms give them (or typed in the
Messenger text). The same promises must hold, through the real channel parsers and pipeline."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from socialcare.domain.channels import meta, x
from socialcare.domain.channels.common import Parsed
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare_infra import scenario

NAME, X_ID, FB_ID, PSID, WA_ID = "Laura Verdi", "777", "555", "666", "447700900123"


def _payloads(now: float, brand_x_ids: frozenset[str]) -> list[tuple[Callable[[Any], Parsed], dict[str, Any]]]:
    mention = scenario.x_mention(now)
    tweet = mention["tweet_create_events"][0]
    tweet["id_str"] = "1999"
    tweet["user"].update(id_str=X_ID, name=NAME, screen_name="lverdi", followers_count=120_000)
    tweet["extended_tweet"]["full_text"] = (
        "@brand my order 48213 never arrived and nobody answers. Terrible service, I want a refund now!"
    )
    dm = scenario.x_dm(now)
    event = dm["direct_message_events"][0]
    event["id"] = "2888"
    event["message_create"]["sender_id"] = X_ID
    event["message_create"]["message_data"]["text"] = "About order 48213: my phone is +44 7700 900123, call me."
    dm["users"] = {X_ID: {"id": X_ID, "name": NAME, "screen_name": "lverdi"}}
    batch = scenario.meta_page_batch(now)
    comment = batch["entry"][0]["changes"][0]["value"]
    comment.update({"from": {"id": FB_ID, "name": NAME}, "comment_id": "9_1", "message": "Still no order 48213."})
    messenger = batch["entry"][1]["messaging"][0]
    messenger["sender"]["id"] = PSID
    messenger["message"].update(mid="m_L1", text=f"Hello, my name is {NAME}, order 48213 is missing.")
    whatsapp = scenario.whatsapp_message(now)
    value = whatsapp["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": NAME}, "wa_id": WA_ID}]
    value["messages"][0].update({"from": WA_ID, "id": "wamid.L1"})
    value["messages"][0]["text"]["body"] = "Order 48213 again. No refund and I'll call my lawyer."
    stranger = copy.deepcopy(scenario.instagram_praise(now))
    x_parse = partial(x.parse, brand_x_ids=brand_x_ids)
    return [(x_parse, mention), (x_parse, dm), (meta.parse, batch), (meta.parse, whatsapp), (meta.parse, stranger)]


def test_an_english_story_with_a_fictional_uk_number_still_makes_one_customer_and_one_case(wiring: Wiring) -> None:
    processor = Processor(wiring)
    for parse, payload in _payloads(time.time(), wiring.settings.brand_x_ids):
        for event in parse(payload).events:
            processor.process(event)

    identity = wiring.identity
    found = {identity.find_customer("phone", s) for s in ("+44 7700 900123", "0044 7700 900123", "447700900123")}
    assert len(found) == 1 and None not in found
    (laura,) = found
    assert laura is not None
    for kind, value in (("x", X_ID), ("facebook", FB_ID), ("messenger", PSID), ("whatsapp", WA_ID)):
        assert identity.find_customer(kind, value) == laura, kind
    inbound = [i for i in wiring.profiles.timeline(laura).items if i["direction"] == "inbound"]
    assert sorted(i["channel"] for i in inbound) == ["facebook", "messenger", "whatsapp", "x", "x"]
    case = wiring.case_queries.open_case_for(laura)
    assert case is not None and case.priority.value in {"high", "urgent"}
    assert {"x", "facebook", "messenger", "whatsapp"} <= set(case.channels)
    marco = identity.find_customer("instagram", scenario.MARCO["instagram_id"])
    assert marco is not None and marco != laura
