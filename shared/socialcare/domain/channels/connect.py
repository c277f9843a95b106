"""Amazon Connect: the contact-flow event (``Name: ContactFlowEvent``, the subset we read), the
call it records, and the flat answer the flow reads as ``$.External.<key>``.

Shape: AWS Lambda developer guide "Using Lambda with Amazon Connect" and Powertools' test event
``connectContactFlowEventAll.json``. Field names are Connect's own (PascalCase).

Connect's rules (admin guide, "Invoke AWS Lambda function"; docs/protocols.md): with STRING_MAP
validation the answer must be a flat object of string values under 32 KB, and the guide
restricts values to alphanumeric, dash and underscore characters (its own example also carries
spaces: "1234 Main Road"). ``connect_safe`` keeps exactly those characters and spaces, folds
accents to ASCII and formats times as ISO 8601 *basic* (``20261122T072500Z``), which needs no
':' or '.'.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.domain import phones
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    Identifier,
    IdentifierKind,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)


class _ConnectModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class EndpointRef(_ConnectModel):
    Address: str | None = None
    Type: str | None = None


class QueueRef(_ConnectModel):
    Name: str | None = None
    ARN: str | None = None


class ContactDataModel(_ConnectModel):
    ContactId: str
    InitialContactId: str | None = None
    Channel: str | None = None  # VOICE | CHAT | TASK
    InitiationMethod: str | None = None
    InstanceARN: str | None = None
    CustomerEndpoint: EndpointRef | None = None
    SystemEndpoint: EndpointRef | None = None
    Queue: QueueRef | None = None
    Attributes: dict[str, Any] = Field(default_factory=dict)


class DetailsModel(_ConnectModel):
    ContactData: ContactDataModel
    Parameters: dict[str, Any] = Field(default_factory=dict)


class ContactFlowEvent(_ConnectModel):
    Name: str = "ContactFlowEvent"
    Details: DetailsModel

    @property
    def caller(self) -> str | None:
        """The caller's number as Connect gives it (E.164), when the customer is a phone."""
        endpoint = self.Details.ContactData.CustomerEndpoint
        if endpoint is None or not endpoint.Address:
            return None
        if endpoint.Type not in (None, "TELEPHONE_NUMBER"):
            return None
        return endpoint.Address


SOURCE = "connect"
KEYS = (
    "customerKnown",
    "customerId",
    "customerName",
    "lastChannel",
    "lastContactAt",
    "openCaseId",
    "casePriority",
    "channelCount",
    "sentiment",
    "lookupStatus",
)
MAX_VALUE_CHARS = 256
_UNSAFE = re.compile(r"[^A-Za-z0-9 _-]+")
_SPACES = re.compile(r" {2,}")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")



def connect_safe(value: Any) -> str:
    """A value Connect accepts: ASCII letters, digits, space, '-' and '_' only, bounded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _SPACES.sub(" ", _UNSAFE.sub(" ", text)).strip()
    return text[:MAX_VALUE_CHARS]


def _as_time(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def answer(context: dict[str, Any] | None, status: str) -> dict[str, str]:
    ctx = context or {}
    known = bool(ctx.get("customer_id"))
    values: dict[str, Any] = {
        "customerKnown": known,
        "customerId": ctx.get("customer_id"),
        "customerName": ctx.get("name"),
        "lastChannel": ctx.get("last_channel"),
        "lastContactAt": _as_time(ctx.get("last_seen")),
        "openCaseId": ctx.get("open_case_id"),
        "casePriority": ctx.get("case_priority"),
        "channelCount": ctx.get("channel_count") if known else None,
        "sentiment": ctx.get("last_sentiment"),
        "lookupStatus": status,
    }
    return {key: connect_safe(values[key]) for key in KEYS}


def call_event(event: ContactFlowEvent, number: str) -> InboundEvent:
    data = event.Details.ContactData
    # a transfer creates a new ContactId for the same call: the initial id keeps it one interaction
    contact_id = data.InitialContactId or data.ContactId
    interaction = Interaction(
        id=Interaction.make_id(Channel.PHONE, contact_id),
        channel=Channel.PHONE,
        kind=Kind.CALL,
        account_id=data.SystemEndpoint.Address if data.SystemEndpoint else None,
        platform_message_id=contact_id,
        author=Author(id=number),
        occurred_at=datetime.now(UTC),
        thread=ThreadRef(conversation_id=contact_id),
        identifiers=[Identifier(kind=IdentifierKind.PHONE, value=number, verified=True)],
        metadata={
            "contact_id": data.ContactId,
            "connect_channel": data.Channel,
            "initiation_method": data.InitiationMethod,
            "queue": data.Queue.Name if data.Queue else None,
            "instance_arn": data.InstanceARN,
        },
    )
    return InboundEvent(
        action=Action.CREATE, source=SOURCE, event_id=data.ContactId, interaction=interaction, raw=event.model_dump()
    )


def caller_number(address: str, region: str) -> str | None:
    """The caller in E.164. Connect's caller id is the network's own assertion, so a well-formed
    E.164 number is kept even when the phone-number metadata does not know its range yet."""
    return phones.to_e164(address, region) or (address if _E164.match(address) else None)
