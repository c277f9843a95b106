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

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
import responses
import yaml
from reportkit import ReportPage  # tests/integration/reportkit.py

from socialcare.config.loader import CONFIG_DIR
from socialcare.config.settings import Settings
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
X_API = "http://x.fake.test"
BRAND_X = "783214"
WA_NUMBER = "wa-number-1"
SEARCH = re.compile(re.escape(X_API) + r"/2/tweets/search/recent.*")
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
    rules = yaml.safe_load((CONFIG_DIR / "listening.yaml").read_text(encoding="utf-8"))
    rules["search"].update(brand="acme", keywords=["Acme"], page_size=10,
                           competitors=[{"name": "rivalco", "terms": ["RivalCo", "@rivalco"]}])
    (tmp_path / "listening.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SOCIALCARE_X_API_URL", X_API)
    monkeypatch.setenv("SOCIALCARE_BRAND_X_ACCOUNT_IDS", BRAND_X)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({BRAND_X: {"bearer_token": "bearer"}}))
    return Wiring(Settings())


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
    at = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    corpus.add([{"id": str(1_900_000_000_000_000_000 + n), "text": text, "author_id": author, "lang": "it",
                 "created_at": at, "conversation_id": str(1_900_000_000_000_000_000 + n),
                 "edit_history_tweet_ids": [str(1_900_000_000_000_000_000 + n)]}
                for n, text, author, _ in POSTS],
               [{"id": author, "username": f"user{author}", "name": f"User {author}",
                 "public_metrics": {"followers_count": followers, "following_count": 1, "tweet_count": 1}}
                for _, _, author, followers in POSTS])

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        status, body = corpus.answer(dict(parse_qsl(urlsplit(request.url).query)),
                                     request.headers.get("Authorization", ""))
        return status, {"content-type": "application/json"}, json.dumps(body)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, SEARCH, callback=answer)
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


def chart(page: ReportPage, section: str) -> dict[tuple[str, str], float]:
    """(series, x label) -> each data mark's value, zeros left out."""
    drawn = page.charts[section]
    return {(drawn.legend[index], label): value for index, label, value in drawn.marks if value}


def table(page: ReportPage, section: str) -> dict[tuple[str, str], float]:
    found = page.tables[section]
    return {(name, row[0]): float(cell.replace(",", "")) for row in found.rows if len(row) == len(found.header)
            for name, cell in zip(found.header[1:], row[1:], strict=True) if cell not in ("–", "", "0")}


def csv_cells(built: Report, section: str) -> dict[tuple[str, str], float]:
    rows = list(csv.reader(io.StringIO(built.csv_files()[f"{section}.csv"])))
    return {(name, row[0]): float(cell) for row in rows[1:] for name, cell in zip(rows[0][1:], row[1:], strict=True)
            if cell not in ("", "0")}


NEW = ("csat", "csat_scores", "share_of_voice", "listening_volume", "listening_spend")


def test_each_new_chart_draws_the_stored_counters_and_its_table_and_csv_hold_them(
        reported: tuple[Report, list[int], dict[str, Any]], world: Wiring) -> None:
    built, scores, run = reported
    page = ReportPage(built.html())
    assert page.scripts == 0
    assert [s.id for s, _ in built.sections][-len(NEW):] == list(NEW)
    for section, series in built.sections:  # each chart = its table's drawn columns; table = CSV
        assert chart(page, section.id) == {k: v for k, v in table(page, section.id).items() if k[0] in series.values}
        assert table(page, section.id) == csv_cells(built, section.id), section.id

    today, days = datetime.now(UTC).date().isoformat(), [datetime.now(UTC).date()]
    assert sorted(scores) == [2, 5, 5]
    assert chart(page, "csat") == {("mean score", today): round(sum(scores) / 3, 1), ("answers", today): 3}
    assert table(page, "csat")[("low scores (1-2)", today)] == 1
    assert chart(page, "csat_scores") == {("5/5", today): 2, ("2/5", today): 1}
    assert table(page, "csat_scores")[("top-box share (%)", today)] == round(100 * 2 / 3)

    search = ListeningRun(world).search
    stored = {r["name"]: r for r in share_of_voice(world.state, search, days)}
    assert stored["acme"]["mentions"] == 3 and stored["rivalco"]["mentions"] == 3  # post 5 names both
    drawn = chart(page, "share_of_voice")
    for name, label in (("acme", "acme (brand)"), ("rivalco", "rivalco")):
        assert {s: drawn.get((s, label), 0) for s in SOV} == {s: stored[name][s] for s in SOV}
        assert table(page, "share_of_voice")[("mentions", label)] == stored[name]["mentions"]
        assert table(page, "share_of_voice")[("share of voice (%)", label)] == round(100 * stored[name]["share"])
    assert chart(page, "listening_volume") == {("acme (brand)", today): 3, ("rivalco", today): 3}
    assert table(page, "listening_volume")[("brand mentions published", today)] == run["published"] == 3

    (day,) = listening_by_day(world.state, search, days)
    assert day["reads"] == run["reads"] == len(POSTS)
    assert chart(page, "listening_spend") == {("spend (USD)", today): round(day["spend_usd"], 3)}
    assert table(page, "listening_spend") == {("spend (USD)", today): round(day["spend_usd"], 3),
                                              ("posts read", today): day["reads"],
                                              ("authors read", today): day["users"]}
    kpis = dict((label, value) for label, value in built.kpis)
    assert kpis["CSAT (mean of 1 to 5)"] == f"{sum(scores) / 3:.1f}" and kpis["share of voice"] == "50%"


def test_a_period_without_surveys_or_searches_says_so_instead_of_drawing_empty_charts(world: Wiring) -> None:
    today = datetime.now(UTC).date()
    built = report(world, today - timedelta(days=6), today)
    page = ReportPage(built.html())

    for section in NEW:
        assert chart(page, section) == {} and page.tables[section].rows[0][0].startswith("no "), section
    assert 'class="no_data"' in built.html() and "no survey answered in this period" in built.html()


def test_the_weekly_report_holds_the_new_sections(aws: AwsStack, world: Wiring) -> None:
    answer = WeeklyReport(world).handle({}, today=datetime(2026, 3, 11, tzinfo=UTC).date())

    assert {f"reports/2026-W10/{s}.csv" for s in NEW} <= set(answer["keys"])
