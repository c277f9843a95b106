"""Data rights' services (docs/privacy.md), composed from a ``Wiring`` (``Wiring.privacy``):
export, erasure, the tombstone hasher and the retention sweep, each built on first use.

A module of its own so that ``flows.wiring`` can build it without importing the functions'
flows; it takes the wiring as it is given (its type only for the type checker).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from socialcare.models.privacy import ErasureJob, ErasureRequest

if TYPE_CHECKING:
    from socialcare.crm.base import CrmAdapter
    from socialcare.domain.privacy.erasure import Erasure
    from socialcare.domain.privacy.export import CustomerExport
    from socialcare.domain.privacy.retention import RetentionSweep
    from socialcare.domain.privacy.tombstones import Hasher
    from socialcare.store.erasure import ErasureStore
    from socialcare.store.erasure_jobs import ErasureJobs


class PrivacyServices:
    def __init__(self, wiring: Any) -> None:  # a flows.wiring.Wiring (not imported: no cycle)
        self.w = wiring

    @cached_property
    def hasher(self) -> Hasher:
        from socialcare.domain.privacy.tombstones import Hasher

        return Hasher(self.w.secrets)

    @cached_property
    def store(self) -> ErasureStore:
        from socialcare.store.erasure import ErasureStore

        s = self.w.settings
        return ErasureStore(
            # the repositories' tables: the wiring requires each setting (ConfigurationError)
            self.w.client("dynamodb"), profiles_table=self.w.profiles.table,
            cases_table=self.w.cases_repo.table, idempotency_table=s.idempotency_table,
            media=self.w.media_store if s.media_bucket else None,
        )

    @cached_property
    def jobs(self) -> ErasureJobs:
        from socialcare.store.erasure_jobs import ErasureJobs

        s = self.w.settings
        return ErasureJobs(self.w.client("dynamodb"), state_table=self.w.state.table,
                           profiles_table=s.profiles_table, audit_table=getattr(s, "audit_table", None))

    @cached_property
    def erasure(self) -> Erasure:
        from socialcare.domain.privacy.erasure import Erasure

        return Erasure(self.store, self.jobs, self.w.cases_repo, self.w.profiles, self.hasher,
                       crm=self.crm_adapter, audit=self.audit)

    @cached_property
    def export(self) -> CustomerExport:
        from socialcare.domain.privacy.export import CustomerExport

        bodies = self.w.media_store if self.w.settings.media_bucket else None
        return CustomerExport(self.store, self.jobs, self.w.cases_repo, self.w.profiles, bodies)

    @cached_property
    def retention(self) -> RetentionSweep:
        from socialcare.domain.privacy.retention import RetentionSweep

        return RetentionSweep(self.jobs, self.erasure, self.enqueue, months=self.w.settings.retention_months)

    def crm_adapter(self) -> CrmAdapter | None:
        """The stack's CRM adapter (None without a CRM): built when an erasure reaches the CRM."""
        s = self.w.settings
        if not s.crm_configured:
            return None
        from socialcare.crm.factory import build_adapter

        return build_adapter(s.crm_provider, self.w.secrets, webhook_url=s.crm_webhook_url, tuning=self.w.crm_tuning)

    def enqueue(self, jobs: Sequence[ErasureJob]) -> None:
        self.w.publisher.erasures([ErasureRequest(job_id=job.job_id) for job in jobs if not job.done])

    def audit(self, job: ErasureJob) -> None:
        """The audit trail's record of an erasure: the opaque job id and the time, nothing else."""
        s = self.w.settings
        table = getattr(s, "audit_table", None)
        if not table:
            return
        from socialcare.store.audit import AuditLog, AuditRecord

        log = AuditLog(table, self.w.client("dynamodb"), retention_days=getattr(s, "audit_retention_days", 730))
        at = job.finished_at or datetime.now(UTC)
        log.write(AuditRecord(actor=f"erasure:{job.source.value}", role="admin", action="ERASE customer",
                              targets={"job_id": job.job_id}, status=200, at=at, request_id=f"erasure-{job.job_id}",
                              via="job"))
