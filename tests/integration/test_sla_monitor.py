"""SlaMonitorFunction on moto: breached open cases are found through QueueIndex and escalated
once per breach (priority up, escalation item on the owning team's queue, SNS alert)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from socialcare.flows.wiring import Wiring
from socialcare.models.case import CaseStatus, Team
from socialcare.models.interaction import Author, Channel, Interaction, Kind
from socialcare_infra.handlers import load_app

AwsStack = Any  # tests/integration/conftest.py's fixture type
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 11:00 in Rome: both teams open


def post(n: int, text: str, *, kind: Kind = Kind.PUBLIC_POST, channel: Channel = Channel.X) -> Interaction:
    return Interaction(
        id=f"{channel.value}:p{n}",
        channel=channel,
        kind=kind,
        platform_message_id=f"p{n}",
        author=Author(id=f"a{n}", handle=f"@a{n}", followers=100),
        text=text,
        occurred_at=NOW,
    )


def test_breach_escalates_once(aws: AwsStack, wiring: Wiring) -> None:
    inbox = aws.alerts_inbox()
    threading, monitor = wiring.threading, wiring.sla_monitor
    late = threading.on_interaction(post(1, "il pacco non è arrivato, pessimo servizio"), "c1", {}, now=NOW).case
    answered = threading.on_interaction(post(2, "non funziona nulla"), "c2", {}, now=NOW).case
    praise = threading.on_interaction(post(3, "grazie mille, fantastici!"), "c3", {}, now=NOW).case
    assert late is not None and answered is not None and praise is not None
    wiring.case_actions.record_first_response(answered.id, NOW + timedelta(minutes=20))
    team_queue = aws.queue_urls["SocialTeamQueue"]
    sqs = boto3.client("sqs", region_name="eu-west-1")
    sqs.purge_queue(QueueUrl=team_queue)  # the items threading published

    assert monitor.escalate_breaches(now=late.sla.first_response_due - timedelta(minutes=1)) == []
    after_due = late.sla.first_response_due + timedelta(minutes=1)
    done = monitor.escalate_breaches(now=after_due)
    assert [e.case_id for e in done] == [late.id], "only the unanswered case is breached (praise never pages)"
    escalated = wiring.case_queries.get_case(late.id)
    assert escalated.status is CaseStatus.ESCALATED
    assert escalated.priority.rank == late.priority.rank + 1
    assert escalated.sla_breaches == ["first_response#0"]

    items = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=team_queue, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert [(i["kind"], i["case"]["id"], i["team"]) for i in items] == [("escalation", late.id, "social")]
    assert items[0]["case"]["priority"] == escalated.priority.value
    alerts = aws.drain(inbox)
    assert [(a["type"], a["case_id"], a["clock"]) for a in alerts] == [("sla_breach", late.id, "first_response")]

    # the next runs find the same breach and do nothing
    assert monitor.escalate_breaches(now=after_due + timedelta(minutes=1)) == []
    assert aws.drain(inbox) == []
    assert wiring.case_queries.get_case(late.id).priority is escalated.priority


def test_resolution_breach_is_a_second_escalation_through_the_handler(aws: AwsStack, wiring: Wiring) -> None:
    inbox = aws.alerts_inbox()
    opened_at = datetime.now(UTC) - timedelta(days=6)
    case = wiring.threading.on_interaction(post(4, "ordine sbagliato, non funziona"), "c4", {}, now=opened_at).case
    assert case is not None
    wiring.case_actions.record_first_response(case.id, opened_at + timedelta(minutes=5))  # first response in time
    app = load_app("sla_monitor")

    result = app.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, _Ctx())
    assert result == {"escalated": [case.id]}
    assert wiring.case_queries.get_case(case.id).sla_breaches == ["resolution#0"]
    assert [a["clock"] for a in aws.drain(inbox)] == ["resolution"]
    assert app.handler({}, _Ctx()) == {"escalated": []}


def test_callcentre_breach_goes_to_the_callcentre_queue(aws: AwsStack, wiring: Wiring) -> None:
    call = post(5, "", kind=Kind.CALL, channel=Channel.PHONE)
    case = wiring.threading.on_interaction(call, "c5", {}, now=NOW).case
    assert case is not None and case.team is Team.CALLCENTRE
    wiring.sla_monitor.escalate_breaches(now=case.sla.first_response_due + timedelta(seconds=1))
    sqs = boto3.client("sqs", region_name="eu-west-1")
    got = sqs.receive_message(QueueUrl=aws.queue_urls["CallcentreTeamQueue"], MaxNumberOfMessages=10)["Messages"]
    kinds = [json.loads(m["Body"])["kind"] for m in got]
    assert "escalation" in kinds


class _Ctx:
    function_name = "SlaMonitorFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:SlaMonitorFunction"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000
