"""What Meta's page, Instagram and Messenger parsers share: the entry model, author
identifiers, event times, edit markers and removals (tombstones)."""

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


class MetaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Entry(MetaModel):
    id: str
    time: int | float | None = None
    changes: list[dict[str, Any]] | None = None
    messaging: list[dict[str, Any]] | None = None
    standby: list[dict[str, Any]] | None = None


class Party(MetaModel):
    id: str
    name: str | None = None
    username: str | None = None


def identifiers(channel: Channel, author_id: str) -> list[Identifier]:
    return [Identifier(kind=IdentifierKind(channel.value), value=author_id, verified=True)]


def when(value: int | float | datetime | None, fallback: int | float | None, *, millis: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    if value is not None:
        return from_epoch(value)
    if fallback is not None:
        return from_epoch(fallback, millis=millis)
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
            author=Author(id=author.id),
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
