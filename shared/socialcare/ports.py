"""Ports: the side effects a domain service may cause, as interfaces.

A service receives an implementation in its constructor (``flows.wiring`` builds the real ones:
``publish.Publisher`` on SQS/SNS, ``store.idempotency.PowertoolsGuard`` on IdempotencyTable), so a
reader sees every side effect of a use case in the service itself, and a unit test can pass an
in-memory implementation of these interfaces instead of AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: naming a port builds none of these models
    from socialcare.models.crm import CrmSyncRequest
    from socialcare.models.interaction import InboundEvent
    from socialcare.models.reply import OutboundMessage
    from socialcare.models.workitem import WorkItem


class Publisher(Protocol):
    """Every message socialcare sends: each call is all-or-nothing (``PublishFailed`` otherwise)."""

    def inbound(self, events: Sequence[InboundEvent]) -> int: ...

    def work_items(self, items: Sequence[WorkItem]) -> None: ...

    def crm_syncs(self, requests: Sequence[CrmSyncRequest]) -> None: ...

    def crm_retries(self, requests: Sequence[CrmSyncRequest]) -> None: ...

    def outbound(self, replies: Sequence[OutboundMessage]) -> None: ...

    def alert(self, subject: str, message: Mapping[str, Any]) -> None: ...


class OnceGuard(Protocol):
    """Runs ``action`` at most once per ``key`` and remembers its (string) result."""

    def once(self, key: str, action: Callable[[], str]) -> str: ...
