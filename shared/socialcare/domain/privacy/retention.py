"""The retention sweep: customers not heard from for ``months`` are erased like any other erasure.

The candidates come from the RetentionIndex (``store.erasure_jobs``: each customer's month of
last contact, by shard), every month up to the cutoff's - no table scan; each candidate's last
contact is then compared exactly. A customer merged away is skipped (its
survivor's last contact decides for both). Each one past retention gets an erasure job
(``JobSource.RETENTION``), run by ErasureFunction like a DELETE's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from socialcare.domain.privacy.erasure import Erasure
from socialcare.errors import NotFound
from socialcare.models.privacy import ErasureJob, JobSource
from socialcare.store.erasure_jobs import ErasureJobs

_BATCH = 100


def months_back(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months (the day clamped to the month's length).
    Hand-written: the standard library has no month arithmetic and this is all we need."""
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


@dataclass
class SweepReport:
    cutoff: str
    candidates: int = 0
    jobs: list[str] = field(default_factory=list)


class RetentionSweep:
    def __init__(self, jobs: ErasureJobs, erasure: Erasure, enqueue: Callable[[Sequence[ErasureJob]], None], *,
                 months: int, limit: int = 1000) -> None:
        self.jobs = jobs
        self.erasure = erasure
        self.enqueue = enqueue
        self.months = months
        self.limit = limit

    def sweep(self, now: datetime | None = None) -> SweepReport:
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        cutoff = months_back(moment, self.months)
        report = SweepReport(cutoff=cutoff.isoformat())
        candidates = list(dict.fromkeys(self.jobs.retention_candidates(f"{cutoff:%Y-%m}")))
        report.candidates = len(candidates)
        limit = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # store.profiles' fixed-width timestamps
        due: list[ErasureJob] = []
        for start in range(0, len(candidates), _BATCH):
            found = self.jobs.last_contacts(candidates[start : start + _BATCH])
            for customer_id, (last_seen, merged_into) in sorted(found.items()):
                if merged_into or not last_seen or str(last_seen) >= limit or len(due) >= self.limit:
                    continue
                try:
                    due.append(self.erasure.request_customer(customer_id, JobSource.RETENTION))
                except NotFound:
                    continue  # erased meanwhile
        self.enqueue([job for job in due if not job.done])
        report.jobs = [job.job_id for job in due]
        return report
