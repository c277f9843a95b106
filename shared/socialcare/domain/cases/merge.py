"""Merging the cases of two customers who turned out to be one (``domain.merge`` calls this).

The older open case survives and takes the other's channels, categories, highest priority,
tightest SLA and timeline; the other becomes ``merged`` with ``merged_into``; the survivor lists
it in ``merged_from``. Both customers' pointers lead to the survivor, so a late event for the
merged-away customer still lands in the right case. Safe to call again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.cases.common import ATTEMPTS, RECENT_INTERACTIONS, current_case, utc
from socialcare.errors import BadRequest
from socialcare.models.case import Case, CaseStatus, Priority
from socialcare.store.cases import CasesRepository, CustomerRace, VersionConflict

logger = Logger(child=True)


@dataclass
class MergeOutcome:
    survivor: Case | None
    merged: Case | None


class CaseMerge:
    def __init__(self, repo: CasesRepository) -> None:
        self.repo = repo

    def merge_customers(self, source_customer_id: str, target_customer_id: str, *,
                        now: datetime | None = None) -> MergeOutcome:
        """Two customers became one (``source`` merged into ``target``): merge their open cases.

        The older case survives and takes the other's channels, categories, highest priority,
        tightest SLA and timeline; the other becomes ``merged`` with ``merged_into``; the survivor
        lists it in ``merged_from``. Both customers' pointers lead to the survivor, so a late
        event for the source customer still lands in the right case. Safe to call again.
        """
        if source_customer_id == target_customer_id:
            raise BadRequest("cannot merge a customer into itself")
        now = utc(now)
        repo = self.repo
        for _ in range(ATTEMPTS):
            src_ptr, src = current_case(repo, source_customer_id)
            dst_ptr, dst = current_case(repo, target_customer_id)
            src = src if src is not None and src.is_open else None
            dst = dst if dst is not None and dst.is_open else None
            try:
                if src is None and dst is None:
                    return MergeOutcome(survivor=None, merged=None)
                if src is None or dst is None or src.id == dst.id:
                    only = src or dst
                    assert only is not None
                    return _rehome(repo, only, source_customer_id, target_customer_id, src_ptr, dst_ptr, now)
                survivor, loser = sorted((src, dst), key=lambda c: (c.opened_at, c.id))
                return _merge_pair(repo, survivor, loser, source_customer_id, target_customer_id, src_ptr, dst_ptr, now)
            except (VersionConflict, CustomerRace):
                continue
        raise VersionConflict("cases kept changing during the merge; try again")


def _rehome(
    repo: CasesRepository, case: Case, source: str, target: str, src_ptr: str | None, dst_ptr: str | None, now: datetime
) -> MergeOutcome:
    expected = case.version
    changed = case.customer_id != target
    if changed:
        if case.customer_id and case.customer_id not in case.former_customer_ids:
            case.former_customer_ids.append(case.customer_id)
        case.customer_id = target
        case.version = expected + 1
        case.updated_at = now
    ops: list[Any] = [repo.put_case_op(case, expected)] if changed else []
    if dst_ptr != case.id:
        ops.append(repo.pointer_op(target, case.id, dst_ptr))
    if src_ptr != case.id:
        ops.append(repo.pointer_op(source, case.id, src_ptr))
    if ops:
        repo.transact(ops)
    return MergeOutcome(survivor=case, merged=None)


def _merge_pair(
    repo: CasesRepository,
    survivor: Case,
    loser: Case,
    source: str,
    target: str,
    src_ptr: str | None,
    dst_ptr: str | None,
    now: datetime,
) -> MergeOutcome:
    s_expected, l_expected = survivor.version, loser.version
    for customer in (survivor.customer_id, loser.customer_id):
        if customer and customer != target and customer not in survivor.former_customer_ids:
            survivor.former_customer_ids.append(customer)
    survivor.customer_id = target
    for channel in loser.channels:
        if channel not in survivor.channels:
            survivor.channels.append(channel)
    for category in loser.categories:
        if category not in survivor.categories:
            survivor.categories.append(category)
    survivor.priority = Priority.highest(survivor.priority, loser.priority)
    survivor.public = survivor.public or loser.public
    survivor.began_public = survivor.began_public or loser.began_public
    survivor.sla = survivor.sla.model_copy(
        update={
            "first_response_due": min(survivor.sla.first_response_due, loser.sla.first_response_due),
            "resolution_due": min(survivor.sla.resolution_due, loser.sla.resolution_due),
        }
    )
    if survivor.first_response_at is None and loser.first_response_at is not None:
        survivor.first_response_at = loser.first_response_at
    survivor.interaction_count += loser.interaction_count
    survivor.recent = sorted([*survivor.recent, *loser.recent], key=lambda r: r.occurred_at)[-RECENT_INTERACTIONS:]
    survivor.merged_from = [*survivor.merged_from, loser.id]
    survivor.version, survivor.updated_at = s_expected + 1, now
    loser.status = CaseStatus.MERGED
    loser.merged_into = survivor.id
    loser.lease_owner = loser.lease_until = None
    loser.version, loser.updated_at = l_expected + 1, now
    ops: list[Any] = [repo.put_case_op(survivor, s_expected), repo.put_case_op(loser, l_expected)]
    if dst_ptr != survivor.id:
        ops.append(repo.pointer_op(target, survivor.id, dst_ptr))
    if src_ptr != survivor.id:
        ops.append(repo.pointer_op(source, survivor.id, src_ptr))
    repo.transact(ops)
    # The timeline items are copied after the transaction (it is bounded to 100 items); the
    # copy is idempotent, and the loser keeps its own, so nothing is lost if this is retried.
    timeline = repo.get_with_interactions(loser.id)
    if timeline is not None and timeline.interactions:
        repo.put_timeline(survivor.id, timeline.interactions)
    logger.info("cases merged", extra={"survivor": survivor.id, "merged": loser.id})
    return MergeOutcome(survivor=survivor, merged=loser)
