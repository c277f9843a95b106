"""Meta webhook types one by one, on documented bodies from tests/fixtures/corpus/meta: what a
customer's agent sees (text, structured content, attachments), what is applied to an earlier
message (edit, delete, reaction), which identifiers are asserted or only claimed, and that one
malformed item never costs the others in its POST."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from socialcare.domain.channels import meta
from socialcare.domain.channels.common import Parsed
from socialcare.models.interaction import Action, Identifier, IdentifierKind, InboundEvent, Kind

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "meta"


def body(name: str) -> dict[str, Any]:
    folder = {"wa": "whatsapp", "ig": "instagram", "fb": "facebook", "messenger": "messenger"}[name.split("-")[0]]
    return json.loads((CORPUS / folder / f"{name}.json").read_text())["body"]


def only(name: str) -> InboundEvent:
    (event,) = meta.parse(body(name)).events
    return event


def wa_messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return payload["entry"][0]["changes"][0]["value"]["messages"]


# ------------------------------------------------------------------ WhatsApp


def test_a_contact_card_is_summarised_and_its_phones_are_claimed_never_asserted() -> None:
    message = only("wa-contacts").interaction
    assert message.text == "Shared contacts: Chandler Bing, Monica, Rachel Green"
    assert message.content["type"] == "contacts" and len(message.content["contacts"]) == 3
    claimed = {i for i in message.identifiers if not i.verified}
    assert claimed == {Identifier(kind=IdentifierKind.PHONE, value=v, verified=False)
                       for v in ("+1 555-555-5555", "+1 666-666-6666", "+1 777-777-7777")}
    assert Identifier(kind=IdentifierKind.PHONE, value="+972987654321", verified=True) in message.identifiers


def test_a_number_change_brings_the_new_number_as_asserted_identifiers() -> None:
    message = only("wa-system-phone-number-change").interaction
    assert message.text == "User A changed from 972987654321 to 972912345678"
    assert message.author.id == "972987654321"
    assert {Identifier(kind=IdentifierKind.WHATSAPP, value="972912345678"),
            Identifier(kind=IdentifierKind.PHONE, value="+972912345678")} <= set(message.identifiers)


def test_a_revoke_deletes_the_original_in_its_authors_queue_group() -> None:
    event = only("wa-revoke")
    assert event.action is Action.DELETE and event.target_id == "whatsapp:<ORIGINAL_WHATSAPP_MESSAGE_ID>"
    assert event.group_id == "whatsapp:972987654321" and event.interaction.text is None


def test_an_edit_replaces_the_originals_text_and_each_edit_is_distinct() -> None:
    event = only("wa-edit-image-caption")
    original = "whatsapp:wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
    assert event.action is Action.EDIT and event.target_id == original == event.interaction.id
    assert event.interaction.text == "Updated image caption"
    second = copy.deepcopy(body("wa-edit-image-caption"))
    wa_messages(second)[0]["id"] = "wamid.second-edit"
    assert meta.parse(second).events[0].dedupe_key != event.dedupe_key


def test_a_reaction_targets_the_message_and_an_unreaction_is_an_empty_emoji_not_a_message() -> None:
    reaction, removed = only("wa-reaction"), only("wa-unreaction-no-emoji")
    assert reaction.action is Action.REACT and reaction.target_id == "whatsapp:wamid.yzxyzx="
    assert reaction.interaction.content["emoji"] == "😮"
    assert removed.action is Action.REACT and removed.interaction.content["emoji"] == ""
    assert removed.interaction.text is None


def test_locations_orders_and_flow_answers_carry_readable_text_and_their_fields() -> None:
    here = only("wa-current-location").interaction
    assert here.text == "📍 Location (12.25089, 43.90539)" and here.content["latitude"] == 12.25089
    place = only("wa-chosen-location").interaction
    assert place.text.startswith("📍 Facebook HQ, 1 Hacker Way") and place.content["url"]
    order = only("wa-order").interaction
    assert order.text == "Order: 3 × HAMBURGER, 2 × FRENCH_FRIES, 2 × SODA"
    assert order.content["catalog_id"] == "354160437058781" and len(order.content["product_items"]) == 3
    flow = only("wa-flow-nfm-reply-completion").interaction
    assert flow.content["response"]["delivery_rating"] == "4" and "flow_token" not in flow.text


def test_unsupported_types_are_kept_with_a_placeholder_naming_them() -> None:
    assert only("wa-unsupported-with-type").interaction.text == "[pool message: Message type unknown]"


def test_one_malformed_whatsapp_message_is_skipped_and_the_others_are_kept() -> None:
    payload = copy.deepcopy(body("wa-text"))
    good = wa_messages(payload)[0]
    wa_messages(payload)[:] = [
        {**good, "id": "wamid.bad-time", "timestamp": "99999999999999999999"},
        {**good, "id": "wamid.bad-interactive", "type": "interactive", "interactive": "not an object"},
        good,
    ]
    parsed = meta.parse(payload)
    assert [e.interaction.id for e in parsed.events] == ["whatsapp:wamid.xyzxyz"]
    assert parsed.ignored == {"meta:invalid:whatsapp_business_account:message": 2}


def test_a_finished_call_the_customer_placed_is_recorded_and_its_connect_leg_skipped() -> None:
    payload = copy.deepcopy(body("wa-call-terminate-business-initiated"))
    call = payload["entry"][0]["changes"][0]["value"]["calls"][0]
    call.update({"direction": "USER_INITIATED", "from": "972987654321", "to": "16315553601"})
    (event,) = meta.parse(payload).events
    assert event.interaction.kind is Kind.CALL and event.interaction.author.id == "972987654321"
    assert event.interaction.content["duration"] == 120 and "2 min 0 s" in event.interaction.text
    assert meta.parse(body("wa-call-connect-user-initiated")).ignored == {"whatsapp:calls:connect": 1}


# ------------------------------------------------------------------ Messenger and Instagram


def test_a_delivery_without_timestamp_is_skipped_and_the_text_beside_it_kept() -> None:
    parsed = meta.parse(body("messenger-mixed-delivery-and-text"))
    assert [e.interaction.text for e in parsed.events] == ["hello, world!"]
    assert parsed.ignored == {"meta:page:delivery": 1}


def test_a_postback_from_a_user_ref_and_one_without_title_are_never_blank() -> None:
    with_ref = only("messenger-postback-user-ref").interaction
    assert with_ref.author.id == "user_ref:USER-REF-ID" and with_ref.text == "TITLE-FOR-THE-CTA"
    assert with_ref.occurred_at.year == 2018  # a timestamp in seconds, as documented, is read as seconds
    untitled = only("messenger-postback-without-title").interaction
    assert untitled.text == "USER_DEFINED_PAYLOAD" and untitled.content["type"] == "postback"


def test_policy_enforcement_is_skipped_with_its_reason() -> None:
    parsed = meta.parse(body("messenger-policy-enforcement"))
    assert parsed.events == [] and parsed.ignored == {"meta:page:policy_enforcement": 1}


def test_messenger_location_and_shared_links_keep_coordinates_title_and_url() -> None:
    location = only("messenger-location").interaction
    assert location.content == {"type": "location", "latitude": 0, "longitude": 0, "name": None, "url": None}
    link = only("messenger-fallback-shared-link").interaction
    assert link.content["title"] == "TITLE_OF_THE_URL_ATTACHMENT" and link.content["url"] == "URL_OF_THE_ATTACHMENT"
    assert "TITLE_OF_THE_URL_ATTACHMENT" in link.text


def test_a_messenger_reaction_and_unreaction_target_the_message() -> None:
    react, unreact = only("messenger-reaction-react"), only("messenger-reaction-unreact")
    assert react.target_id == unreact.target_id == "messenger:mid.$cAAE1UUyiiwthh0NPrVbVf4HFNDGl"
    assert (react.interaction.content["emoji"], unreact.interaction.content["emoji"]) == ("❤️", "")
    assert react.dedupe_key != unreact.dedupe_key


def test_instagram_stories_are_kept_as_references_never_downloaded() -> None:
    mention = only("ig-story-mention").interaction
    assert mention.content["type"] == "story_mention" and mention.text
    assert [(a.type, a.url, a.reference_only) for a in mention.attachments] == [("story_mention", "<CDN_URL>", True)]
    reply = only("ig-story-reply").interaction
    assert reply.content == {"type": "story_reply", "story_id": "<STORY_ID>", "url": "<CDN_URL>"}
    assert all(a.reference_only for a in reply.attachments)


def test_a_malformed_messaging_item_is_skipped_and_the_text_after_it_kept() -> None:
    parsed: Parsed = meta.parse(body("messenger-mixed-bad-entry-and-text"))
    assert [e.interaction.text for e in parsed.events] == ["hello, world!"]
    assert parsed.ignored == {"meta:invalid:page:messaging": 1}


# ------------------------------------------------------------------ Facebook Page


def test_a_review_with_text_is_a_public_post_and_a_bare_recommendation_is_skipped() -> None:
    review = only("fb-rating-with-review").interaction
    assert review.kind is Kind.PUBLIC_POST and review.author.id == "<USER_ID>"
    assert review.content["recommendation_type"] == "negative"
    assert meta.parse(body("fb-rating-without-text")).ignored == {"meta:page:ratings:without_text": 1}


def test_hidden_comments_and_reactions_are_skipped_with_reasons() -> None:
    assert meta.parse(body("fb-feed-comment-hide")).ignored == {"meta:page:feed:hide": 1}
    assert meta.parse(body("fb-feed-reaction")).ignored == {"meta:page:feed:reaction": 1}
