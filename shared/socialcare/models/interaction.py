"""The canonical interaction (docs/architecture.md, "Canonical model").

Every platform payload is parsed by its channel module into these shapes; nothing downstream of
the webhook functions ever sees a platform-specific shape. The inbound queue carries
``InboundEvent`` as JSON, so this module is also the queue's message schema (versioned).
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

INBOUND_EVENT_VERSION = 1
# SQS accepts 256 KiB per message; keep headroom for the envelope. Larger raw slices
# (WhatsApp media-heavy batches) travel compressed.
_INLINE_RAW_LIMIT = 200 * 1024  # bytes of UTF-8, as SQS counts them
_PACKED = "_zlib_b64"


class Channel(StrEnum):
    X = "x"
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"


class Kind(StrEnum):
    PUBLIC_POST = "public_post"
    PUBLIC_REPLY = "public_reply"
    COMMENT = "comment"
    DIRECT_MESSAGE = "direct_message"
    CALL = "call"
    EMAIL = "email"
    CHAT = "chat"
    FORM = "form"


PUBLIC_KINDS = frozenset({Kind.PUBLIC_POST, Kind.PUBLIC_REPLY, Kind.COMMENT})


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Action(StrEnum):
    """What an inbound event asks the processor to do."""

    CREATE = "create"  # a new customer message
    EDIT = "edit"  # a platform edit of a message we may already hold
    DELETE = "delete"  # the author (or platform) removed it: keep the record, drop the text
    STATUS = "status"  # a delivery receipt for one of OUR outbound messages
    REACT = "react"  # a reaction (emoji) to, or its removal from, the message ``target_id`` names


class IdentifierKind(StrEnum):
    """Kinds of identity claims in the profiles table (issue 4 'identities[].kind')."""

    X = "x"
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    EMAIL = "email"
    REF = "ref"
    CHAT = "chat"
    WEB = "web"


class Identifier(BaseModel):
    """An identifier that an event carries about its author.

    ``verified`` means a platform (wa_id, caller id) or the CRM asserts it; a value only typed
    into a message is *claimed* (verified=False) and is weaker evidence (docs/identity.md).
    """

    model_config = ConfigDict(frozen=True)

    kind: IdentifierKind
    value: str
    verified: bool = True


class Author(BaseModel):
    id: str = Field(description="platform user id (X user id, PSID, IGSID, wa_id, E.164 phone...)")
    handle: str | None = None
    name: str | None = None
    followers: int | None = Field(default=None, description="reach: followers of a public author")


class ThreadRef(BaseModel):
    conversation_id: str | None = None
    post_id: str | None = None
    parent_id: str | None = None


class Attachment(BaseModel):
    type: str  # image | audio | video | document | sticker | location | ...
    media_id: str | None = None  # platform media id (WhatsApp), fetched by the processor
    url: str | None = None  # platform URL, may expire
    mime_type: str | None = None
    filename: str | None = None
    s3_key: str | None = None  # set once stored in the media bucket
    # Kept as a link only, never downloaded: the platform forbids storing it (Instagram story
    # mentions: Meta's Story Mention docs) or it expires with the story.
    reference_only: bool = False


class Interaction(BaseModel):
    """One message on one channel, in or out."""

    id: str = Field(description="stable id: '<channel>:<platform message id>'")
    channel: Channel
    kind: Kind
    direction: Direction = Direction.INBOUND
    account_id: str | None = Field(default=None, description="the brand account it reached")
    platform_message_id: str
    author: Author
    text: str | None = None
    language: str | None = None
    occurred_at: datetime
    thread: ThreadRef = Field(default_factory=ThreadRef)
    attachments: list[Attachment] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(
        default_factory=list, description="identifiers the platform asserts for the author"
    )
    content: dict[str, Any] = Field(
        default_factory=dict,
        description="structured content beside the text, shown to agents: {'type': 'location'|'contacts'|"
        "'order'|'interactive'|'button'|'postback'|'share'|'story_mention'|'story_reply'|'reaction'|'call'|"
        "'system'|..., ...the platform's fields}; empty for a plain text message",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def is_public(self) -> bool:
        return self.kind in PUBLIC_KINDS

    @staticmethod
    def make_id(channel: Channel | str, platform_message_id: str) -> str:
        return f"{Channel(channel).value}:{platform_message_id}"


class DeliveryStatus(BaseModel):
    """A platform's receipt for one of our outbound messages (WhatsApp statuses...)."""

    channel: Channel
    platform_message_id: str
    status: str  # sent | delivered | read | failed
    recipient_id: str | None = None
    occurred_at: datetime
    errors: list[dict[str, Any]] = Field(default_factory=list)


class InboundEvent(BaseModel):
    """The message schema of inbound.fifo (version ``INBOUND_EVENT_VERSION``).

    A webhook function produces one per platform event; ``raw`` is that event's own slice of
    the platform payload (not the whole batch), kept for audit and replay.
    """

    version: int = INBOUND_EVENT_VERSION
    action: Action
    source: str = Field(description="x | meta | inbound | connect | x-poller")
    event_id: str = Field(description="platform event/message id, the log correlation id")
    interaction: Interaction | None = None
    status: DeliveryStatus | None = None
    target_id: str | None = Field(default=None, description="interaction id for edit/delete")
    raw: Any = None
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def group_id(self) -> str:
        """FIFO message group: the author, so one person's events stay in order."""
        if self.interaction is not None:
            return f"{self.interaction.channel.value}:{self.interaction.author.id}"[:128]
        if self.status is not None:
            return f"{self.status.channel.value}:status:{self.status.platform_message_id}"[:128]
        return f"{self.source}:{self.target_id or self.event_id}"[:128]

    @property
    def dedupe_key(self) -> str:
        """The event's identity (message id + action/status): the publisher hashes it into the
        SQS dedupe id, so an edit or a status never collides with its original, while a
        platform's redelivery of the same event does."""
        if self.interaction is not None:
            identity = f"{self.interaction.id}|{self.action.value}"
            if self.action is Action.EDIT:
                identity += f"|{self.interaction.metadata.get('edit_marker', '')}"
            elif self.action is Action.REACT:
                # a reaction and its removal may share a message id (WhatsApp's documented
                # examples do): the emoji keeps the removal from being dropped as a duplicate
                identity += f"|{self.interaction.content.get('emoji') or self.interaction.text or ''}"
            return identity
        if self.status is not None:
            return f"{self.status.channel.value}:{self.status.platform_message_id}|status|{self.status.status}"
        return f"{self.source}:{self.target_id or self.event_id}|{self.action.value}"

    def queue_body(self) -> str:
        """The message body; a raw slice too large for SQS travels compressed."""
        body = self.model_dump_json()
        if len(body.encode()) <= _INLINE_RAW_LIMIT or self.raw is None:
            return body
        packed = base64.b64encode(zlib.compress(json.dumps(self.raw).encode(), 9)).decode()
        return self.model_copy(update={"raw": {_PACKED: packed}}).model_dump_json()

    def raw_payload(self) -> Any:
        """``raw`` as the platform sent it (decompressed when it travelled compressed)."""
        if isinstance(self.raw, dict) and set(self.raw) == {_PACKED}:
            return json.loads(zlib.decompress(base64.b64decode(self.raw[_PACKED])))
        return self.raw
