"""Replies as data: where a reply may go (routes and the options the policy check reports), the
outbound.fifo message the ResponderFunction consumes, what a send returns, and the reply states
a case keeps (docs/replies.md).

Pure models (no I/O). ``domain.replies.policy`` decides the routes, ``domain.replies.service``
checks and queues a reply, ``flows.responder`` sends it through ``platforms.senders``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from socialcare.errors import Conflict
from socialcare.models.interaction import Channel, Kind


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class ReplyRoute(StrEnum):
    """How a reply reaches the customer; each platform allows some of them, under its rules."""

    PUBLIC_REPLY = "public_reply"  # threaded under the post or comment: X reply, Facebook/Instagram comment reply
    MESSAGE = "message"  # free-form in the conversation, inside the window (Messenger/IG/WhatsApp 24 h; X DM)
    HUMAN_AGENT_TAG = "human_agent_tag"  # Messenger/Instagram MESSAGE_TAG HUMAN_AGENT: 7 days, human-written only
    TEMPLATE = "template"  # WhatsApp approved template message (outside the 24 h window; billed per category)
    PRIVATE_REPLY = "private_reply"  # Facebook/Instagram: one private reply to a comment, within 7 days
    DIRECT_MESSAGE = "direct_message"  # X: a DM to the author of a public post


class TemplateRef(BaseModel):
    """A WhatsApp message template (approved in WhatsApp Manager) and its body parameters."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en_US", min_length=2, max_length=15)
    parameters: list[str] = Field(default_factory=list, max_length=20)
    category: Literal["marketing", "utility", "authentication"] | None = None


class ReplyTo(BaseModel):
    """The customer's interaction a reply answers, as read from their timeline."""

    interaction_id: str
    channel: Channel
    kind: Kind
    public: bool
    platform_message_id: str
    author_id: str = Field(description="the customer's platform id (X user id, PSID, IGSID, wa_id)")
    author_handle: str | None = None
    account_id: str | None = Field(default=None, description="the brand account it reached: X user id, "
                                   "page id, Instagram account id, WhatsApp phone-number id")
    conversation_id: str | None = None
    post_id: str | None = None
    parent_id: str | None = None
    occurred_at: datetime
    last_inbound_at: datetime = Field(description="the customer's latest message on this channel: opens the window")
    private_replied: bool = Field(default=False, description="a private reply to this comment was already sent")


class ReplyOption(BaseModel):
    """One route the policy check considered, open or not, and why."""

    route: ReplyRoute
    visibility: Visibility
    available: bool
    until: datetime | None = Field(default=None, description="when the route closes (None: no deadline)")
    rule: str = Field(description="the platform rule that decides it, e.g. 'messenger_24h_window'")
    detail: str
    estimated_cost_usd: float | None = Field(default=None, description="the platform's own charge, estimated")
    requires: str | None = Field(default=None, description="'template': a template must be named or configured; "
                                 "'human': only for a reply a person wrote")


class ReplyRefused(Conflict):
    """A reply the platform's rules forbid now: 409, nothing queued or sent."""

    def __init__(self, error: str, rule: str, detail: str, options: list[ReplyOption]) -> None:
        super().__init__(detail)
        self.code = error
        self.rule = rule
        self.detail = detail
        self.options = options

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "reason": self.detail, "rule": self.rule, "detail": self.detail,
                "options": [o.model_dump(mode="json") for o in self.options]}


class OutboundMessage(BaseModel):
    """Body of an outbound.fifo message: one checked reply to send. Group id = case id;
    deduplication id and the send's idempotency key = ``interaction_id``."""

    schema_version: Literal[2] = 2
    interaction_id: str = Field(description="the reply's own interaction id, 'reply:<uuid hex>'")
    case_id: str
    customer_id: str | None = None
    channel: Channel
    route: ReplyRoute
    to: ReplyTo
    text: str | None = Field(default=None, max_length=10_000)
    template: TemplateRef | None = None
    source: str = Field(description="'api' | 'crm:<provider>' | 'system'")
    agent: str | None = None
    automated: bool = Field(default=False, description="sent by the system on its own: carries the disclosure")
    crm_record_id: str | None = None
    crm_reply_id: str | None = None
    requested_at: datetime = Field(default_factory=_utcnow)

    @property
    def group_id(self) -> str:
        return self.case_id[:128]

    @property
    def dedupe_key(self) -> str:
        return self.interaction_id[:128]

    def queue_body(self) -> str:
        return self.model_dump_json()


class SendResult(BaseModel):
    """What a platform answered to a send."""

    platform_message_id: str
    sent_at: datetime = Field(default_factory=_utcnow)
    recipient_id: str | None = None


class ReplyStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    REFUSED = "refused"


class ReplyState(BaseModel):
    """A reply as the case keeps it (the newest few), so agents and the CRM see what became of it."""

    interaction_id: str
    status: ReplyStatus
    route: ReplyRoute | None = None
    channel: str
    source: str
    agent: str | None = None
    in_reply_to: str | None = Field(default=None, description="the customer's interaction it answers")
    reason: str | None = Field(default=None, description="why it was refused or failed")
    platform_message_id: str | None = None
    crm_reply_id: str | None = None
    at: datetime


# ----------------------------------------------------------------------------- send errors
class SendError(Exception):
    """A platform refused or failed a send. ``reason`` is safe to log and show (no token)."""

    def __init__(self, reason: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class RetryableSendError(SendError):
    """429 or 5xx or a timeout: try again, not before ``retry_after_s`` when the platform said."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.retry_after_s = retry_after_s


class PermanentSendError(SendError):
    """The platform will never accept this send (bad recipient, window closed, policy): DLQ it."""


class CredentialsError(PermanentSendError):
    """The account's token is missing, expired or revoked: an operator must act (alert)."""
