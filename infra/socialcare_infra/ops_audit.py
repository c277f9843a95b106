"""``socialcare audit [--actor] [--since]``: the API's audit trail, read from the stack's AuditTable.

Read through the store (``socialcare.store.audit.AuditLog``) with the admin's own AWS credentials
rather than ``GET /api/audit``: in AWS that route wants a JWT from the user pool, which a shell
seldom holds, while an admin who may read the stack's tables is allowed to read its trail. The
records are the same (the route pages the same store), newest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from socialcare_infra.ops import Target

PAGE = 100  # records per Query


def records(target: Target, *, actor: str | None, since: datetime | None, limit: int) -> list[Any]:
    """Up to ``limit`` audit records, newest first, of ``actor`` (everyone's when None) since ``since``."""
    from socialcare.store.audit import AuditLog

    log = AuditLog(target.resource("AuditTable").physical_id, target.client("dynamodb"))
    found: list[Any] = []
    token = None
    while len(found) < limit:
        page, token = log.page(actor=actor, since=since, limit=min(PAGE, limit - len(found)), cursor_token=token)
        found += page
        if token is None:
            break
    return found


def line(record: Any) -> str:
    """One record as one line: when, who (role, and on whose behalf), what, on which ids, status."""
    targets = " ".join(f"{k}={v}" for k, v in sorted(record.targets.items())) or "-"
    who = f"{record.actor} ({record.role}{', as ' + record.acting_as if record.acting_as else ''})"
    return (f"{record.at.isoformat(timespec='seconds')}  {who}  {record.action}  {targets}  {record.status}"
            f"  {record.request_id}")
