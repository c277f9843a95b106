"""Triage: offline sentiment (it/en), categories and cues, priority; Comprehend via Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from socialcare import aws
from socialcare.config.loader import load_rules
from socialcare.config.rules import TriageRules
from socialcare.config.settings import Settings, load
from socialcare.domain.sentiment.analyser import SentimentAnalyser, analyse_offline
from socialcare.domain.triage import Triager
from socialcare.errors import ConfigurationError
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Priority
from socialcare.models.interaction import Author, Channel, Interaction, Kind


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SOCIALCARE_SENTIMENT_PROVIDER", raising=False)
    monkeypatch.delenv("SOCIALCARE_CONFIG_DIR", raising=False)
    aws.reset()
    yield
    aws.reset()


@pytest.fixture(scope="module")
def triage() -> Triager:
    # The shipped config/triage.yaml and the default (offline) sentiment provider.
    return Triager(load_rules(TriageRules, ""), SentimentAnalyser())


def post(
    text: str, *, kind: Kind = Kind.PUBLIC_POST, followers: int | None = None, lang: str | None = None
) -> Interaction:
    return Interaction(
        id="x:1",
        channel=Channel.X,
        kind=kind,
        platform_message_id="1",
        author=Author(id="a", followers=followers),
        text=text,
        language=lang,
        occurred_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "text",
    [
        "Il mio router non funziona",
        "Vergogna!",
        "pessimo servizio",
        "chiedo il rimborso",
        "Terrible support",
        "still waiting for my parcel",
        "I do not love it",
        "Ordine arrivato, grazie, ma il pacco era danneggiato",
        "Sono molto deluso 😡",
        "This is NOT good",
        "Buongiorno, scrivo ancora per l'ordine. Se non ricevo il rimborso mi rivolgo a un avvocato.",
        "non ho ancora ricevuto il rimborso",
        "I haven't received my refund",
    ],
)
def test_complaints_are_negative(text: str) -> None:
    assert analyse_offline(text).label == "negative", text


@pytest.mark.parametrize(
    "text", ["grazie mille", "fantastico", "love it", "Non è male, anzi", "not bad at all", "Thank you so much!"]
)
def test_praise_is_positive(text: str) -> None:
    assert analyse_offline(text).label == "positive", text


def test_neutral_questions_and_empty_text() -> None:
    assert analyse_offline("Avete il modello blu in negozio?").label == "neutral"
    assert analyse_offline("Buongiorno, come si cambia l'indirizzo?").label == "neutral"  # a greeting is no praise
    assert analyse_offline("Il rimborso è arrivato").label != "negative"  # a topic word is no complaint
    analyser = SentimentAnalyser()
    assert analyser.analyse(None).label == "neutral" and analyser.analyse("   ").provider == "none"


def test_intensifiers_and_shouting_make_it_more_negative() -> None:
    plain = analyse_offline("servizio deludente").score
    assert analyse_offline("servizio molto deludente").score < plain
    assert analyse_offline("servizio DELUDENTE!!!").score < plain


def test_language_guess() -> None:
    assert analyse_offline("il pacco non è ancora arrivato").language == "it"
    assert analyse_offline("my order is still not here").language == "en"


def test_categories_and_cues(triage: Triager) -> None:
    result = triage.triage(post("Chiedo il rimborso o vado dall'avvocato, pacco mai consegnato"))
    assert {"refund", "refund_demand", "legal_threat", "delivery"} <= set(result.categories)
    assert {"refund_demand", "legal_threat"} <= set(result.cues)
    assert triage.categorise("I want to cancel my subscription") == ["cancel"]
    assert triage.categorise("Can you call me back?") == ["callback"]
    assert "billing" in triage.categorise("mi avete addebitato due volte la fattura")
    assert "product_question" in triage.categorise("How do I reset the device?")


def test_public_negative_from_a_high_reach_author_is_high_or_urgent(triage: Triager) -> None:
    loud = triage.triage(post("Servizio pessimo, vergogna", followers=80_000))
    quiet_dm = triage.triage(post("Servizio pessimo, vergogna", kind=Kind.DIRECT_MESSAGE, followers=80_000))
    assert loud.priority in (Priority.HIGH, Priority.URGENT)
    assert quiet_dm.priority.rank < loud.priority.rank, "reach only matters in public"
    assert any("reach" in r for r in loud.reasons)


def test_refund_threat_is_high_or_urgent_even_in_private(triage: Triager) -> None:
    result = triage.triage(post("chiedo il rimborso", kind=Kind.DIRECT_MESSAGE))
    assert result.priority in (Priority.HIGH, Priority.URGENT)


def test_private_legal_threat_over_a_refund_is_high(triage: Triager) -> None:
    text = "Buongiorno, scrivo ancora per l'ordine 12345. Se non ricevo il rimborso mi rivolgo a un avvocato."
    result = triage.triage(post(text, kind=Kind.DIRECT_MESSAGE))
    assert result.sentiment.label == "negative" and "legal_threat" in result.cues
    assert result.priority in (Priority.HIGH, Priority.URGENT)


def test_legal_threat_in_public_is_urgent(triage: Triager) -> None:
    assert triage.triage(post("Vi denuncio, pessimo servizio, chiedo il rimborso")).priority is Priority.URGENT


def test_praise_is_low_and_tier_cannot_make_it_a_complaint(triage: Triager) -> None:
    result = triage.triage(post("Grazie mille, siete fantastici!", followers=90_000), tier="gold")
    assert result.priority is Priority.LOW and result.is_praise


def test_tier_raises_a_complaint(triage: Triager) -> None:
    base = triage.triage(post("il pacco è in ritardo", kind=Kind.DIRECT_MESSAGE))
    gold = triage.triage(post("il pacco è in ritardo", kind=Kind.DIRECT_MESSAGE), tier="gold")
    assert gold.score > base.score


def test_priority_helpers() -> None:
    assert Priority.LOW.raised() is Priority.NORMAL and Priority.URGENT.raised() is Priority.URGENT
    assert Priority.highest(Priority.NORMAL, Priority.HIGH, Priority.LOW) is Priority.HIGH


def test_rules_come_from_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "triage.yaml").write_text(
        "version: 9\ncategories:\n  outage: ['blackout']\npriority:\n  cues: {outage: 9}\n"
        "  thresholds: {urgent: 7, high: 4, normal: 0}\n"
    )
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    triager = Wiring(Settings()).triager  # what every function builds from its environment
    result = triager.triage(post("blackout in tutta la città"))
    assert result.categories == ["outage"] and result.priority is Priority.URGENT and result.version == 9


def test_a_bad_category_pattern_is_refused_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "triage.yaml").write_text("version: 1\ncategories:\n  broken: ['(unclosed']\n")
    with pytest.raises(ConfigurationError, match=r"triage\.yaml.*categories\.broken"):
        load_rules(TriageRules, str(tmp_path))


# ---------------------------------------------------------------- Comprehend
COMPREHEND_NEGATIVE = {  # recorded shape of detect_sentiment
    "Sentiment": "NEGATIVE",
    "SentimentScore": {"Positive": 0.01, "Negative": 0.95, "Neutral": 0.03, "Mixed": 0.01},
    "ResponseMetadata": {"HTTPStatusCode": 200},
}


def configured_analyser(monkeypatch: pytest.MonkeyPatch) -> SentimentAnalyser:
    """The analyser a function builds when its environment selects Comprehend."""
    monkeypatch.setenv("SOCIALCARE_SENTIMENT_PROVIDER", "comprehend")
    analyser = Wiring(Settings()).analyser
    assert analyser.provider == "comprehend"
    return analyser


def test_comprehend_is_used_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    analyser = configured_analyser(monkeypatch)
    with Stubber(analyser.comprehend) as stub:
        stub.add_response("detect_sentiment", COMPREHEND_NEGATIVE, {"Text": "il servizio", "LanguageCode": "it"})
        result = analyser.analyse("il servizio", "it")
        stub.assert_no_pending_responses()
    assert result.provider == "comprehend" and result.label == "negative" and result.score == pytest.approx(-0.94)


def test_comprehend_failure_falls_back_to_the_offline_analyser(monkeypatch: pytest.MonkeyPatch) -> None:
    analyser = configured_analyser(monkeypatch)
    with Stubber(analyser.comprehend) as stub:
        stub.add_client_error("detect_sentiment", service_error_code="ThrottlingException", http_status_code=400)
        result = analyser.analyse("pessimo servizio", "it")
        stub.assert_no_pending_responses()
    assert result.provider == "offline" and result.label == "negative"


def test_unsupported_language_never_calls_comprehend() -> None:
    client = boto3.client("comprehend", region_name="eu-west-1")
    calls: list[Any] = []
    # The analyser swallows any Comprehend error (falling back offline), so an unexpected call
    # would not fail by itself: record every call as it starts.
    client.meta.events.register("provide-client-params.comprehend", lambda **kwargs: calls.append(kwargs))
    analyser = SentimentAnalyser("comprehend", client)
    with Stubber(client):  # no responses queued: a call could not reach AWS either
        result = analyser.analyse("straszny serwis", "pl")
    assert result.provider == "offline" and calls == []


def test_an_unknown_sentiment_provider_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_SENTIMENT_PROVIDER", "vibes")
    with pytest.raises(ConfigurationError, match="SOCIALCARE_SENTIMENT_PROVIDER"):
        load(Settings)
    with pytest.raises(ValueError, match="vibes"):
        SentimentAnalyser("vibes")
    with pytest.raises(ValueError, match="Comprehend client"):
        SentimentAnalyser("comprehend")


def test_a_threat_closing_a_very_long_message_is_still_read(triage: Triager) -> None:
    # A long e-mail (the gateway accepts 200,000 characters) that ends with the threat: triage
    # reads the beginning and the end of what it cannot read whole.
    story = "Vi scrivo per raccontare come è andata la consegna del pacco, passo per passo. " * 2500
    text = story + "Se non ricevo il rimborso entro venerdì mi rivolgo a un avvocato."
    assert len(text) > 150_000
    result = triage.triage(post(text, kind=Kind.EMAIL))
    assert "legal_threat" in result.cues
    assert result.priority in (Priority.HIGH, Priority.URGENT)
