"""Customers as data: profiles, identity claims, the reverse identities, match suggestions.

Pure models; the profiles repository stores them and the identity service decides with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field


def identity_key(kind: str, value: str) -> str:
    return f"{kind}#{value}"



class Claim(BaseModel):
    kind: str
    value: str
    customer_id: str
    verified: bool = False

    @property
    def key(self) -> str:
        return identity_key(self.kind, self.value)


class IdentityRecord(BaseModel):
    kind: str
    value: str
    verified: bool = False
    origin_customer_id: str | None = None
    source: str | None = None
    added_at: str | None = None
    handle: str | None = None

    @property
    def key(self) -> str:
        return identity_key(self.kind, self.value)


class Profile(BaseModel):
    id: str
    name: str | None = None
    known_names: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    last_channel: str | None = None
    channel_counts: dict[str, int] = Field(default_factory=dict)
    interaction_count: int = 0
    verified_phones: set[str] = Field(default_factory=set)
    verified_emails: set[str] = Field(default_factory=set)
    handles: dict[str, str] = Field(default_factory=dict)
    open_case_id: str | None = None
    case_priority: str | None = None
    last_sentiment: str | None = None
    previous_cases: list[str] = Field(default_factory=list)
    tier: str | None = None
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    suggested_with: set[str] = Field(default_factory=set)
    # satisfaction (docs/satisfaction.md): the latest rating, every rating, the last survey asked
    # and the resolved case whose survey awaits an answer (the processor reads it with the profile)
    csat_score: int | None = None
    csat_at: str | None = None
    csat_history: list[dict[str, Any]] = Field(default_factory=list)
    last_survey_at: str | None = None
    survey_case_id: str | None = None
    created_at: str | None = None

    @property
    def names(self) -> list[str]:
        return [n for n in [self.name, *self.known_names] if n]


class Suggestion(BaseModel):
    customer_id: str
    other_customer_id: str
    reason: str
    evidence: list[dict[str, str]] = Field(default_factory=list)
    interaction_id: str | None = None
    created_at: str | None = None


class NewIdentity(BaseModel):
    kind: str
    value: str
    verified: bool
    source: str = "platform"
    handle: str | None = None
    # The claim exists but names a customer that no longer exists (erased): take it over, on
    # condition that it still names that customer.
    replaces: str | None = None

    @property
    def key(self) -> str:
        return identity_key(self.kind, self.value)


class CustomerView(BaseModel):
    """Everything about a customer except the timeline: one Query."""

    profile: Profile
    identities: list[IdentityRecord]
    merges: list[dict[str, Any]]
    suggestions: list[Suggestion]


@dataclass(frozen=True)
class RecordResult:
    created: bool
    case_id: str | None = None
    customer_id: str | None = None
    # A delete that arrived before its message leaves a tombstone: never store or route it.
    deleted: bool = False
    timeline_sk: str | None = None  # where it was stored on ``customer_id``'s timeline (when created)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None
