"""Cases as data: the teams, priorities, SLA due times, statuses and the case itself.

Pure models (no I/O): the cases repository stores them, the cases services change them, the
API and the CRM read model project them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from socialcare.models.reply import ReplyState
from socialcare.models.satisfaction import Csat, SurveyState
from socialcare.models.teams import Team  # defined there (see why), imported from here too


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def raised(self) -> Priority:
        """One step up (urgent stays urgent): the SLA monitor's escalation bump."""
        order = list(Priority)
        return order[min(self.rank + 1, len(order) - 1)]

    @staticmethod
    def highest(*values: Priority) -> Priority:
        return max(values, key=lambda p: p.rank)


_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Sla(BaseModel):
    policy: str  # "<visibility>/<priority>", e.g. "public/high"
    calendar: str  # the team whose calendar the clocks run on
    started_at: datetime
    first_response_due: datetime
    resolution_due: datetime


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    MERGED = "merged"


# Statuses whose cases wait in a team's queue for an agent (claimable, watched for SLA breaches).
QUEUED_STATUSES = (CaseStatus.ESCALATED, CaseStatus.NEW, CaseStatus.OPEN)


class Handoff(BaseModel):
    # JSON says "from"/"to" (like the hand-off request body); Python keeps from_team/to_team
    # because "from" is a keyword.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    from_team: Team | None = Field(alias="from")
    to_team: Team = Field(alias="to")
    at: datetime
    by: str
    reason: str
    note: str | None = None


class InteractionRef(BaseModel):
    id: str
    channel: str
    kind: str
    direction: str
    occurred_at: datetime
    author: str | None = None
    summary: str = ""
    # what kind of structured content it carries (location, contacts, order...): the whole
    # content is on the customer's timeline (the case item stays small)
    content_type: str | None = None
    sentiment: str | None = None
    public: bool = False


class Case(BaseModel):
    id: str
    kind: Literal["customer", "incident"] = "customer"
    status: CaseStatus = CaseStatus.NEW
    priority: Priority = Priority.NORMAL
    team: Team = Team.SOCIAL
    channels: list[str] = Field(default_factory=list)
    public: bool = Field(default=False, description="any inbound interaction was public")
    began_public: bool = False
    sla: Sla
    first_response_at: datetime | None = None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    reopened_at: datetime | None = None
    reopen_count: int = 0
    customer_id: str | None = None
    former_customer_ids: list[str] = Field(default_factory=list)
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    handoffs: list[Handoff] = Field(default_factory=list)
    interactions: list[InteractionRef] = Field(default_factory=list, description="full timeline (reads only)")
    recent: list[InteractionRef] = Field(default_factory=list)
    interaction_count: int = 0
    categories: list[str] = Field(default_factory=list)
    sentiment: str | None = None
    sentiment_score: float | None = None
    priority_reasons: list[str] = Field(default_factory=list)
    routing: dict[str, Any] | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    crm_record_id: str | None = None
    sla_breaches: list[str] = Field(default_factory=list)
    pending_items: list[dict[str, Any]] = Field(default_factory=list)
    incident_post_id: str | None = None
    replies: list[ReplyState] = Field(default_factory=list, description="the newest replies and what became of them")
    survey: SurveyState | None = Field(default=None, description="the satisfaction survey asked at resolution")
    csat: Csat | None = Field(default=None, description="the customer's rating of the resolved case")
    # set when the customer's personal data was erased (docs/privacy.md): the case keeps its
    # counts, times and status for reporting, and is no longer sent to the CRM
    erased_at: datetime | None = None
    version: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_open(self) -> bool:
        return self.status not in (CaseStatus.RESOLVED, CaseStatus.MERGED)

    @property
    def running_due(self) -> datetime:
        """The SLA due time whose clock runs now."""
        return self.sla.first_response_due if self.first_response_at is None else self.sla.resolution_due

    @property
    def running_clock(self) -> str:
        return "first_response" if self.first_response_at is None else "resolution"

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now
