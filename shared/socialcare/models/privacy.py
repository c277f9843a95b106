"""Data rights as data: an erasure job (what is erased, how far it got) and its queue message.

Pure models. ``domain.privacy`` runs the jobs; ``store.erasure_jobs`` keeps them in StateTable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def _utcnow() -> datetime:
    return datetime.now(UTC)


class JobStatus(StrEnum):
    PENDING = "pending"  # recorded, not finished (a crash leaves it here; the next attempt resumes)
    DONE = "done"


class JobSource(StrEnum):
    API = "api"  # DELETE /api/customers/{id}
    CLI = "cli"  # socialcare customer erase
    META = "meta"  # Meta's data-deletion callback
    RETENTION = "retention"  # the retention sweep


# The steps of an erasure, in the order they run; each is idempotent and recorded once done, so a
# job that stopped anywhere resumes at the first step not recorded.
STEPS = ("freeze", "tombstones", "media", "cases", "idempotency", "profiles", "crm")


class ErasureJob(BaseModel):
    """One erasure. ``customer_id`` / ``platform_user_id`` (what to erase) are dropped when it is
    done: what remains is the opaque job id, where it came from, the times and the counts."""

    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(description="opaque: a salted hash, never derived readably from the person")
    status: JobStatus = JobStatus.PENDING
    source: JobSource
    customer_id: str | None = None
    platform_user_id: str | None = Field(default=None, description="Meta's app-scoped user id (callback)")
    steps_done: list[str] = Field(default_factory=list)
    # noted by the first step, for the steps that run after the profile is gone: every customer id
    # the person was stored under (merged aliases too) and their cases
    customer_ids: list[str] = Field(default_factory=list)
    case_ids: list[str] = Field(default_factory=list)
    customers_erased: int = 0
    requested_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)
    finished_at: datetime | None = None
    attempts: int = 0

    @property
    def done(self) -> bool:
        return self.status is JobStatus.DONE

    def public(self) -> dict[str, object]:
        """What anyone holding the job id (Meta's confirmation code) may see: no personal data."""
        return {
            "confirmation_code": self.job_id, "status": self.status.value, "source": self.source.value,
            "requested_at": self.requested_at.isoformat(), "finished_at": self.finished_at.isoformat()
            if self.finished_at else None,
        }


class ErasureRequest(BaseModel):
    """Body of an ErasureQueue message: run (or resume) the job. A trigger, not a snapshot: the
    job record in StateTable says what to erase and which steps are done."""

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = 1
    job_id: str = Field(min_length=8, max_length=128)
    requested_at: datetime = Field(default_factory=_utcnow)

    # the publisher's QueueMessage protocol (a standard queue ignores both)
    @property
    def group_id(self) -> str:
        return self.job_id

    @property
    def dedupe_key(self) -> str:
        return f"erasure|{self.job_id}"

    def queue_body(self) -> str:
        return self.model_dump_json()
