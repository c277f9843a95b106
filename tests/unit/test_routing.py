"""Routing rules (versioned YAML) and the work item schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from socialcare import config, routing, triage, workitems
from socialcare.models import workitem as workitem_models
from socialcare.models.case import Team
from socialcare.models.interaction import Author, Channel, Interaction, Kind


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    config.reset()
    routing.reset()
    triage.reset()
    yield
    routing.reset()


def decide(
    text: str, channel: Channel = Channel.X, kind: Kind = Kind.PUBLIC_POST, case_team: Team | None = None
) -> routing.Route:
    interaction = Interaction(
        id=f"{channel.value}:1",
        channel=channel,
        kind=kind,
        platform_message_id="1",
        author=Author(id="a"),
        text=text,
        occurred_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    )
    return routing.route(interaction, triage.triage(interaction), case_team)


def test_rules_are_versioned() -> None:
    assert routing.rules_version() >= 1
    route = decide("ciao")
    assert route.version == routing.rules_version()


def test_phone_calls_go_to_the_call_centre_and_move_the_case() -> None:
    route = decide("", Channel.PHONE, Kind.CALL, case_team=Team.SOCIAL)
    assert (route.team, route.item, route.assign, route.rule) == (Team.CALLCENTRE, "call_followup", True, "phone-call")


def test_callback_requests_go_to_the_call_centre() -> None:
    route = decide("Potete richiamarmi? Chiamatemi al più presto", Channel.WHATSAPP, Kind.DIRECT_MESSAGE)
    assert route.team is Team.CALLCENTRE and route.rule == "callback-request"


def test_private_billing_and_refunds_need_account_access() -> None:
    assert decide("mi avete addebitato due volte", Channel.MESSENGER, Kind.DIRECT_MESSAGE).team is Team.CALLCENTRE
    assert decide("chiedo il rimborso", Channel.EMAIL, Kind.EMAIL).team is Team.CALLCENTRE


def test_public_complaints_go_to_social_even_about_refunds() -> None:
    route = decide("Vergogna, chiedo il rimborso!")
    assert route.team is Team.SOCIAL and route.rule == "public-complaint" and not route.assign


def test_praise_is_a_social_engage_item() -> None:
    route = decide("Grazie mille, fantastici!", Channel.INSTAGRAM, Kind.COMMENT)
    assert (route.team, route.item, route.rule) == (Team.SOCIAL, "engage", "praise-engage")


def test_default_rule() -> None:
    route = decide("una domanda", Channel.WEB, Kind.FORM)
    assert route.rule == "default" and route.team is Team.SOCIAL


def test_unknown_condition_is_a_config_error(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "routing.yaml").write_text("version: 1\nrules:\n  - {name: r, when: {moon: full}, team: social}\n")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    config.reset()
    routing.reset()
    with pytest.raises(ValueError, match="moon"):
        decide("x")


def test_unversioned_rules_are_refused(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "routing.yaml").write_text("rules: []\n")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    config.reset()
    routing.reset()
    with pytest.raises(KeyError):
        routing.rules_version()


def test_published_work_item_schema_matches_the_model() -> None:
    published = json.loads(workitems.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(workitem_models.json_schema())), (
        "regenerate config/workitem.schema.json: python -c 'from socialcare import workitems; workitems.write_schema()'"
    )
    assert published["properties"]["schema_version"]["const"] == workitem_models.WORKITEM_SCHEMA_VERSION
    assert {"case", "customer", "timeline_summary", "suggested_answer", "routing"} <= set(published["properties"])


def test_item_ids_are_stable_per_cause() -> None:
    a = workitem_models.item_id("SC-2026-000001", "respond", "social", "x:1")
    assert a == workitem_models.item_id("SC-2026-000001", "respond", "social", "x:1")
    assert a != workitem_models.item_id("SC-2026-000001", "respond", "social", "x:2")
    assert a != workitem_models.item_id("SC-2026-000001", "respond", "callcentre", "x:1")
