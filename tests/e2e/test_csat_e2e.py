"""CSAT end to end on `socialcare local`, over HTTP only: a customer writes on WhatsApp (signed
webhook), an agent resolves her case through the API, the survey reaches the platform stand-in
(one WhatsApp message, with the automated-message disclosure), she answers with five stars, and
the case shows her rating and is still resolved."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from socialcare_infra import scenario

pytestmark = pytest.mark.e2e

WA_ID = "393339998877"


def whatsapp(secrets: scenario.Secrets, message_id: str, text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(scenario._whatsapp({
        "contacts": [{"profile": {"name": "Giulia Verdi"}, "wa_id": WA_ID}],
        "messages": [{"from": WA_ID, "id": message_id, "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": text}}],
    })).encode()
    return body, {"content-type": "application/json",
                  "x-hub-signature-256": scenario.meta_signature(secrets.meta_app, body)}


@pytest.fixture(scope="module")
def stack(local_stack_factory: Callable[..., Any]) -> Iterator[Any]:
    with local_stack_factory() as local:
        yield local


def test_resolve_survey_answer_rating_stored_case_still_closed(stack: Any, wait_for: Callable[..., Any]) -> None:
    secrets = scenario.Secrets.from_env({})
    auth = {"Authorization": f"Bearer {secrets.api_token}"}
    api, platforms = stack.api_url, stack.platforms_url

    def post_whatsapp(message_id: str, text: str) -> None:
        body, headers = whatsapp(secrets, message_id, text)
        answer = requests.post(f"{api}/webhooks/meta", data=body, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text

    def customer() -> dict[str, Any] | None:
        found = requests.get(f"{api}/api/customers", params={"whatsapp": WA_ID}, headers=auth, timeout=10).json()
        return (found.get("customers") or [None])[0]

    def case() -> dict[str, Any]:
        who = customer() or {}
        case_id = (who.get("profile") or who).get("open_case_id") or (who.get("cases") or [{}])[0].get("id")
        return dict(requests.get(f"{api}/api/cases/{case_id}", headers=auth, timeout=10).json()) if case_id else {}

    def survey_sends() -> list[dict[str, Any]]:
        sent = requests.get(f"{platforms}/_standin/requests", timeout=10).json()
        return [r for r in sent if r["method"] == "POST" and r["path"].endswith("/messages")
                and WA_ID in json.dumps(r.get("body"))]

    post_whatsapp("wamid.CSAT.E2E.1", "Buongiorno, il mio ordine è arrivato danneggiato, potete aiutarmi?")
    opened = wait_for(lambda: case().get("id"))
    assert opened, "the message never became a case"
    resolved = requests.post(f"{api}/api/cases/{opened}/resolve", json={"note": "sostituzione spedita"},
                             headers=auth, timeout=10)
    assert resolved.status_code == 200, resolved.text

    (sent,) = wait_for(survey_sends)  # exactly one survey reached WhatsApp
    content = sent["body"]["text"]  # facebook-sdk posts form fields: an object is JSON text
    text = (json.loads(content) if isinstance(content, str) else content)["body"]
    assert "da 1" in text and "inviato automaticamente" in text  # Italian question + disclosure
    post_whatsapp("wamid.CSAT.E2E.2", "⭐⭐⭐⭐⭐")

    def rated() -> dict[str, Any] | None:
        current = requests.get(f"{api}/api/cases/{opened}", headers=auth, timeout=10).json()
        return current if current.get("csat") else None

    final = wait_for(rated)
    assert final is not None, "the rating never reached the case"
    assert final["csat"]["score"] == 5 and final["csat"]["channel"] == "whatsapp"
    assert final["status"] == "resolved" and final["reopen_count"] == 0
    assert final["survey"]["status"] == "answered"
    assert len(survey_sends()) == 1  # nothing more was sent to her
    assert final["first_response_at"] is None  # an automated survey is no answer from a person
