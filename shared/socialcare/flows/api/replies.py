"""/api/cases/{id}/replies and /reply-options: an agent answers the customer from socialcare.

``POST /api/cases/<case_id>/replies`` checks the reply against the platform's rules
(``domain.replies.service``) and queues it on outbound.fifo: 202 with the reply's id, route and
channel. A reply the rules refuse now (a closed messaging window, a second private reply...) is
409 with the rule, the reason and every route that was considered, and nothing is queued (the
exception handler is in ``api.app``). ``GET .../reply-options`` lists those routes, open or not,
with their deadlines and costs, and a draft in the customer's tone; it changes nothing.

The acting agent is the ``X-Socialcare-Agent`` header (as for the case actions).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from socialcare.flows.api import wiring_of
from socialcare.flows.api.audit import note_targets
from socialcare.flows.api.auth import Role, needs
from socialcare.models.interaction import Channel
from socialcare.models.reply import ReplyOption, ReplyRoute, ReplyTo, TemplateRef, Visibility

router = APIGatewayHttpRouter()

InReplyTo = Annotated[str | None, Query(min_length=1, max_length=512)]


class TemplateBody(BaseModel):
    """A WhatsApp template approved in WhatsApp Manager, with its body parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en_US", min_length=2, max_length=15)
    parameters: list[str] = Field(default_factory=list, max_length=20)


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=10_000, description="required unless a template is named")
    in_reply_to: str | None = Field(default=None, min_length=1, max_length=512,
                                    description="the customer's interaction to answer (default: their latest)")
    visibility: Visibility | None = Field(default=None, description="default: as the customer wrote")
    template: TemplateBody | None = None


class ReplyQueued(BaseModel):
    interaction_id: str = Field(description="the reply's id, 'reply:<uuid hex>'")
    status: Literal["queued"] = "queued"
    route: ReplyRoute
    channel: Channel
    case_id: str = Field(description="the case that holds the reply (a merged case's survivor)")
    in_reply_to: str


class ReplyOptions(BaseModel):
    case_id: str
    in_reply_to: str
    to: ReplyTo
    options: list[ReplyOption]
    draft: dict[str, Any] = Field(description="a suggested reply in the customer's language and register")


class ReplyRefusedBody(BaseModel):
    error: str = Field(description="e.g. messaging_window_closed, private_reply_unavailable, visibility_unavailable")
    reason: str
    rule: str
    detail: str
    options: list[ReplyOption]


def _agent() -> str | None:
    header = (router.current_event.headers or {}).get("x-socialcare-agent", "").strip()
    return header[:128] or None


@router.post(
    "/api/cases/<case_id>/replies",
    status_code=202,
    openapi_extensions=needs(Role.AGENT),
    responses={
        202: {"description": "checked and queued for sending",
              "content": {"application/json": {"model": ReplyQueued}}},
        409: {"description": "the platform's rules refuse this reply now; nothing was queued",
              "content": {"application/json": {"model": ReplyRefusedBody}}},
    },
)
def post_reply(case_id: str, request: ReplyRequest) -> Response[dict[str, Any]]:
    template = TemplateRef.model_validate(request.template.model_dump()) if request.template else None
    message = wiring_of(router).reply_service.request(
        case_id, text=request.text, in_reply_to=request.in_reply_to, visibility=request.visibility,
        template=template, source="api", agent=_agent())
    note_targets(router, reply_id=message.interaction_id)
    body = ReplyQueued(interaction_id=message.interaction_id, route=message.route, channel=message.channel,
                       case_id=message.case_id, in_reply_to=message.to.interaction_id)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body.model_dump(mode="json"))


@router.get(
    "/api/cases/<case_id>/reply-options",
    openapi_extensions=needs(Role.AGENT),
    responses={200: {"description": "the routes a reply may take now, and a draft",
                     "content": {"application/json": {"model": ReplyOptions}}}},
)
def get_reply_options(case_id: str, in_reply_to: InReplyTo = None) -> dict[str, Any]:
    found = wiring_of(router).reply_service.options(case_id, in_reply_to=in_reply_to)
    return {
        "case_id": found["case_id"],
        "in_reply_to": found["in_reply_to"],
        "to": found["to"].model_dump(mode="json"),
        "options": [o.model_dump(mode="json") for o in found["options"]],
        "draft": found["draft"].model_dump(mode="json"),
    }
