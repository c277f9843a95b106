"""``socialcare crm reconcile``: find cases whose CRM copy lags, and re-enqueue them.

A case lags when ``crm_synced_version`` is missing or lower than its ``version`` - a sync that
went to the DLQ, a CRM outage longer than the queue's retention, a provider switch. Re-enqueueing
is always safe: the sync reads the current case and drops versions the CRM already has.

This is an admin scan of CasesTable (paginated, projected to four attributes), not a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from socialcare import aws
from socialcare.crm.queue import enqueue_sync
from socialcare.crm.records import CASE_PK_PREFIX, CASE_SK
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
    """Every case whose CRM version lags (or that sits in another provider's CRM)."""
    dynamodb = client or aws.dynamodb()
    names = {"#v": VERSION_ATTRIBUTE}
    values: dict[str, Any] = {":case": {"S": CASE_PK_PREFIX}, ":sk": {"S": CASE_SK}}
    lag = "attribute_not_exists(crm_synced_version) OR crm_synced_version < #v"
    if provider:
        lag += " OR crm_provider <> :p"
        values[":p"] = {"S": provider}
    kwargs: dict[str, Any] = {
        "TableName": table or get_settings().cases_table,
        "FilterExpression": f"begins_with(pk, :case) AND sk = :sk AND attribute_exists(#v) AND ({lag})",
        "ProjectionExpression": "pk, #v, crm_synced_version",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            yield LaggingCase(
                case_id=item["pk"]["S"][len(CASE_PK_PREFIX) :],
                version=int(item[VERSION_ATTRIBUTE]["N"]),
                synced_version=int(item.get("crm_synced_version", {}).get("N", "0")),
            )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
