"""The report's satisfaction and listening sections on moto (issue 15, item 5).

Three WhatsApp customers' cases are resolved through the real case actions, each is surveyed and
answers through the real ProcessorFunction flow ("5", "⭐⭐⭐⭐⭐", "2, ..."); a listening run reads
a search response holding brand and competitor mentions with the real tweepy client (against
``responses`` answering from the platform stand-in's corpus). The report is then built by the
report flow (ReportsTable and StateTable) and read back: each new chart's SVG data marks are the
stored counters - the ratings on the cases, the share of voice and the reads the run counted - and
the table beside it and its CSV hold the same numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from listeningkit import listening_wiring, serve, tweet, user  # tests/integration/listeningkit.py
from reportkit import (  # tests/integration/reportkit.py
    ReportPage,
    assert_charts_match_tables_and_csvs,
    chart_values,
    table_values,
)

from socialcare.domain.reporting.report import Report
from socialcare.domain.satisfaction.report import listening_by_day, share_of_voice
from socialcare.flows.listening_search import ListeningRun
from socialcare.flows.processor import Processor
from socialcare.flows.report import WeeklyReport, report
from socialcare.flows.wiring import Wiring
from socialcare.models.case import CaseStatus
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare_infra.standin_search import SearchCorpus

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
WA_NUMBER = "wa-number-1"
ANSWERS = {"393331110001": "5", "393331110002": "⭐⭐⭐⭐⭐", "393331110003": "2, il rimborso è arrivato tardi"}
POSTS = [  # id, text, author, followers
    (1, "Acme è fantastico, consegna velocissima! Grazie 😍", "501", 120),
    (2, "Acme vergognoso: ordine sparito e nessuno risponde", "502", 48_000),
    (3, "RivalCo pessimo servizio, mai più", "503", 10),
    (4, "Provato @rivalco oggi, ottimo", "504", 30),
    (5, "Acme meglio di RivalCo, nessun dubbio", "505", 70),
]
SOV = ("positive", "neutral", "negative")


@pytest.fixture
def world(aws: AwsStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Wiring:
    return listening_wiring(aws, monkeypatch, tmp_path, brand="acme", keywords=["Acme"], page_size=10,
                            competitors=[{"name": "rivalco", "terms": ["RivalCo", "@rivalco"]}])


def whatsapp(author: str, pmid: str, text: str, at: datetime) -> InboundEvent:
    interaction = Interaction(id=Interaction.make_id(Channel.WHATSAPP, pmid), channel=Channel.WHATSAPP,
                              kind=Kind.DIRECT_MESSAGE, account_id=WA_NUMBER, platform_message_id=pmid,
                              author=Author(id=author), text=text, occurred_at=at)
    return InboundEvent(action=Action.CREATE, source="test", event_id=pmid, interaction=interaction)


def rate(wiring: Wiring) -> list[int]:
    """Each customer writes, her case is resolved (surveyed on WhatsApp) and she answers: the scores stored."""
    scores = []
    for author, answer in ANSWERS.items():
        done = Processor(wiring).process(whatsapp(author, f"wamid.{author}.1", "Aspetto ancora il rimborso",
                                                  datetime.now(UTC) - timedelta(hours=1)))
        wiring.case_actions.resolve(str(done["case_id"]))
        rated = Processor(wiring).process(whatsapp(author, f"wamid.{author}.2", answer, datetime.now(UTC)))
        assert rated["status"] == "rated", rated
        case = wiring.cases_repo.get(str(done["case_id"]))
        assert case is not None and case.status is CaseStatus.RESOLVED and case.csat is not None
        scores.append(case.csat.score)
    return scores


def listen(wiring: Wiring) -> dict[str, Any]:
    corpus = SearchCorpus()
    corpus.add([tweet(n, text, author) for n, text, author, _ in POSTS],
               [user(author, followers) for _, _, author, followers in POSTS])
    with responses.RequestsMock() as mocked:
        serve(corpus, mocked)
        result = ListeningRun(wiring).run()
    assert result["status"] == "ok", result
    return result


@pytest.fixture
def reported(aws: AwsStack, world: Wiring) -> tuple[Report, list[int], dict[str, Any]]:
    scores = rate(world)
    result = listen(world)
    published = aws.drain(aws.queue_urls["InboundQueue"])  # the brand's mentions, as listening interactions
    assert len(published) == result["published"] and all(m["source"] == "x-listening" for m in published)
    today = datetime.now(UTC).date()
    return report(world, today - timedelta(days=2), today), scores, result


NEW = ("csat", "csat_scores", "share_of_voice", "listening_volume", "listening_spend")


def test_each_new_chart_draws_the_stored_counters_and_its_table_and_csv_hold_them(
        reported: tuple[Report, list[int], dict[str, Any]], world: Wiring) -> None:
    built, scores, run = reported
    page = ReportPage(built.html())
    assert page.scripts == 0
    assert [s.id for s, _ in built.sections][-len(NEW):] == list(NEW)
    assert_charts_match_tables_and_csvs(built, page)

    today, days = datetime.now(UTC).date().isoformat(), [datetime.now(UTC).date()]
    assert sorted(scores) == [2, 5, 5]
    assert chart_values(page, "csat") == {("mean score", today): round(sum(scores) / 3, 1), ("answers", today): 3}
    assert table_values(page, "csat")[("low scores (1-2)", today)] == 1
    assert chart_values(page, "csat_scores") == {("5/5", today): 2, ("2/5", today): 1}
    assert table_values(page, "csat_scores")[("top-box share (%)", today)] == round(100 * 2 / 3)

    search = ListeningRun(world).search
    stored = {r["name"]: r for r in share_of_voice(world.state, search, days)}
    assert stored["acme"]["mentions"] == 3 and stored["rivalco"]["mentions"] == 3  # post 5 names both
    drawn = chart_values(page, "share_of_voice")
    for name, label in (("acme", "acme (brand)"), ("rivalco", "rivalco")):
        assert {s: drawn.get((s, label), 0) for s in SOV} == {s: stored[name][s] for s in SOV}
        assert table_values(page, "share_of_voice")[("mentions", label)] == stored[name]["mentions"]
        assert table_values(page, "share_of_voice")[("share of voice (%)", label)] == round(100 * stored[name]["share"])
    assert chart_values(page, "listening_volume") == {("acme (brand)", today): 3, ("rivalco", today): 3}
    assert table_values(page, "listening_volume")[("brand mentions published", today)] == run["published"] == 3

    (day,) = listening_by_day(world.state, search, days)
    assert day["reads"] == run["reads"] == len(POSTS)
    assert chart_values(page, "listening_spend") == {("spend (USD)", today): round(day["spend_usd"], 3)}
    assert table_values(page, "listening_spend") == {("spend (USD)", today): round(day["spend_usd"], 3),
                                              ("posts read", today): day["reads"],
                                              ("authors read", today): day["users"]}
    kpis = dict((label, value) for label, value in built.kpis)
    assert kpis["CSAT (mean of 1 to 5)"] == f"{sum(scores) / 3:.1f}" and kpis["share of voice"] == "50%"


def test_a_period_without_surveys_or_searches_says_so_instead_of_drawing_empty_charts(world: Wiring) -> None:
    today = datetime.now(UTC).date()
    built = report(world, today - timedelta(days=6), today)
    page = ReportPage(built.html())

    for section in NEW:
        assert chart_values(page, section) == {} and page.tables[section].rows[0][0].startswith("no "), section
    assert 'class="no_data"' in built.html() and "no survey answered in this period" in built.html()


def test_the_weekly_report_holds_the_new_sections(aws: AwsStack, world: Wiring) -> None:
    answer = WeeklyReport(world).handle({}, today=datetime(2026, 3, 11, tzinfo=UTC).date())

    assert {f"reports/2026-W10/{s}.csv" for s in NEW} <= set(answer["keys"])
