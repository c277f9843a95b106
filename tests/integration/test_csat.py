"""CSAT on moto (template.yaml's tables and queues, the ``aws`` fixture): a customer's message goes
through the real ProcessorFunction flow into a case, an agent resolves it through the real API
resolver, the survey lands on outbound.fifo (or the case says why not), and the customer's answer
goes back through the processor. What a user notices: what is queued, what the case and the
profile show, whether the case stays closed, and the follow-up item a complaint raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialcare.config.loader import CONFIG_DIR
from socialcare.config.settings import Settings
from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.case import Case, CaseStatus
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind, ThreadRef
from socialcare.models.reply import OutboundMessage

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
WA_NUMBER = "wa-number-1"
ANNA_WA = "393331112222"
BRAND_X = "783214"


def ago(**delta: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


def whatsapp(pmid: str, text: str, at: datetime, author: str = ANNA_WA) -> Interaction:
    return Interaction(id=Interaction.make_id(Channel.WHATSAPP, pmid), channel=Channel.WHATSAPP,
                       kind=Kind.DIRECT_MESSAGE, account_id=WA_NUMBER, platform_message_id=pmid,
                       author=Author(id=author, name="Anna Bianchi"), text=text, occurred_at=at)


def process(wiring: Wiring, interaction: Interaction) -> dict[str, Any]:
    event = InboundEvent(action=Action.CREATE, source="test", event_id=interaction.platform_message_id,
                         interaction=interaction)
    return Processor(wiring).process(event)


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Any:
    app = build(wiring)

    def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "authorization": f"Bearer {aws.api_token}"},
            "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "127.0.0.1", "userAgent": "t"},
                               "requestId": "r", "routeKey": "$default", "stage": "$default", "domainName": "localhost",
                               "accountId": "123456789012", "apiId": "api", "time": "x", "timeEpoch": 0},
            "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
        }
        response = app.resolve(event, None)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    return request


def outbound(aws: AwsStack) -> list[OutboundMessage]:
    return [OutboundMessage.model_validate(m) for m in aws.drain(aws.queue_urls["OutboundQueue"])]


def case_of(wiring: Wiring, case_id: str) -> Case:
    case = wiring.cases_repo.get(case_id)
    assert case is not None
    return case


def resolved_whatsapp_case(wiring: Wiring, api: Any, written: datetime, author: str = ANNA_WA) -> str:
    done = process(wiring, whatsapp(f"wamid.{author}.{written.timestamp():.0f}", "Ciao, aspetto ancora il rimborso",
                                    written, author))
    assert done["status"] == "stored", done
    status, body = api("POST", f"/api/cases/{done['case_id']}/resolve", {"note": "rimborso fatto"})
    assert status == 200, body
    return str(done["case_id"])


def test_resolving_inside_the_window_queues_one_survey_in_her_language_once(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=2))
    status, _ = api("POST", f"/api/cases/{case_id}/resolve", {})  # a retried resolve asks nothing more
    assert status == 200

    (survey,) = outbound(aws)
    assert survey.case_id == case_id and survey.automated and survey.source == "system"
    assert survey.channel is Channel.WHATSAPP and survey.route.value == "message"
    assert survey.to.author_id == ANNA_WA and survey.to.account_id == WA_NUMBER
    assert survey.text is not None and "da 1" in survey.text and "5" in survey.text  # Italian, 1 to 5
    case = case_of(wiring, case_id)
    assert case.survey is not None and case.survey.status.value == "queued" and case.survey.language == "it"
    assert [(r.interaction_id, r.status.value) for r in case.replies] == [(survey.interaction_id, "queued")]
    profile = wiring.profiles.get_profile(str(case.customer_id))
    assert profile is not None and profile.survey_case_id == case_id and profile.last_survey_at


def test_outside_the_whatsapp_window_no_survey_is_sent_and_the_case_says_why(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=25))

    assert outbound(aws) == []
    survey = case_of(wiring, case_id).survey
    assert survey is not None and survey.status.value == "skipped"
    assert survey.reason is not None and survey.reason.startswith("messaging_window_closed")
    assert "24-hour" in survey.reason


def test_outside_the_whatsapp_window_the_surveys_own_template_is_sent(
        aws: AwsStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rules = yaml.safe_load((CONFIG_DIR / "satisfaction.yaml").read_text(encoding="utf-8"))
    rules["whatsapp_template"] = {"name": "csat_survey", "language": "it", "category": "utility", "parameters": []}
    (tmp_path / "satisfaction.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))  # replies.yaml (no agents' template) as shipped
    wiring = Wiring(Settings())
    done = process(wiring, whatsapp("wamid.old", "Ciao, aspetto ancora il rimborso", ago(hours=30)))

    wiring.case_actions.resolve(str(done["case_id"]))

    (survey,) = outbound(aws)
    assert survey.route.value == "template" and survey.template is not None
    assert (survey.template.name, survey.template.language) == ("csat_survey", "it")
    state = case_of(wiring, str(done["case_id"])).survey
    assert state is not None and state.status.value == "queued" and state.route == "template"


@pytest.mark.parametrize("answer", ["5", "⭐⭐⭐⭐⭐"])
def test_an_answer_of_five_is_stored_and_the_case_stays_closed(
        aws: AwsStack, wiring: Wiring, api: Any, answer: str) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=2))
    outbound(aws)

    done = process(wiring, whatsapp("wamid.answer", answer, ago(seconds=0)))

    assert done["status"] == "rated" and done["case_id"] == case_id and done["score"] == 5
    case = case_of(wiring, case_id)
    assert case.status is CaseStatus.RESOLVED and case.reopen_count == 0
    assert case.csat is not None and (case.csat.score, case.csat.comment, case.csat.channel) == (5, None, "whatsapp")
    assert case.survey is not None and case.survey.status.value == "answered"
    assert "whatsapp:wamid.answer" in [r.id for r in case.recent]
    profile = wiring.profiles.get_profile(str(case.customer_id))
    assert profile is not None and profile.csat_score == 5 and profile.survey_case_id is None
    assert [h["case_id"] for h in profile.csat_history] == [case_id]
    assert aws.drain(aws.queue_urls["SocialTeamQueue"]) == []  # no work for anyone
    # a later message is an ordinary one again: it reopens the case, as before surveys existed
    again = process(wiring, whatsapp("wamid.later", "Il rimborso non è ancora arrivato!", ago(seconds=0)))
    assert again["status"] == "stored" and case_of(wiring, case_id).status is not CaseStatus.RESOLVED


def test_a_low_score_with_a_complaint_raises_a_follow_up_for_the_team_and_keeps_the_comment(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=1))
    queues = {"social": aws.queue_urls["SocialTeamQueue"], "callcentre": aws.queue_urls["CallcentreTeamQueue"]}
    for url in queues.values():
        aws.drain(url)

    done = process(wiring, whatsapp("wamid.low", "1, il rimborso è arrivato a metà", ago(seconds=0)))

    assert done["status"] == "rated" and done["score"] == 1
    case = case_of(wiring, case_id)
    assert case.status is CaseStatus.RESOLVED
    assert case.csat is not None and case.csat.comment == "il rimborso è arrivato a metà"
    (item,) = aws.drain(queues[case.team.value])  # a refund by WhatsApp: the call centre owns it
    assert item["case"]["id"] == case_id and item["routing"]["rule"] == "csat-low-score"
    assert item["trigger"]["id"] == "whatsapp:wamid.low"


def test_a_question_beside_a_high_score_raises_a_follow_up_so_it_is_answered(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=1))
    queues = {"social": aws.queue_urls["SocialTeamQueue"], "callcentre": aws.queue_urls["CallcentreTeamQueue"]}
    for url in queues.values():
        aws.drain(url)

    done = process(wiring, whatsapp("wamid.ask", "5, ma la fattura quando arriva?", ago(seconds=0)))

    assert done["status"] == "rated" and done["score"] == 5
    case = case_of(wiring, case_id)
    assert case.status is CaseStatus.RESOLVED and case.csat is not None
    (item,) = aws.drain(queues[case.team.value])
    assert item["routing"]["rule"] == "csat-question" and item["trigger"]["id"] == "whatsapp:wamid.ask"


@pytest.mark.parametrize("text", ["Scusate, potete mandarmi la fattura?", "Buongiorno, il pacco non è arrivato",
                                  "2 ordini non sono ancora arrivati"])
def test_a_message_that_is_no_rating_is_threaded_as_usual(aws: AwsStack, wiring: Wiring, api: Any, text: str) -> None:
    case_id = resolved_whatsapp_case(wiring, api, ago(hours=1))

    done = process(wiring, whatsapp("wamid.q", text, ago(seconds=0)))

    assert done["status"] == "stored" and done["case_id"] == case_id
    case = case_of(wiring, case_id)
    assert case.status is CaseStatus.OPEN and case.csat is None  # reopened within ReopenWindowHours


def test_a_customer_asked_recently_is_not_asked_again_for_her_next_case(
        aws: AwsStack, wiring: Wiring, api: Any) -> None:
    first = resolved_whatsapp_case(wiring, api, ago(hours=3))
    assert process(wiring, whatsapp("wamid.rating", "4", ago(seconds=0)))["status"] == "rated"
    outbound(aws)
    # her next case, resolved days later: still within the 30-day quiet period

    def ten_days_ago(case: Case) -> bool:
        case.resolved_at = ago(days=10)
        return True

    wiring.cases_repo.update(first, ten_days_ago)
    second = resolved_whatsapp_case(wiring, api, ago(minutes=30))

    assert second != first
    assert outbound(aws) == []
    survey = case_of(wiring, second).survey
    assert survey is not None and survey.status.value == "skipped" and str(survey.reason).startswith("quiet_period")


def test_an_x_mention_is_surveyed_by_dm(aws: AwsStack, wiring: Wiring, api: Any) -> None:
    mention = Interaction(id="x:1850000000000000001", channel=Channel.X, kind=Kind.PUBLIC_POST, account_id=BRAND_X,
                          platform_message_id="1850000000000000001", author=Author(id="2244001", handle="anna"),
                          text="@brand the parcel never arrived", occurred_at=ago(hours=30),
                          thread=ThreadRef(conversation_id="1850000000000000001"))
    case_id = process(wiring, mention)["case_id"]
    api("POST", f"/api/cases/{case_id}/resolve", {})

    (survey,) = outbound(aws)
    assert survey.route.value == "direct_message" and survey.to.author_id == "2244001"
    assert survey.text is not None and survey.text.startswith("How did we do?")
