"""The API's audit trail: every change an agent makes is written down, and an admin can read it.

``recorder(log)`` is a middleware: after a POST/PUT/PATCH/DELETE that succeeded (2xx) it writes
one ``AuditRecord`` - the authenticated actor and role (``flows.api.auth``), the route key, the
path's ids and any ids the route noted with ``note_targets`` (a merge's two customers, the case
a claim took), the status, the time and the request id. Never the body: it carries customer data.

The record is written after the action, and a failed write does not fail the request: the change
is already made (a case resolved, a reply queued), so answering 5xx would make the client retry
an action that happened - a second reply to the customer - while writing first would record
actions that then fail validation or conflict. A failed write is logged as an error and counted
(``AuditWriteFailures``), which the template's alarms watch.

``GET /api/audit?actor=&since=&limit=&cursor=`` (admin only) lists records newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from socialcare.flows.api.auth import Principal, Role, needs
from socialcare.observability import metrics
from socialcare.store import cursor as cursors
from socialcare.store.audit import MAX_ID, AuditLog, AuditRecord

logger = Logger(child=True)
router = APIGatewayHttpRouter()

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_TARGETS = 10
_CONTEXT_KEY = "audit_targets"


class AuditPage(BaseModel):
    records: list[AuditRecord]
    cursor: str | None = Field(description="the next page (opaque), or null on the last")


def note_targets(router_or_app: Any, **ids: str | None) -> None:
    """Ids a route acted on that are not in its path (recorded only if the request succeeds)."""
    noted = {**router_or_app.context.get(_CONTEXT_KEY, {}), **{k: v for k, v in ids.items() if v}}
    router_or_app.append_context(**{_CONTEXT_KEY: noted})


def _targets(app: APIGatewayHttpResolver) -> dict[str, str]:
    # The path's ids only: after validation Powertools also puts the parsed body in the route args.
    route = app.context.get("_route")
    names = re.findall(r"<(\w+)>", route.path) if route is not None else []
    args = app.context.get("_route_args") or {}
    found = {**{n: args[n] for n in names if args.get(n)}, **(app.context.get(_CONTEXT_KEY) or {})}
    return {str(k): str(v)[:MAX_ID] for k, v in list(found.items())[:_MAX_TARGETS]}


def record_of(app: APIGatewayHttpResolver, principal: Principal, status: int) -> AuditRecord:
    event = app.current_event
    route = app.context.get("_route")
    action = f"{event.http_method.upper()} {route.openapi_path if route is not None else event.path}"
    acting_as = (event.headers or {}).get("x-socialcare-agent", "").strip()[:128] or None
    return AuditRecord(
        actor=principal.actor, role=principal.role.value if principal.role else "", action=action,
        targets=_targets(app), status=status, at=datetime.now(UTC),
        request_id=event.request_context.request_id or "unknown", via=principal.via,
        subject=principal.subject, acting_as=acting_as,
    )


def recorder(log: Callable[[], AuditLog]) -> Any:
    """The middleware writing one record per successful change (to ``log()``)."""

    def record(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        response = next_middleware(app)
        principal = app.context.get("principal")
        status = int(getattr(response, "status_code", 200))
        if app.current_event.http_method.upper() in STATE_CHANGING and 200 <= status < 300 and principal:
            entry = record_of(app, principal, status)
            try:
                log().write(entry)
            except Exception:  # the change is made: see the module docstring
                logger.exception("audit record not written", extra={"action": entry.action,
                                                                    "request_id": entry.request_id})
                metrics.add_metric(name="AuditWriteFailures", unit=MetricUnit.Count, value=1)
        return response

    return record


@router.get(
    "/api/audit",
    openapi_extensions=needs(Role.ADMIN),
    responses={200: {"description": "audit records, newest first",
                     "content": {"application/json": {"model": AuditPage}}}},
)
def list_audit(
    actor: Annotated[str | None, Query(min_length=1, max_length=MAX_ID)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; without a zone, UTC")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)] = None,
) -> dict[str, Any]:
    """Who changed what, newest first; ``actor`` keeps one person's, ``since`` drops older ones."""
    log: AuditLog = router.context["audit_log"]()  # api.app's factory: the client on first use
    records, next_cursor = log.page(actor=actor, since=since, limit=limit, cursor_token=cursor)
    return {"records": [r.model_dump(mode="json") for r in records], "cursor": next_cursor}
