"""WhatsApp Business Calling API webhooks (``field: calls``).

A call reaches us as a ``connect`` leg (an SDP offer/answer for the media session: signalling,
not a conversation) and, once over, a ``terminate`` leg with its status and duration. A finished
call the customer placed (``USER_INITIATED``) is recorded as an interaction of kind ``call``;
the connect legs and the calls the business placed are counted and skipped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.domain.channels.common import Parsed, from_epoch
from socialcare.domain.channels.whatsapp_author import Contact, author_and_identifiers, contact_for
from socialcare.models.interaction import Action, Channel, InboundEvent, Interaction, Kind, ThreadRef

SOURCE = "meta"


class WaCall(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str
    event: str
    timestamp: int
    direction: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    status: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    duration: int | None = None


def _length(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(seconds, 60)
    return f", {minutes} min {rest} s" if minutes else f", {rest} s"


def call_event(raw: dict[str, Any], account: str, contacts: list[Contact], envelope: dict[str, Any],
               parsed: Parsed) -> None:
    call = WaCall.model_validate(raw)
    if call.event != "terminate":
        parsed.ignore(f"whatsapp:calls:{call.event}"[:120])  # the connect leg: call signalling
        return
    if call.direction != "USER_INITIATED":
        parsed.ignore("whatsapp:calls:business_initiated")
        return
    author, identifiers = author_and_identifiers(call.from_, None, contact_for(call.from_, None, contacts))
    status = (call.status or "finished").lower()
    content = {"type": "call", "direction": call.direction, "status": call.status, "duration": call.duration,
               "start_time": call.start_time, "end_time": call.end_time}
    interaction = Interaction(
        id=Interaction.make_id(Channel.WHATSAPP, call.id),
        channel=Channel.WHATSAPP,
        kind=Kind.CALL,
        account_id=account,
        platform_message_id=call.id,
        author=author,
        text=f"WhatsApp call from the customer: {status}{_length(call.duration)}",
        occurred_at=from_epoch(call.start_time or call.timestamp),
        thread=ThreadRef(conversation_id=author.id),
        identifiers=identifiers,
        content=content,
        metadata={"type": "call"},
    )
    parsed.events.append(InboundEvent(action=Action.CREATE, source=SOURCE, event_id=call.id, interaction=interaction,
                                      raw={**envelope, "call": raw}))
