"""Delivering work items to a team (TeamDispatcher): post to the team's chat webhook (Slack or
Teams), or hold the item on the case for agents who pull (``POST /api/teams/{team}/claim``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.workitems import hold
from socialcare.models.case import Case, Team
from socialcare.models.workitem import WorkItem
from socialcare.ports import OnceGuard
from socialcare.secrets import SecretStore
from socialcare.store.cases import CasesRepository

logger = Logger(child=True)

def chat_payload(item: WorkItem, fmt: str, console_url: str = "") -> dict[str, Any]:
    case = item.case
    console = console_url.rstrip("/")
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


class TeamDelivery:
    """Where one team's items go (``destination``: pull | chat | crm) and in which chat format."""

    def __init__(self, repo: CasesRepository, secrets: SecretStore, guard: OnceGuard, *,
                 destinations: dict[Team, str], chat_formats: dict[Team, str], console_url: str = "") -> None:
        self.repo = repo
        self.secrets = secrets
        self.guard = guard
        self.destinations = {team: (value or "pull").lower() for team, value in destinations.items()}
        self.chat_formats = {team: (value or "slack").lower() for team, value in chat_formats.items()}
        self.console_url = console_url

    def deliver(self, item: WorkItem, team: Team) -> str:
        """Deliver one item to ``team``'s configured destination; returns the destination used."""
        if item.team is not team:
            # A message on the wrong queue is a producer bug; delivering it anyway beats losing it.
            logger.warning("work item on another team's queue", extra={"item_team": item.team, "queue_team": team})
        where = self.destinations.get(team, "pull")
        if where == "chat":
            # SQS may repeat a record (partial batch retries): one post per item, ever.
            self.guard.once(f"chat:{item.item_id}", lambda: self._post_chat(item, team))
            return "chat"
        if where == "crm":
            # The CRM adapters sync whole cases (CrmSyncFunction), so the CRM already shows the case
            # with its team and priority; routing one item to a CRM queue or owner is not built yet.
            # Until it is, the item is held for pull rather than dropped.
            logger.warning("team destination 'crm' holds items for pull", extra={"item_id": item.item_id})
        if not item.held:  # the processor holds its items in the case's own write
            self.hold_for_pull(item)
        return "pull"

    def _post_chat(self, item: WorkItem, team: Team) -> str:
        # An incoming-webhook URL is a credential (anyone holding it can post): Secrets Manager, not
        # the environment. Missing -> SecretUnavailable: the record is retried, then kept in the DLQ.
        url = self.secrets.for_account("team_chat_webhooks", team.value)
        payload = chat_payload(item, self.chat_formats.get(team, "slack"), self.console_url)
        import requests  # on use: a dispatcher delivering to "pull" (the default) never needs it

        response = requests.post(url, json=payload, timeout=5)
        # 4xx (a revoked webhook) and 5xx both fail the record: it is retried, then kept in the DLQ.
        response.raise_for_status()
        return item.item_id

    def hold_for_pull(self, item: WorkItem) -> Case:
        """Keep the item on its case: the claim endpoint hands it to the agent who takes the case.
        The processor usually held it already, in the case's own write: then this only reads."""
        return self.repo.update(item.case.id, lambda case: hold(case, item))
