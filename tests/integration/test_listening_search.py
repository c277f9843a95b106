"""ListeningFunction on moto: the real tweepy ``search_recent_tweets`` (paged by ``tweepy.Paginator``)
against ``responses`` answering from the platform stand-in's search corpus in X's documented shape
(``data``, ``includes.users`` with ``public_metrics``, ``meta``), then the brand mentions through the
real ProcessorFunction flow. What a user notices: which mentions become work, that competitors
never become customers, the share of voice, the checkpoint, and that the daily budget stops reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from listeningkit import BRAND_X as BRAND  # tests/integration/listeningkit.py
from listeningkit import listening_wiring, serve, tweet, user

from socialcare.domain.satisfaction.report import listening_by_day, share_of_voice, weekly_digest
from socialcare.flows.listening_search import ListeningRun
from socialcare.flows.processor import Processor
from socialcare.models.interaction import Action, InboundEvent, Interaction
from socialcare_infra.standin_search import SearchCorpus

pytestmark = pytest.mark.integration

AwsStack = Any


@pytest.fixture
def world(aws: AwsStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    wiring = listening_wiring(aws, monkeypatch, tmp_path, brand="acme", keywords=["Acme"], max_reads_per_day=25,
                              page_size=10, competitors=[{"name": "rivalco", "terms": ["RivalCo", "@rivalco"]}])
    return {"wiring": wiring, "run": ListeningRun(wiring), "corpus": SearchCorpus()}


def inbound(aws: AwsStack) -> list[InboundEvent]:
    return [InboundEvent.model_validate(m) for m in aws.drain(aws.queue_urls["InboundQueue"])]


def test_brand_mentions_become_listening_interactions_and_competitors_only_counts(
        aws: AwsStack, world: dict[str, Any]) -> None:
    corpus, run, wiring = world["corpus"], world["run"], world["wiring"]
    corpus.add([
        tweet(1, "Acme è fantastico, consegna velocissima! Grazie 😍", "501"),
        tweet(2, "Acme vergognoso: ordine sparito e nessuno risponde", "502"),
        tweet(3, "RivalCo pessimo servizio, mai più", "503"),
        tweet(4, "Provato @rivalco oggi, ottimo", "504"),
        tweet(5, "Acme meglio di RivalCo, nessun dubbio", "505"),
        tweet(6, "Nuova collezione Acme in arrivo", BRAND),  # the brand's own post
    ], [user("501", 120), user("502", 48_000), user("503", 10), user("504", 30), user("505", 70), user(BRAND, 9)])
    calls: list[dict[str, str]] = []
    with responses.RequestsMock() as mocked:
        serve(corpus, mocked, calls)
        result = run.run()

    assert result["status"] == "ok" and result["published"] == 3 and result["reads"] == 6
    assert calls[0]["query"] == "(Acme OR RivalCo OR @rivalco) -is:retweet" and "since_id" not in calls[0]
    events = inbound(aws)
    assert sorted(e.interaction.id for e in events if e.interaction) == [
        "x:1900000000000000001", "x:1900000000000000002", "x:1900000000000000005"]
    assert all(e.source == "x-listening" and e.interaction and e.interaction.metadata["via"] == "listening"
               for e in events)
    for event in events:  # the processor triages them like any public post
        assert Processor(wiring).process(event)["status"] == "stored"
    items = {i["trigger"]["id"]: i for i in aws.drain(aws.queue_urls["SocialTeamQueue"])}
    assert items["x:1900000000000000001"]["kind"] == "engage"  # praise: thank and amplify
    complaint = items["x:1900000000000000002"]
    assert complaint["kind"] == "respond" and complaint["case"]["priority"] in ("high", "urgent")  # reach 48k
    for author in ("503", "504"):  # competitors' mentions: counted, never a customer
        assert wiring.profiles.get_claim("x", author) is None
    today = datetime.now(UTC).date()
    sov = {r["name"]: r for r in share_of_voice(wiring.state, run.search, [today])}
    assert (sov["acme"]["mentions"], sov["acme"]["positive"], sov["acme"]["negative"]) == (3, 1, 1)
    assert (sov["rivalco"]["mentions"], sov["rivalco"]["positive"], sov["rivalco"]["negative"]) == (3, 1, 1)
    assert sov["acme"]["share"] == 0.5
    (day,) = listening_by_day(wiring.state, run.search, [today])
    assert (day["reads"], day["mentions"], day["published"]) == (6, 3, 3)
    assert day["spend_usd"] == pytest.approx(6 * 0.005 + 6 * 0.010)
    # a webhook delivering the same mention later is the same interaction: stored once
    again = events[0].interaction
    assert again is not None
    webhook = InboundEvent(action=Action.CREATE, source="x", event_id=again.platform_message_id,
                           interaction=Interaction.model_validate(again.model_dump() | {"metadata": {}}))
    assert webhook.dedupe_key == events[0].dedupe_key
    assert Processor(wiring).process(webhook)["status"] == "duplicate"


def test_the_daily_budget_stops_the_reads_and_the_checkpoint_moves_forward(
        aws: AwsStack, world: dict[str, Any]) -> None:
    corpus, run, wiring = world["corpus"], world["run"], world["wiring"]
    corpus.add([tweet(n, f"Acme post {n}", "600") for n in range(1, 6)], [user("600", 5)])
    calls: list[dict[str, str]] = []
    with responses.RequestsMock() as mocked:
        serve(corpus, mocked, calls)
        first = run.run()
        corpus.add([tweet(n, f"Acme post {n}", "600", minutes_ago=1) for n in range(100, 140)])
        second = run.run()
        third = run.run()

    assert first["reads"] == 5
    assert calls[1]["since_id"] == "1900000000000000005"  # only what is newer than the first run's newest
    # 25 posts a day at pages of 10: two pages (20 posts), then no page fits in the 5 left
    assert second["status"] == "ok" and second["reads"] == 20 and len(calls) == 3
    assert third["status"] == "budget_spent" and len(calls) == 3  # not a single request more
    (day,) = listening_by_day(wiring.state, run.search, [datetime.now(UTC).date()])
    assert day["reads"] == 25 <= run.search.max_reads_per_day
    digest = weekly_digest(wiring.state, run.search, datetime.now(UTC).date())
    assert digest["listening"]["reads"] == 25 and digest["listening"]["spend_usd"] > 0
