"""/api/cases and /api/teams: the case routes of the agent API (issue 5 §1, §5).

Each route calls one case service (``domain.cases``); errors are domain exceptions mapped to JSON
by ``flows.http`` (unknown case 404, invalid input 400/422, state conflicts 409). No GET changes
state. A state change that produces work items (hand-off, close-the-loop) publishes them before
answering (the service does); every saved version reaches the CRM through the cases stream.

The acting agent is the ``X-Socialcare-Agent`` header, else the body's ``agent``, else "api".
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from socialcare.errors import BadRequest
from socialcare.flows.api import wiring_of
from socialcare.flows.api.audit import note_targets
from socialcare.flows.api.auth import Role, needs
from socialcare.models.case import Case, CaseStatus, Team
from socialcare.store import cursor as cursors

logger = Logger(child=True)
router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str | None = Field(default=None, min_length=1, max_length=128)


class NoteBody(_Body):
    note: str | None = Field(default=None, max_length=4000)


class HandoffRequest(_Body):
    to: Team
    note: str | None = Field(default=None, max_length=4000)


def _body(model: type[_Body]) -> Any:
    """The optional JSON body, validated (pydantic ValidationError, RecursionError -> 400 via flows.http)."""
    raw = router.current_event.body
    if not raw:
        return model()
    try:
        data = json.loads(router.current_event.decoded_body or "")
    except ValueError as exc:
        raise BadRequest("body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return model.model_validate(data)


def _agent(body: _Body | None = None) -> str:
    header = (router.current_event.headers or {}).get("x-socialcare-agent", "").strip()
    return header[:128] or (body.agent if body and body.agent else "api")


def case_json(case: Case) -> dict[str, Any]:
    data = case.model_dump(mode="json")
    data["sla"]["due"] = case.running_due.isoformat()
    data["sla"]["clock"] = case.running_clock
    return data


@router.get("/api/cases/<case_id>", openapi_extensions=needs(Role.AGENT))
def get_case(case_id: str) -> dict[str, Any]:
    return case_json(wiring_of(router).case_queries.get_case(case_id, with_interactions=True))


@router.get("/api/cases", openapi_extensions=needs(Role.AGENT))
def list_cases(
    team: Annotated[Team, Query()],
    status: Annotated[CaseStatus, Query()] = CaseStatus.NEW,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A team's cases in one status, most pressing SLA due time first (QueueIndex)."""
    found, next_cursor = wiring_of(router).case_queries.list_cases(team, status, limit=limit, cursor=cursor)
    return {"cases": [case_json(c) for c in found], "cursor": next_cursor, "team": team.value, "status": status.value}


@router.post("/api/cases/<case_id>/resolve", openapi_extensions=needs(Role.AGENT))
def resolve_case(case_id: str) -> dict[str, Any]:
    body = _body(NoteBody)
    outcome = wiring_of(router).case_actions.resolve(case_id, by=_agent(body), note=body.note)
    assert outcome.case is not None
    return case_json(outcome.case)


@router.post("/api/cases/<case_id>/reopen", openapi_extensions=needs(Role.SUPERVISOR))
def reopen_case(case_id: str) -> dict[str, Any]:
    body = _body(_Body)
    outcome = wiring_of(router).case_actions.reopen(case_id, by=_agent(body))
    assert outcome.case is not None
    return case_json(outcome.case)


@router.post("/api/cases/<case_id>/handoff", openapi_extensions=needs(Role.AGENT))
def handoff_case(case_id: str, request: HandoffRequest) -> dict[str, Any]:
    outcome = wiring_of(router).case_actions.handoff(case_id, request.to, note=request.note, by=_agent(request))
    assert outcome.case is not None
    return case_json(outcome.case)


@router.post("/api/teams/<team>/claim", openapi_extensions=needs(Role.AGENT))
def claim_case(team: str) -> dict[str, Any]:
    try:
        which = Team(team)
    except ValueError as exc:
        raise BadRequest(f"unknown team {team!r}", teams=[t.value for t in Team]) from exc
    body = _body(_Body)
    case = wiring_of(router).case_actions.claim(which, _agent(body))
    if case is None:
        return {"case": None, "items": []}
    note_targets(router, case_id=case.id)
    return {"case": case_json(case), "items": case.pending_items}


@router.post("/api/cases/<case_id>/release", openapi_extensions=needs(Role.AGENT))
def release_case(case_id: str) -> dict[str, Any]:
    body = _body(_Body)
    agent = _agent(body) if body.agent or _agent() != "api" else None
    return case_json(wiring_of(router).case_actions.release(case_id, agent))
