"""What Meta's page, Instagram, Messenger and WhatsApp parsers share: the entry model, author
identifiers, event times, edit markers, removals (tombstones) and the reasons malformed items
are skipped under (``common.each`` parses every item on its own)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from socialcare.domain.channels.common import from_epoch
from socialcare.errors import BadRequest
from socialcare.models.interaction import (
    Action,
    Author,
    Channel,
    Identifier,
    IdentifierKind,
    InboundEvent,
    Interaction,
    Kind,
)

SOURCE = "meta"

# Epochs below this are seconds, above it milliseconds: 10^11 s is the year 5138, 10^11 ms is
# 1973. Meta documents ``messaging[].timestamp`` in ms, yet some of its own examples use seconds.
_MILLIS_THRESHOLD = 10**11


class MetaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Entry(MetaModel):
    id: str
    time: int | float | None = None
    changes: list[Any] | None = None
    messaging: list[Any] | None = None
    standby: list[Any] | None = None


class Party(MetaModel):
    """A sender, recipient or author. Messenger's chat plugin names a visitor who has no PSID
    yet by ``user_ref`` instead of ``id``."""

    id: str | None = None
    user_ref: str | None = None
    name: str | None = None
    username: str | None = None

    @property
    def key(self) -> str:
        """The author id we store: the platform id, else ``user_ref:<ref>``."""
        if self.id:
            return self.id
        if self.user_ref:
            return f"user_ref:{self.user_ref}"
        raise ValueError("party without id or user_ref")


def invalid(obj: str, what: str) -> str:
    """The counted reason of a skipped malformed item: no customer data, only where it was."""
    return f"meta:invalid:{obj}:{what}"[:120]


def identifiers(channel: Channel, author_id: str) -> list[Identifier]:
    return [Identifier(kind=IdentifierKind(channel.value), value=author_id, verified=True)]


def epoch(value: int | float | str, *, millis: bool) -> datetime:
    """An epoch in the unit the field documents, unless its size says it is the other one."""
    number = float(value)
    if millis and number < _MILLIS_THRESHOLD:
        millis = False
    return from_epoch(number, millis=millis)


def when(value: int | float | str | datetime | None, fallback: int | float | None, *, millis: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    if value is not None:
        return epoch(value, millis=False)
    if fallback is not None:
        return epoch(fallback, millis=millis)
    raise BadRequest("event has no time")


def edit_marker(time: Any, text: str | None) -> str:
    """Distinguishes successive edits of one message (and keeps a redelivered edit identical)."""
    return f"{time}:{hashlib.sha256((text or '').encode()).hexdigest()[:16]}"


def tombstone(
    channel: Channel,
    interaction_id: str,
    message_id: str,
    author: Party | None,
    time: int | float | None,
    raw: Any,
    *,
    millis: bool = False,
) -> InboundEvent:
    """A removal: carries the author (when known) only so it queues behind their earlier events."""
    interaction = None
    if author is not None:
        interaction = Interaction(
            id=interaction_id,
            channel=channel,
            kind=Kind.COMMENT if channel is Channel.FACEBOOK else Kind.DIRECT_MESSAGE,
            platform_message_id=message_id,
            author=Author(id=author.key),
            occurred_at=when(None, time, millis=millis) if time is not None else datetime.now().astimezone(),
            metadata={"tombstone": True},
        )
    return InboundEvent(
        action=Action.DELETE,
        source=SOURCE,
        event_id=message_id,
        target_id=interaction_id,
        interaction=interaction,
        raw=raw,
    )
