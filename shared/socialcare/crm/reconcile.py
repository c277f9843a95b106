"""``socialcare crm reconcile``: find cases whose CRM copy lags, and re-enqueue them.

A case lags when ``crm_synced_version`` is missing or lower than its ``version`` - a sync that
went to the DLQ, a CRM outage longer than the queue's retention, a provider switch. Re-enqueueing
is always safe: the sync reads the current case and drops versions the CRM already has.

This is an admin scan of CasesTable (paginated, projected to five attributes, joined in memory
per case: a few dozen bytes per case), not a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from socialcare import aws
from socialcare.crm.queue import enqueue_sync
from socialcare.crm.records import CASE_PK_PREFIX, CASE_SK, CRM_SK
from socialcare.settings import get_settings

VERSION_ATTRIBUTE = "version"


@dataclass(frozen=True)
class LaggingCase:
    case_id: str
    version: int
    synced_version: int


@dataclass
class ReconcileReport:
    lagging: list[LaggingCase] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def lagging_cases(
    *, table: str | None = None, client: Any | None = None, provider: str | None = None
) -> Iterator[LaggingCase]:
    """Every case whose CRM version lags (or whose record sits in another provider's CRM).

    Scans the case items and their CRM items (``records``) together and joins them per case."""
    dynamodb = client or aws.dynamodb()
    kwargs: dict[str, Any] = {
        "TableName": table or get_settings().cases_table,
        "FilterExpression": "begins_with(pk, :case) AND sk IN (:sk, :crm)",
        "ProjectionExpression": "pk, sk, #v, crm_synced_version, crm_provider",
        "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
        "ExpressionAttributeValues": {":case": {"S": CASE_PK_PREFIX}, ":sk": {"S": CASE_SK}, ":crm": {"S": CRM_SK}},
    }
    versions: dict[str, int] = {}
    synced: dict[str, tuple[int, str | None]] = {}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            case_id = item["pk"]["S"][len(CASE_PK_PREFIX) :]
            if item["sk"]["S"] == CASE_SK and VERSION_ATTRIBUTE in item:
                versions[case_id] = int(item[VERSION_ATTRIBUTE]["N"])
            elif item["sk"]["S"] == CRM_SK:
                synced[case_id] = (
                    int(item.get("crm_synced_version", {}).get("N", "0")),
                    item.get("crm_provider", {}).get("S"),
                )
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for case_id in sorted(versions):
        synced_version, synced_provider = synced.get(case_id, (0, None))
        moved = provider is not None and synced_provider not in (None, provider)
        if synced_version < versions[case_id] or moved:
            yield LaggingCase(case_id, versions[case_id], synced_version)


def reconcile(
    *,
    dry_run: bool = False,
    limit: int | None = None,
    table: str | None = None,
    client: Any | None = None,
    enqueue: Callable[..., str] = enqueue_sync,
) -> ReconcileReport:
    """List lagging cases and (unless ``dry_run``) enqueue a sync of each at its current version."""
    report = ReconcileReport()
    provider = get_settings().crm_provider
    for case in lagging_cases(table=table, client=client, provider=provider):
        if limit is not None and len(report.lagging) >= limit:
            break
        report.lagging.append(case)
        if dry_run:
            continue
        try:
            enqueue(case.case_id, case.version, reason="reconcile")
        except Exception as exc:  # one bad case must not stop the sweep; the report shows it
            report.failed[case.case_id] = str(exc)
        else:
            report.enqueued.append(case.case_id)
    return report
