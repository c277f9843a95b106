"""Work items: what the social team and the call centre receive, how they get it.

A ``WorkItem`` is the message schema of ``social-team.fifo`` and ``callcentre-team.fifo``
(version ``WORKITEM_SCHEMA_VERSION``; JSON Schema in ``config/workitem.schema.json``, generated
from this model and checked by the unit tests). It carries everything an agent needs without
opening another tool: the case, the returning-customer context, a timeline summary, a suggested
answer and why it was routed here.

Messages are grouped by case id (one case's items stay in order) and deduplicated by
``item_id``, a hash of what caused the item, so a redelivered event or a re-run of the SLA
monitor produces the same id and SQS drops the copy.

``deliver`` is the TeamDispatcher's job: post to the team's chat webhook (Slack or Teams),
hand to the CRM adapter, or hold the item on the case for agents who pull (``/claim``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import requests
from aws_lambda_powertools import Logger

from socialcare import aws
from socialcare.config import CONFIG_DIR, case_settings
from socialcare.errors import EnqueueFailed
from socialcare.models.case import Case, InteractionRef, Team
from socialcare.models.triage import FaqMatch
from socialcare.models.workitem import (
    CaseSnapshot,
    CustomerContext,
    RoutingInfo,
    WorkItem,
    WorkItemKind,
    item_id,
    json_schema,
)
from socialcare.secrets import secret_for_account
from socialcare.settings import get_settings
from socialcare.store.cases import MAX_PENDING_ITEMS, CasesRepository

logger = Logger(child=True)

def timeline_summary(case: Case) -> str:
    """One line an agent reads before anything else."""
    channels = ", ".join(case.channels) or "no channel"
    parts = [
        f"{case.interaction_count} interaction(s) on {channels} since {case.opened_at:%Y-%m-%d %H:%M} UTC",
        f"priority {case.priority.value}",
    ]
    if case.sentiment:
        parts.append(f"sentiment {case.sentiment}")
    if case.categories:
        parts.append("about " + ", ".join(c.replace("_", " ") for c in case.categories))
    if case.handoffs:
        last = case.handoffs[-1]
        parts.append(f"handed {last.from_team.value if last.from_team else '?'}->{last.to_team.value}")
    if case.recent:
        last_ref = case.recent[-1]
        parts.append(f'last ({last_ref.channel}): "{last_ref.summary[:120]}"')
    return "; ".join(parts)


def build(
    kind: WorkItemKind,
    team: Team,
    case: Case,
    *,
    cause: str,
    routing: RoutingInfo,
    customer: CustomerContext | None = None,
    trigger: InteractionRef | None = None,
    suggestion: FaqMatch | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> WorkItem:
    return WorkItem(
        item_id=item_id(case.id, kind, team, cause),
        kind=kind,
        team=team,
        created_at=now or datetime.now(UTC),
        case=CaseSnapshot.of(case),
        customer=customer,
        trigger=trigger,
        timeline=list(case.recent),
        timeline_summary=timeline_summary(case),
        suggested_answer=suggestion,
        routing=routing,
        note=note,
    )


SCHEMA_PATH = CONFIG_DIR / "workitem.schema.json"


def write_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- enqueue
def queue_url(team: Team) -> str:
    settings = get_settings()
    url = settings.social_team_queue_url if team is Team.SOCIAL else settings.callcentre_team_queue_url
    if not url:
        raise EnqueueFailed(f"queue of team {team.value} is not configured")
    return url


def send(items: Sequence[WorkItem]) -> None:
    """Enqueue work items on their teams' FIFO queues (raises EnqueueFailed if any is not)."""
    by_team: dict[Team, list[WorkItem]] = {}
    for item in items:
        by_team.setdefault(item.team, []).append(item)
    for team, team_items in by_team.items():
        url = queue_url(team)
        for start in range(0, len(team_items), 10):
            chunk = team_items[start : start + 10]
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": item.model_dump_json(),
                    "MessageGroupId": item.group_id,
                    "MessageDeduplicationId": item.item_id[:128],
                }
                for i, item in enumerate(chunk)
            ]
            result = aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)
            if result.get("Failed"):
                raise EnqueueFailed(
                    f"{len(result['Failed'])} work item(s) not enqueued for {team.value}",
                    failed=[f.get("Code") for f in result["Failed"]],
                )


# ---------------------------------------------------------------- deliver (TeamDispatcher)
def destination(team: Team) -> str:
    settings = case_settings()
    value = settings.social_destination if team is Team.SOCIAL else settings.callcentre_destination
    return (value or "pull").lower()


def chat_payload(item: WorkItem, fmt: str) -> dict[str, Any]:
    case = item.case
    console = case_settings().console_url.rstrip("/")
    link = f"{console}/cases/{case.id}" if console else case.id
    title = f"[{case.priority.value.upper()}] {item.kind.value.replace('_', ' ')} - {case.id}"
    lines = [
        item.timeline_summary,
        f"First response due {case.sla.first_response_due:%Y-%m-%d %H:%M} UTC; routed: {item.routing.reason}",
    ]
    if item.note:
        lines.append(f"Note: {item.note}")
    if item.suggested_answer:
        answer = item.suggested_answer
        lines.append(f"Suggested answer: {answer.answer}" + (f" ({answer.link})" if answer.link else ""))
    text = "\n".join(lines)
    if fmt == "teams":
        # Office 365 connector card, which Teams incoming webhooks (and Workflows) accept.
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "title": title,
            "text": text.replace("\n", "\n\n"),
            "potentialAction": [{"@type": "OpenUri", "name": "Open case", "targets": [{"os": "default", "uri": link}]}]
            if console
            else [],
        }
    return {
        "text": f"{title}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"case <{link}|{case.id}>" if console else case.id}],
            },
        ],
    }


def _post_chat(item: WorkItem, team: Team) -> None:
    settings = case_settings()
    fmt = settings.social_chat_format if team is Team.SOCIAL else settings.callcentre_chat_format
    # An incoming-webhook URL is a credential (anyone holding it can post): Secrets Manager, not
    # the environment. Missing -> SecretUnavailable: the record is retried, then kept in the DLQ.
    url = secret_for_account("team_chat_webhooks", team.value)
    response = requests.post(url, json=chat_payload(item, fmt.lower()), timeout=5)
    # 4xx (a revoked webhook) and 5xx both fail the record: it is retried, then kept in the DLQ.
    response.raise_for_status()


@lru_cache(maxsize=1)
def _once() -> Callable[..., Any]:
    """Chat posts are side effects SQS may repeat (partial batch retries): guard them with
    Powertools idempotency on the item id when the IdempotencyTable is configured."""
    table = get_settings().idempotency_table
    if not table:
        return lambda item, team: _post_chat(WorkItem.model_validate(item), Team(team))

    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=aws.dynamodb())
    config = IdempotencyConfig(event_key_jmespath="item_id", expires_after_seconds=7 * 24 * 3600)

    @idempotent_function(data_keyword_argument="item", persistence_store=persistence, config=config)
    def post(*, item: dict[str, Any], team: str) -> dict[str, str]:
        _post_chat(WorkItem.model_validate(item), Team(team))
        return {"posted": item["item_id"]}

    return post


def hold_for_pull(item: WorkItem, repo: CasesRepository | None = None) -> Case:
    """Keep the item on its case: the claim endpoint hands it to the agent who takes the case."""
    repo = repo or CasesRepository.default()
    summary = {
        "item_id": item.item_id,
        "kind": item.kind.value,
        "team": item.team.value,
        "created_at": item.created_at.isoformat(),
        "reason": item.routing.reason,
        "note": item.note,
        "suggested_answer": item.suggested_answer.model_dump() if item.suggested_answer else None,
    }

    def change(case: Case) -> bool:
        if any(p.get("item_id") == item.item_id for p in case.pending_items):
            return False  # a redelivery: already held
        # One pending item per kind and team: a second public post on the same case is still one
        # "respond" job for the social team, now about the newest message.
        kept = [p for p in case.pending_items if (p.get("kind"), p.get("team")) != (summary["kind"], summary["team"])]
        case.pending_items = [*kept, summary][-MAX_PENDING_ITEMS:]
        return True

    return repo.update(item.case.id, change)


def deliver(item: WorkItem, team: Team) -> str:
    """Deliver one item to ``team``'s configured destination; returns the destination used."""
    if item.team is not team:
        # A message on the wrong queue is a producer bug; delivering it anyway beats losing it.
        logger.warning("work item on another team's queue", extra={"item_team": item.team, "queue_team": team})
    where = destination(team)
    if where == "chat":
        _once()(item=item.model_dump(mode="json"), team=team.value)
        return "chat"
    if where == "crm":
        # The CRM adapters sync whole cases (CrmSyncFunction), so the CRM already shows the case
        # with its team and priority; routing one item to a CRM queue or owner is not built yet.
        # Until it is, the item is held for pull rather than dropped.
        logger.warning("team destination 'crm' holds items for pull", extra={"item_id": item.item_id})
    hold_for_pull(item)
    return "pull"


def deliver_record(body: str) -> str:
    """TeamDispatcher's record handler: parse one queue message and deliver it to the team
    named by SOCIALCARE_TEAM (the queue's team). A body that is not a valid work item raises
    (retried, then kept in the DLQ with its body for inspection)."""
    item = WorkItem.model_validate_json(body)
    # Without SOCIALCARE_TEAM the item's own team decides (never another team's webhook).
    team = Team(case_settings().team) if case_settings().team else item.team
    where = deliver(item, team)
    logger.info("work item delivered", extra={"item_id": item.item_id, "case_id": item.case.id, "to": where})
    return where
