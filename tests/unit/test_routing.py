"""Routing rules (versioned YAML) and the work item schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from socialcare.config.loader import load_rules
from socialcare.config.rules import RoutingRules, TriageRules
from socialcare.config.settings import Settings
from socialcare.domain.routing import Router
from socialcare.domain.sentiment.analyser import SentimentAnalyser
from socialcare.domain.triage import Triager
from socialcare.errors import ConfigurationError
from socialcare.models import workitem as workitem_models
from socialcare.models.case import Team
from socialcare.models.interaction import Author, Channel, Interaction, Kind
from socialcare.models.triage import Route

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "shared" / "socialcare" / "config" / "workitem.schema.json"
# One line that rewrites the published schema from the model (run from the repository root).
REGENERATE_SCHEMA = (
    '.venv/bin/python -c "import json; from socialcare.models.workitem import json_schema; '
    "open('shared/socialcare/config/workitem.schema.json', 'w', encoding='utf-8')"
    ".write(json.dumps(json_schema(), indent=2, ensure_ascii=False) + '\\n')\""
)


@pytest.fixture(scope="module")
def router() -> Router:
    # The shipped config/routing.yaml (no override directory).
    return Router(load_rules(RoutingRules, ""))


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager(load_rules(TriageRules, ""), SentimentAnalyser())


def interaction(text: str, channel: Channel = Channel.X, kind: Kind = Kind.PUBLIC_POST) -> Interaction:
    return Interaction(
        id=f"{channel.value}:1",
        channel=channel,
        kind=kind,
        platform_message_id="1",
        author=Author(id="a"),
        text=text,
        occurred_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    )


class Decide(Protocol):
    def __call__(self, text: str, channel: Channel = ..., kind: Kind = ..., case_team: Team | None = None) -> Route: ...


@pytest.fixture
def decide(router: Router, triager: Triager) -> Decide:
    """Triage then route one interaction with the shipped rules."""

    def decide(
        text: str, channel: Channel = Channel.X, kind: Kind = Kind.PUBLIC_POST, case_team: Team | None = None
    ) -> Route:
        message = interaction(text, channel, kind)
        return router.route(message, triager.triage(message), case_team)

    return decide


def test_rules_are_versioned(router: Router, decide: Decide) -> None:
    assert router.version >= 1
    route = decide("ciao")
    assert route.version == router.version


def test_phone_calls_go_to_the_call_centre_and_move_the_case(decide: Decide) -> None:
    route = decide("", Channel.PHONE, Kind.CALL, case_team=Team.SOCIAL)
    assert (route.team, route.item, route.assign, route.rule) == (Team.CALLCENTRE, "call_followup", True, "phone-call")


def test_callback_requests_go_to_the_call_centre(decide: Decide) -> None:
    route = decide("Potete richiamarmi? Chiamatemi al più presto", Channel.WHATSAPP, Kind.DIRECT_MESSAGE)
    assert route.team is Team.CALLCENTRE and route.rule == "callback-request"


def test_private_billing_and_refunds_need_account_access(decide: Decide) -> None:
    assert decide("mi avete addebitato due volte", Channel.MESSENGER, Kind.DIRECT_MESSAGE).team is Team.CALLCENTRE
    assert decide("chiedo il rimborso", Channel.EMAIL, Kind.EMAIL).team is Team.CALLCENTRE


def test_public_complaints_go_to_social_even_about_refunds(decide: Decide) -> None:
    route = decide("Vergogna, chiedo il rimborso!")
    assert route.team is Team.SOCIAL and route.rule == "public-complaint" and not route.assign


def test_praise_is_a_social_engage_item(decide: Decide) -> None:
    route = decide("Grazie mille, fantastici!", Channel.INSTAGRAM, Kind.COMMENT)
    assert (route.team, route.item, route.rule) == (Team.SOCIAL, "engage", "praise-engage")


def test_default_rule(decide: Decide) -> None:
    route = decide("una domanda", Channel.WEB, Kind.FORM)
    assert route.rule == "default" and route.team is Team.SOCIAL


def test_unknown_condition_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "routing.yaml").write_text("version: 1\nrules:\n  - {name: r, when: {moon: full}, team: social}\n")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"routing\.yaml.*moon"):
        load_rules(RoutingRules, Settings().config_dir)


def test_unversioned_rules_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "routing.yaml").write_text("rules: []\n")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"routing\.yaml.*version"):
        load_rules(RoutingRules, Settings().config_dir)


def test_an_override_directory_replaces_the_shipped_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, triager: Triager
) -> None:
    (tmp_path / "routing.yaml").write_text(
        "version: 42\ndefault: {team: callcentre}\nrules:\n"
        "  - {name: all-x, when: {channel: [x]}, team: callcentre, item: callback, assign: true}\n"
    )
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    router = Router(load_rules(RoutingRules, Settings().config_dir))
    message = interaction("Grazie mille, fantastici!")
    route = router.route(message, triager.triage(message))
    assert (route.rule, route.version, route.team, route.item, route.assign) == (
        "all-x",
        42,
        Team.CALLCENTRE,
        "callback",
        True,
    )
    form = interaction("una domanda", Channel.WEB, Kind.FORM)
    assert router.route(form, triager.triage(form)).team is Team.CALLCENTRE  # the file's own default


def test_published_work_item_schema_matches_the_model() -> None:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(workitem_models.json_schema())), (
        f"{SCHEMA_PATH.name} is stale; regenerate it: {REGENERATE_SCHEMA}"
    )
    assert published["properties"]["schema_version"]["const"] == workitem_models.WORKITEM_SCHEMA_VERSION
    assert {"case", "customer", "timeline_summary", "suggested_answer", "routing"} <= set(published["properties"])


def test_item_ids_are_stable_per_cause() -> None:
    a = workitem_models.item_id("SC-2026-000001", "respond", "social", "x:1")
    assert a == workitem_models.item_id("SC-2026-000001", "respond", "social", "x:1")
    assert a != workitem_models.item_id("SC-2026-000001", "respond", "social", "x:2")
    assert a != workitem_models.item_id("SC-2026-000001", "respond", "callcentre", "x:1")
