"""CallerLookupFunction: Amazon Connect's contact flow asks who is calling (synchronously).

Answers a flat map string -> string the flow reads as ``$.External.<key>``
(``domain.channels.connect``), and records the call as a ``phone`` interaction through the
normal pipeline (published on inbound.fifo), so an unknown caller becomes a customer keyed by the
number and a known one gets the call on their timeline. The lookup is two DynamoDB reads
(identity claim, profile) under a deadline inside Connect's 8 s.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from pydantic import ValidationError

from socialcare.config.settings import CallerLookupSettings, load
from socialcare.domain.channels.common import repair_document
from socialcare.domain.channels.connect import ContactFlowEvent, answer, call_event, caller_number
from socialcare.errors import BadRequest
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import IdentifierKind
from socialcare.observability import count, logger
from socialcare.ports import Publisher

# Connect waits 8 s at most; leave room for the enqueue and the answer's trip back.
LOOKUP_DEADLINE_SECONDS = 4.0


class CustomerDirectory(Protocol):
    """Who holds a phone number, and their context (``domain.identity.service.IdentityService``)."""

    def find_customer(self, kind: str, value: str) -> str | None: ...

    def context_for(self, customer_id: str) -> dict[str, Any]: ...


class CallerLookup:
    def __init__(self, directory: CustomerDirectory, publisher: Publisher, region: str,
                 deadline: float = LOOKUP_DEADLINE_SECONDS) -> None:
        self.directory = directory
        self.publisher = publisher
        self.region = region
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="caller-lookup")

    def _lookup(self, number: str) -> dict[str, Any] | None:
        customer_id = self.directory.find_customer(IdentifierKind.PHONE.value, number)
        if not customer_id:
            return None
        return self.directory.context_for(customer_id) or {"customer_id": customer_id}

    def handle(self, raw_event: Any, context: Any = None) -> dict[str, str]:
        """The flow's answer for one contact; never raises (a failed lookup still lets the call in)."""
        try:
            event = ContactFlowEvent.model_validate(repair_document(raw_event))
        except (ValidationError, BadRequest, TypeError):
            logger.warning("not a Connect contact-flow event")
            count("CallerLookups", 1, status="invalid_event")
            return answer(None, "invalid_event")
        logger.set_correlation_id(event.Details.ContactData.ContactId)
        caller = event.caller
        number = caller_number(caller, self.region) if caller else None
        if number is None:
            count("CallerLookups", 1, status="anonymous")
            return answer(None, "anonymous")
        status = "ok"
        found: dict[str, Any] | None = None
        try:
            found = self._pool.submit(self._lookup, number).result(timeout=self.deadline)
        except FutureTimeout:
            logger.error("caller lookup exceeded its deadline", extra={"deadline_s": self.deadline})
            status = "lookup_timeout"
        except Exception:  # noqa: BLE001 - the caller must still reach an agent
            logger.exception("caller lookup failed")
            status = "lookup_failed"
        try:
            self.publisher.inbound([call_event(event, number)])
        except Exception:  # noqa: BLE001 - PublishFailed, or anything else: the call goes on
            # the answer still goes back: dropping the live call would be worse than a missing record
            logger.exception("call not recorded")
            count("CallRecordFailures", 1)
        count("CallerLookups", 1, status=status if status != "ok" else ("known" if found else "unknown"))
        return answer(found, status)


def build() -> CallerLookup:
    """CallerLookupFunction's flow, its settings validated at cold start."""
    w = Wiring(load(CallerLookupSettings)).check_rules()
    return CallerLookup(w.identity, w.publisher, w.settings.default_region)
