"""Reactions applied to the message they refer to, and WhatsApp's edit and revoke of the original.

The events are WhatsApp's documented webhook bodies from the payload corpus
(tests/fixtures/corpus/meta/whatsapp/*.json: each file names its source, the pywa project's
fixtures of Meta's examples), parsed by the real ``meta.parse`` and run through the real
processor on moto; what an agent sees comes from the real ApiFunction resolver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from socialcare.domain.channels import meta
from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from conftest import AwsStack

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "meta" / "whatsapp"
ORIGINAL = "whatsapp:wamid.yzxyzx="  # the message the corpus's reaction examples react to
REACTOR = "972987654321"


def corpus(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def replay(processor: Processor, body: dict[str, Any]) -> list[dict[str, Any]]:
    """What the processor answers for each event the webhook would publish for ``body``."""
    return [processor.process(event) for event in meta.parse(body).events]


def api_get(app: APIGatewayHttpResolver, token: str, path: str) -> tuple[int, dict[str, Any]]:
    event = {
        "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path, "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}"},
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                    "userAgent": "pytest"},
                           "requestId": "r", "routeKey": "ANY /api/{proxy+}", "stage": "$default"},
        "isBase64Encoded": False,
    }
    response = app.resolve(event, {})
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def processor(wiring: Wiring) -> Processor:
    return Processor(wiring)


@pytest.fixture
def timeline(aws: AwsStack, wiring: Wiring) -> Any:
    app = build(wiring)

    def read(customer_id: str) -> list[dict[str, Any]]:
        status, body = api_get(app, aws.api_token, f"/api/customers/{customer_id}/timeline")
        assert status == 200, body
        return list(body["timeline"])

    return read


def stored_original(processor: Processor, name: str = "wa-reaction") -> str:
    (result,) = replay(processor, corpus(name)["before"][0])
    assert result["status"] == "stored"
    return str(result["customer_id"])


@pytest.mark.parametrize("unreaction", ["wa-unreaction-empty", "wa-unreaction-no-emoji"])
def test_a_reaction_and_its_removal_apply_to_the_original_and_nothing_else(
    processor: Processor, wiring: Wiring, timeline: Any, unreaction: str
) -> None:
    customer = stored_original(processor)
    cases_before = wiring.case_queries.customer_cases(customer)

    assert replay(processor, corpus("wa-reaction")["body"]) == [{"status": "reacted"}]
    assert replay(processor, corpus("wa-reaction")["body"]) == [{"status": "reacted"}]  # redelivered
    (entry,) = timeline(customer)  # no blank message beside the original
    assert entry["id"] == ORIGINAL and entry["text"] == "Body Text"
    assert [(r["author_id"], r["emoji"]) for r in entry["reactions"]] == [(REACTOR, "😮")]

    assert replay(processor, corpus(unreaction)["body"]) == [{"status": "unreacted"}]
    assert replay(processor, corpus(unreaction)["body"]) == [{"status": "unreacted"}]  # redelivered
    (entry,) = timeline(customer)
    assert entry["reactions"] == []
    # no case was opened or touched by the reaction: same cases, same interactions
    after = wiring.case_queries.customer_cases(customer)
    assert [(c.id, c.interaction_count) for c in after] == [(c.id, c.interaction_count) for c in cases_before]


def test_a_reaction_arriving_after_its_later_removal_does_not_come_back(
    processor: Processor, timeline: Any
) -> None:
    customer = stored_original(processor)
    removal = corpus("wa-unreaction-empty")["body"]
    message = removal["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(message["timestamp"]) + 60)  # removed a minute after reacting
    assert replay(processor, removal) == [{"status": "unreacted"}]
    replay(processor, corpus("wa-reaction")["body"])  # the reaction, delivered late
    (entry,) = timeline(customer)
    assert entry["reactions"] == []


def test_a_reaction_to_a_message_we_never_stored_is_recorded_nowhere(processor: Processor, wiring: Wiring) -> None:
    assert replay(processor, corpus("wa-reaction")["body"]) == [{"status": "unknown"}]
    assert wiring.identity.find_customer("whatsapp", REACTOR) is None  # nobody was created for it
    assert wiring.profiles.guard(ORIGINAL) is None


def test_a_revoke_deletes_the_original(processor: Processor, timeline: Any) -> None:
    customer = stored_original(processor, "wa-revoke")
    assert replay(processor, corpus("wa-revoke")["body"]) == [{"status": "deleted"}]
    (entry,) = timeline(customer)
    assert entry["deleted"] is True and entry["text"] is None


def test_an_edit_replaces_the_text_and_content_of_the_original(processor: Processor, timeline: Any) -> None:
    """The corpus's edit refers to a captioned video; the original here is the documented text
    example, re-addressed to the edited message's id (no media to fetch)."""
    edit = corpus("wa-edit-image-caption")
    target = edit["expect"]["applied"][0]["target"].split(":", 1)[1]
    original = corpus("wa-reaction")["before"][0]
    original["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = target
    (stored,) = replay(processor, original)
    assert replay(processor, edit["body"]) == [{"status": "edited"}]
    (entry,) = timeline(stored["customer_id"])
    assert entry["id"] == f"whatsapp:{target}"
    assert "Updated image caption" in entry["text"] and entry["edited_at"]
    assert entry["content"]["caption"] == "Updated image caption"  # the structured content is edited too
