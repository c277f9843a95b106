"""Triage: offline sentiment (it/en), categories and cues, priority; Comprehend via Stubber."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from socialcare import aws, config, sentiment, triage
from socialcare.models.case import Priority
from socialcare.models.interaction import Author, Channel, Interaction, Kind
from socialcare.sentiment import analyse, analyse_offline


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("SOCIALCARE_SENTIMENT_PROVIDER", raising=False)
    config.reset()
    triage.reset()
    aws.reset()
    yield
    config.reset()
    aws.reset()


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
    assert analyse(None).label == "neutral" and analyse("   ").provider == "none"


def test_intensifiers_and_shouting_make_it_more_negative() -> None:
    plain = analyse_offline("servizio deludente").score
    assert analyse_offline("servizio molto deludente").score < plain
    assert analyse_offline("servizio DELUDENTE!!!").score < plain


def test_language_guess() -> None:
    assert analyse_offline("il pacco non è ancora arrivato").language == "it"
    assert analyse_offline("my order is still not here").language == "en"


def test_categories_and_cues() -> None:
    result = triage.triage(post("Chiedo il rimborso o vado dall'avvocato, pacco mai consegnato"))
    assert {"refund", "refund_demand", "legal_threat", "delivery"} <= set(result.categories)
    assert {"refund_demand", "legal_threat"} <= set(result.cues)
    assert triage.categorise("I want to cancel my subscription") == ["cancel"]
    assert triage.categorise("Can you call me back?") == ["callback"]
    assert "billing" in triage.categorise("mi avete addebitato due volte la fattura")
    assert "product_question" in triage.categorise("How do I reset the device?")


def test_public_negative_from_a_high_reach_author_is_high_or_urgent() -> None:
    loud = triage.triage(post("Servizio pessimo, vergogna", followers=80_000))
    quiet_dm = triage.triage(post("Servizio pessimo, vergogna", kind=Kind.DIRECT_MESSAGE, followers=80_000))
    assert loud.priority in (Priority.HIGH, Priority.URGENT)
    assert quiet_dm.priority.rank < loud.priority.rank, "reach only matters in public"
    assert any("reach" in r for r in loud.reasons)


def test_refund_threat_is_high_or_urgent_even_in_private() -> None:
    result = triage.triage(post("chiedo il rimborso", kind=Kind.DIRECT_MESSAGE))
    assert result.priority in (Priority.HIGH, Priority.URGENT)


def test_private_legal_threat_over_a_refund_is_high() -> None:
    text = "Buongiorno, scrivo ancora per l'ordine 12345. Se non ricevo il rimborso mi rivolgo a un avvocato."
    result = triage.triage(post(text, kind=Kind.DIRECT_MESSAGE))
    assert result.sentiment.label == "negative" and "legal_threat" in result.cues
    assert result.priority in (Priority.HIGH, Priority.URGENT)


def test_legal_threat_in_public_is_urgent() -> None:
    assert triage.triage(post("Vi denuncio, pessimo servizio, chiedo il rimborso")).priority is Priority.URGENT


def test_praise_is_low_and_tier_cannot_make_it_a_complaint() -> None:
    result = triage.triage(post("Grazie mille, siete fantastici!", followers=90_000), tier="gold")
    assert result.priority is Priority.LOW and result.is_praise


def test_tier_raises_a_complaint() -> None:
    base = triage.triage(post("il pacco è in ritardo", kind=Kind.DIRECT_MESSAGE))
    gold = triage.triage(post("il pacco è in ritardo", kind=Kind.DIRECT_MESSAGE), tier="gold")
    assert gold.score > base.score


def test_priority_helpers() -> None:
    assert Priority.LOW.raised() is Priority.NORMAL and Priority.URGENT.raised() is Priority.URGENT
    assert Priority.highest(Priority.NORMAL, Priority.HIGH, Priority.LOW) is Priority.HIGH


def test_rules_come_from_yaml(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "triage.yaml").write_text(
        "version: 9\ncategories:\n  outage: ['blackout']\npriority:\n  cues: {outage: 9}\n"
        "  thresholds: {urgent: 7, high: 4, normal: 0}\n"
    )
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    config.reset()
    triage.reset()
    result = triage.triage(post("blackout in tutta la città"))
    assert result.categories == ["outage"] and result.priority is Priority.URGENT and result.version == 9


# ---------------------------------------------------------------- Comprehend
COMPREHEND_NEGATIVE = {  # recorded shape of detect_sentiment
    "Sentiment": "NEGATIVE",
    "SentimentScore": {"Positive": 0.01, "Negative": 0.95, "Neutral": 0.03, "Mixed": 0.01},
    "ResponseMetadata": {"HTTPStatusCode": 200},
}


def test_comprehend_is_used_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_SENTIMENT_PROVIDER", "comprehend")
    config.reset()
    client = aws.client("comprehend")
    with Stubber(client) as stub:
        stub.add_response("detect_sentiment", COMPREHEND_NEGATIVE, {"Text": "il servizio", "LanguageCode": "it"})
        result = sentiment.analyse("il servizio", "it")
        stub.assert_no_pending_responses()
    assert result.provider == "comprehend" and result.label == "negative" and result.score == pytest.approx(-0.94)


def test_comprehend_failure_falls_back_to_the_offline_analyser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_SENTIMENT_PROVIDER", "comprehend")
    config.reset()
    client = aws.client("comprehend")
    with Stubber(client) as stub:
        stub.add_client_error("detect_sentiment", service_error_code="ThrottlingException", http_status_code=400)
        result = sentiment.analyse("pessimo servizio", "it")
    assert result.provider == "offline" and result.label == "negative"


def test_unsupported_language_never_calls_comprehend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_SENTIMENT_PROVIDER", "comprehend")
    config.reset()
    client = aws.client("comprehend")
    with Stubber(client):  # no responses queued: a call would fail the test
        result = sentiment.analyse_comprehend("straszny serwis", "pl")
    assert result.provider == "offline"
