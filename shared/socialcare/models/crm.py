"""Versioned message and payload schemas of the CRM integration.

Two wire formats live here, each versioned on its own:

* ``CrmSyncRequest`` - the body of a ``crm-sync.fifo`` message (a trigger, not a snapshot: the
  sync function always reads the case's *current* view, so a retry sends the latest state);
* ``CaseUpserted`` - the ``case.upserted`` event the generic ``webhook`` adapter POSTs, published
  as a JSON Schema in ``docs/schemas/case-upserted.v1.json`` (``python -m socialcare.models.crm``
  regenerates it; a unit test fails when the published file drifts from this model).

An agent's reply written in the CRM travels on ``outbound.fifo`` as ``models.reply.OutboundMessage``,
like any other reply; what became of it comes back to the CRM as the case's ``replies``.

``CaseView`` is the read model the sync needs from the cases service: the case, its customer, its
interactions and its replies, already projected (no DynamoDB item shapes leak into the adapters).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Statuses the cases service uses (issue 5). ``merged`` cases are closed in every CRM and carry a
# pointer to the survivor.
CaseStatus = Literal["new", "open", "pending", "escalated", "resolved", "merged"]
Priority = Literal["low", "normal", "high", "urgent"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def delivery_id(case_id: str, version: int) -> str:
    """Unique per (case, version) and identical on every retry: receivers dedupe on it.

    Deterministic on purpose - a redelivered SQS message, a reconcile run and a retry after a
    lost response must all produce the same id for the same case version.
    """
    digest = hashlib.sha256(f"{case_id}\x1f{version}".encode()).hexdigest()[:16]
    return f"{case_id}.v{version}.{digest}"


# --------------------------------------------------------------------------- read model


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CustomerIdentity(_Frozen):
    kind: str = Field(description="x | facebook | messenger | instagram | whatsapp | phone | email | ref ...")
    value: str
    verified: bool = True


class CustomerView(_Frozen):
    id: str
    name: str | None = None
    tier: str | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list, description="E.164")
    identities: list[CustomerIdentity] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list, description="every channel the customer has used")
    first_seen_at: datetime | None = None
    last_sentiment: str | None = None
    previous_case_ids: list[str] = Field(default_factory=list)


class InteractionView(_Frozen):
    id: str = Field(description="stable interaction id '<channel>:<platform message id>'")
    channel: str
    kind: str
    direction: Literal["inbound", "outbound"] = "inbound"
    public: bool = False
    author_id: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    text: str | None = None
    occurred_at: datetime
    thread: dict[str, str | None] = Field(default_factory=dict)


class ReplyView(_Frozen):
    """A reply to the customer and what became of it, so the CRM sees what was sent, refused or
    failed, and why (the sent text itself is one of the case's outbound ``interactions``)."""

    interaction_id: str = Field(description="the reply's id, 'reply:<uuid hex>'")
    status: Literal["queued", "sent", "delivered", "read", "failed", "refused"]
    route: str | None = Field(default=None, description="public_reply | message | human_agent_tag | template | "
                              "private_reply | direct_message")
    channel: str
    source: str = Field(description="'api' (an agent in socialcare) | 'crm:<provider>' | 'system'")
    agent: str | None = None
    in_reply_to: str | None = Field(default=None, description="the customer's interaction it answers")
    reason: str | None = Field(default=None, description="why it was refused or failed: the platform's rule or error")
    platform_message_id: str | None = None
    crm_reply_id: str | None = Field(default=None, description="the CRM comment it came from, if it did")
    at: datetime = Field(description="when it reached this status")


class CaseSnapshot(_Frozen):
    id: str = Field(description="SC-<year>-<sequence>")
    version: int = Field(ge=1, description="increases on every change of the case")
    status: CaseStatus
    is_open: bool
    priority: Priority = "normal"
    team: str | None = Field(default=None, description="social | callcentre")
    channels: list[str] = Field(default_factory=list)
    subject: str | None = None
    category: str | None = None
    sentiment: str | None = None
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    merged_into: str | None = Field(default=None, description="survivor case id when status is merged")


class CaseView(_Frozen):
    case: CaseSnapshot
    customer: CustomerView
    interactions: list[InteractionView] = Field(default_factory=list)
    replies: list[ReplyView] = Field(default_factory=list)


# --------------------------------------------------------------------------- CRM state of a case


@dataclass(frozen=True)
class CrmState:
    record_id: str | None = None
    provider: str | None = None
    synced_version: int = 0
    case_version: int | None = None  # the case item's version when read, if it has one

    def record_for(self, provider: str) -> str | None:
        """The stored id, only if it belongs to the CRM we talk to now (providers can change)."""
        return self.record_id if self.provider in (None, provider) else None


# --------------------------------------------------------------------------- crm-sync.fifo


class CrmSyncRequest(BaseModel):
    """Body of a crm-sync.fifo message. Group id = case id; dedupe key = case id and version."""

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = 1
    case_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1, description="the case version that asked for this sync")
    reason: str | None = Field(default=None, description="why: case saved | reconcile | retry")
    requested_at: datetime = Field(default_factory=_utcnow)
    # A trigger put off on the CRM retry queue (docs/crm.md, "Retries"): ``attempt`` counts the
    # failures that were not rate limits (the budget), ``deferrals`` every put-off (what makes each
    # hop's dedupe id unique), ``not_before`` when the relay may hand it back to crm-sync.fifo.
    attempt: int = Field(default=0, ge=0)
    deferrals: int = Field(default=0, ge=0)
    first_deferred_at: datetime | None = None
    not_before: datetime | None = None

    @property
    def group_id(self) -> str:
        return self.case_id[:128]

    @property
    def dedupe_key(self) -> str:
        if self.deferrals:
            return f"crm-sync|{self.case_id}|{self.version}|retry|{self.attempt}|{self.deferrals}"
        return f"crm-sync|{self.case_id}|{self.version}"

    def due_in(self, now: datetime | None = None) -> int:
        """Whole seconds until a put-off trigger is due (0 when it is, or was never put off)."""
        if self.not_before is None:
            return 0
        return max(0, math.ceil((self.not_before - (now or datetime.now(UTC))).total_seconds()))

    def queue_body(self) -> str:
        # A first trigger keeps its v1 shape: the retry fields appear only once it was put off.
        return self.model_dump_json(exclude={k for k in _RETRY_FIELDS if not getattr(self, k)})


_RETRY_FIELDS = ("attempt", "deferrals", "first_deferred_at", "not_before")


# --------------------------------------------------------------------------- case.upserted


class CaseUpsertedCase(CaseSnapshot):
    """The case as the CRM sees it. A merged case arrives closed (is_open false) with
    ``merged_into`` naming the survivor."""


class CaseUpserted(BaseModel):
    """``case.upserted``: the full, current view of one case version.

    Receivers must treat ``delivery_id`` as the idempotency key (it repeats on retries) and may
    ignore a delivery whose ``case.version`` is lower than one already applied.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "$id": "https://socialcare.dev/schemas/case-upserted.v1.json",
            "title": "socialcare case.upserted (v1)",
        },
    )

    event: Literal["case.upserted"] = "case.upserted"
    schema_version: Literal[1] = 1
    delivery_id: str = Field(description="unique per case version; identical on every retry")
    origin: Literal["socialcare"] = Field(
        default="socialcare", description="stamp that lets us recognise echoes of our own updates"
    )
    sent_at: datetime = Field(default_factory=_utcnow)
    case: CaseUpsertedCase
    customer: CustomerView
    interactions: list[InteractionView] = Field(default_factory=list)
    replies: list[ReplyView] = Field(default_factory=list, description="the newest replies to the customer, "
                                     "oldest first, with their status and, when refused or failed, why")

    @classmethod
    def from_view(cls, view: CaseView) -> CaseUpserted:
        case = CaseUpsertedCase.model_validate(view.case.model_dump())
        if case.status == "merged" and case.is_open:
            # A merged case is closed everywhere, whatever the source said.
            case = case.model_copy(update={"is_open": False})
        return cls(
            delivery_id=delivery_id(case.id, case.version),
            case=case,
            customer=view.customer,
            interactions=sorted(view.interactions, key=lambda i: (i.occurred_at, i.id)),
            replies=list(view.replies),
        )


# --------------------------------------------------------------------------- JSON Schema


def case_upserted_json_schema() -> dict[str, Any]:
    schema = CaseUpserted.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render_case_upserted_json_schema() -> str:
    return json.dumps(case_upserted_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write the published schema: ``python -m socialcare.models.crm docs/schemas/case-upserted.v1.json``."""
    target = Path(argv[1]) if len(argv) > 1 else Path("docs/schemas/case-upserted.v1.json")
    target.write_text(render_case_upserted_json_schema(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
