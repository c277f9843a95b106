"""Work items: the message schema of social-team.fifo and callcentre-team.fifo (version
``WORKITEM_SCHEMA_VERSION``; JSON Schema in ``config/workitem.schema.json``, generated from
``WorkItem`` and checked by the unit tests).

A work item carries everything an agent needs without opening another tool: the case, the
returning-customer context, a timeline summary, a suggested answer and why it was routed here.
``item_id`` is a hash of what caused the item, so a redelivered event or a re-run of the SLA
monitor produces the same id and SQS drops the copy.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from socialcare.models.case import Case, Handoff, InteractionRef, Priority, Sla, Team
from socialcare.models.triage import FaqMatch

WORKITEM_SCHEMA_VERSION: Literal[1] = 1


class WorkItemKind(StrEnum):
    RESPOND = "respond"  # answer the customer
    ENGAGE = "engage"  # praise: thank and amplify
    CALL_FOLLOWUP = "call_followup"  # a phone call joined the case
    CALLBACK = "callback"  # the customer asked to be called
    ESCALATION = "escalation"  # SLA breached
    HANDOFF = "handoff"  # an agent moved the case to this team
    CLOSE_LOOP = "close_loop"  # call centre resolved a case that began in public: say so in public
    INCIDENT = "incident"  # a flood of mentions of one post, grouped
    REPLY_FAILED = "reply_failed"  # a queued reply could not be sent: the agent decides what next


class CaseSnapshot(BaseModel):
    id: str
    kind: str
    status: str
    is_open: bool
    priority: Priority
    team: Team
    channels: list[str]
    public: bool
    began_public: bool
    sla: Sla
    first_response_at: datetime | None = None
    opened_at: datetime
    customer_id: str | None = None
    categories: list[str] = Field(default_factory=list)
    sentiment: str | None = None
    priority_reasons: list[str] = Field(default_factory=list)
    handoffs: list[Handoff] = Field(default_factory=list)
    interaction_count: int = 0
    incident_post_id: str | None = None
    version: int

    @classmethod
    def of(cls, case: Case) -> CaseSnapshot:
        return cls.model_validate(case.model_dump(exclude={"interactions", "recent", "pending_items"}))


class CustomerContext(BaseModel):
    """Returning-customer context, as the recognition step provides it (unknown keys ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    customer_id: str | None = None
    name: str | None = Field(default=None, validation_alias=AliasChoices("name", "display_name"))
    tier: str | None = None
    returning: bool = Field(default=False, validation_alias=AliasChoices("returning", "is_returning"))
    first_seen: datetime | None = Field(default=None, validation_alias=AliasChoices("first_seen", "first_seen_at"))
    channels: list[str] = Field(default_factory=list, validation_alias=AliasChoices("channels", "channels_used"))
    previous_cases: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("previous_cases", "previous_case_ids")
    )
    last_sentiment: str | None = None
    open_case_id: str | None = None
    interaction_count: int | None = None


class RoutingInfo(BaseModel):
    rule: str
    version: int
    reason: str


class WorkItem(BaseModel):
    """One unit of work for a team (schema version 1)."""

    model_config = ConfigDict(json_schema_extra={"$id": "https://socialcare/schemas/workitem.v1.json"})

    schema_version: Literal[1] = WORKITEM_SCHEMA_VERSION
    item_id: str = Field(description="stable id: the SQS dedupe id; the same cause gives the same id")
    kind: WorkItemKind
    team: Team
    created_at: datetime
    case: CaseSnapshot
    customer: CustomerContext | None = None
    trigger: InteractionRef | None = Field(default=None, description="the interaction that caused the item")
    timeline: list[InteractionRef] = Field(default_factory=list, description="latest interactions, oldest first")
    timeline_summary: str
    suggested_answer: FaqMatch | None = None
    routing: RoutingInfo
    note: str | None = Field(default=None, description="agent note (hand-off) or escalation detail")
    held: bool = Field(default=False, description="already held on its case for agents who pull (written "
                       "with the case): a pull destination has nothing left to do")

    @property
    def group_id(self) -> str:
        return self.case.id

    @property
    def dedupe_key(self) -> str:
        return self.item_id

    def queue_body(self) -> str:
        return self.model_dump_json()


def item_id(case_id: str, kind: WorkItemKind | str, team: Team | str, cause: str) -> str:
    return hashlib.sha256(f"{case_id}|{WorkItemKind(kind).value}|{Team(team).value}|{cause}".encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    schema = WorkItem.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
