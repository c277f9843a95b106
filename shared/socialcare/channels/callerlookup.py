"""Amazon Connect caller lookup (CallerLookupFunction, invoked synchronously by a contact flow).

Answers a flat map string -> string the flow reads as ``$.External.<key>``, and records the call
as a ``phone`` interaction through the normal pipeline (enqueue to inbound.fifo), so an unknown
caller becomes a customer keyed by the number and a known one gets the call on their timeline.

Connect's rules (admin guide, "Invoke AWS Lambda function"): the synchronous answer must come
within the block's timeout (at most 8 s); with STRING_MAP validation it must be a flat object of
string values under 32 KB, and the guide restricts values to alphanumeric, dash and underscore
characters (its own example also carries spaces: "1234 Main Road"). ``connect_safe`` keeps
exactly those characters, folds accents to ASCII and formats times as ISO 8601 *basic*
(``20261122T072500Z``), which needs no ':' or '.'.

The read side is two DynamoDB reads (identity claim, profile) via ``socialcare.identity``.
"""

from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from socialcare import phones
from socialcare.channels.common import count
from socialcare.channels.connect import ContactFlowEvent
from socialcare.errors import EnqueueFailed
from socialcare.ingest import enqueue
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
from socialcare.observability import logger

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
# Connect waits 8 s at most; leave room for the enqueue and the answer's trip back.
LOOKUP_DEADLINE_SECONDS = 4.0
_UNSAFE = re.compile(r"[^A-Za-z0-9 _-]+")
_SPACES = re.compile(r" {2,}")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="caller-lookup")


class CustomerDirectory(Protocol):
    """The identity engineer's read API (``socialcare.identity``)."""

    def find_customer(self, kind: str, value: str) -> str | None: ...

    def context_for(self, customer_id: str) -> dict[str, Any]: ...


class _IdentityDirectory:
    def find_customer(self, kind: str, value: str) -> str | None:
        from socialcare import identity

        return identity.find_customer(kind, value)

    def context_for(self, customer_id: str) -> dict[str, Any]:
        from socialcare import identity

        return identity.context_for(customer_id)


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


def caller_number(address: str) -> str | None:
    """The caller in E.164. Connect's caller id is the network's own assertion, so a well-formed
    E.164 number is kept even when the phone-number metadata does not know its range yet."""
    return phones.to_e164(address) or (address if _E164.match(address) else None)


def _lookup(directory: CustomerDirectory, number: str) -> dict[str, Any] | None:
    customer_id = directory.find_customer(IdentifierKind.PHONE.value, number)
    if not customer_id:
        return None
    return directory.context_for(customer_id) or {"customer_id": customer_id}


def lookup_caller(
    raw_event: Any, directory: CustomerDirectory | None = None, deadline: float = LOOKUP_DEADLINE_SECONDS
) -> dict[str, str]:
    """The flow's answer for one contact; never raises (a failed lookup still lets the call in)."""
    try:
        event = ContactFlowEvent.model_validate(raw_event)
    except ValidationError:
        logger.warning("not a Connect contact-flow event")
        count("CallerLookups", 1, status="invalid_event")
        return answer(None, "invalid_event")
    logger.set_correlation_id(event.Details.ContactData.ContactId)
    caller = event.caller
    number = caller_number(caller) if caller else None
    if number is None:
        count("CallerLookups", 1, status="anonymous")
        return answer(None, "anonymous")
    directory = directory or _IdentityDirectory()
    status = "ok"
    context: dict[str, Any] | None = None
    try:
        context = _pool.submit(_lookup, directory, number).result(timeout=deadline)
    except FutureTimeout:
        logger.error("caller lookup exceeded its deadline", extra={"deadline_s": deadline})
        status = "lookup_timeout"
    except Exception:  # noqa: BLE001 - the caller must still reach an agent
        logger.exception("caller lookup failed")
        status = "lookup_failed"
    try:
        enqueue([call_event(event, number)])
    except EnqueueFailed:
        # the answer still goes back: dropping the live call would be worse than a missing record
        logger.exception("call not recorded")
        count("CallRecordFailures", 1)
    count("CallerLookups", 1, status=status if status != "ok" else ("known" if context else "unknown"))
    return answer(context, status)
