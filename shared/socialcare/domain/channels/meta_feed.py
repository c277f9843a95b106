"""Public Meta content arriving as ``changes[]``: the Facebook Page ``feed`` (comments and
visitor posts: status, photo, video, share), ``mention`` (a post or comment naming the page),
``ratings`` (a review with text is a public post by its reviewer) and Instagram ``comments`` /
``live_comments``. Engagement (reactions, likes), moderation (hide/unhide) and notices without
an author or text (Instagram ``mentions``: only ids) are counted and skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from socialcare.domain.channels.common import Parsed
from socialcare.domain.channels.meta_common import (
    SOURCE,
    Entry,
    MetaModel,
    Party,
    edit_marker,
    identifiers,
    tombstone,
    when,
)
from socialcare.models.interaction import (
    Action,
    Attachment,
    Author,
    Channel,
    InboundEvent,
    Interaction,
    Kind,
    ThreadRef,
)

_POST_ITEMS = frozenset({"post", "status", "photo", "video", "share"})
Raw = dict[str, Any]
_VERBS = {"add": Action.CREATE, "edited": Action.EDIT, "edit": Action.EDIT, "remove": Action.DELETE,
          "delete": Action.DELETE}


class FeedValue(MetaModel):
    """``page`` ``feed`` change: comments and visitor posts."""

    item: str
    verb: str
    post_id: str | None = None
    comment_id: str | None = None
    parent_id: str | None = None
    message: str | None = None
    created_time: int | float | datetime | None = None  # unix seconds (ISO 8601 in older payloads)
    from_: Party | None = Field(default=None, alias="from")
    link: str | None = None
    photo_id: str | None = None
    video_id: str | None = None


class MentionValue(MetaModel):
    """``page`` ``mention`` change: a post or comment that tags the page."""

    item: str = "post"
    verb: str = "add"
    post_id: str | None = None
    comment_id: str | None = None
    sender_id: str | None = None
    sender_name: str | None = None
    message: str | None = None
    created_time: int | float | datetime | None = None


class RatingValue(MetaModel):
    """``page`` ``ratings`` change: a review (recommendation) of the page."""

    verb: str = "add"
    reviewer_id: str | None = None
    reviewer_name: str | None = None
    review_text: str | None = None
    recommendation_type: str | None = None
    rating: int | None = None
    open_graph_story_id: str | None = None
    created_time: int | float | datetime | None = None


class IgMedia(MetaModel):
    id: str | None = None
    media_product_type: str | None = None


class IgCommentValue(MetaModel):
    """``instagram`` ``comments`` / ``live_comments`` change."""

    id: str
    text: str | None = None
    parent_id: str | None = None
    from_: Party = Field(alias="from")
    media: IgMedia = Field(default_factory=IgMedia)


@dataclass
class Public:
    """One public item (post, comment, review) about to become an event."""

    message_id: str
    kind: Kind
    author: Party | None
    text: str | None
    created: int | float | datetime | None
    thread: ThreadRef = field(default_factory=ThreadRef)
    attachments: list[Attachment] = field(default_factory=list)
    content: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def _event(channel: Channel, entry: Entry, item: Public, action: Action, raw: dict[str, Any]) -> InboundEvent:
    interaction_id = Interaction.make_id(channel, item.message_id)
    if action is Action.DELETE:
        return tombstone(channel, interaction_id, item.message_id, item.author, entry.time, raw)
    if item.author is None:
        raise ValueError("public item without its author")
    metadata = dict(item.metadata)
    if action is Action.EDIT:
        metadata["edit_marker"] = edit_marker(entry.time, item.text)
    interaction = Interaction(
        id=interaction_id,
        channel=channel,
        kind=item.kind,
        account_id=entry.id,
        platform_message_id=item.message_id,
        author=Author(id=item.author.key, name=item.author.name, handle=item.author.username),
        text=item.text,
        occurred_at=when(item.created, entry.time, millis=False),
        thread=item.thread,
        attachments=item.attachments,
        identifiers=identifiers(channel, item.author.key),
        content=item.content,
        metadata=metadata,
    )
    return InboundEvent(
        action=action,
        source=SOURCE,
        event_id=item.message_id,
        interaction=interaction,
        target_id=interaction_id if action is Action.EDIT else None,
        raw=raw,
    )


def _emit(obj: str, field_name: str, entry: Entry, item: Public, verb: str, raw: Raw, parsed: Parsed) -> None:
    """Create, edit or delete per ``verb``; the page's own items and other verbs are counted."""
    action = _VERBS.get(verb)
    if action is None:  # hide, unhide, block, ...: the page moderating, not a customer writing
        parsed.ignore(f"meta:{obj}:{field_name}:{verb}"[:120])
        return
    if item.author is not None and item.author.id == entry.id:
        parsed.ignore(f"meta:{obj}:own_{'comment' if item.kind is Kind.COMMENT else 'post'}")
        return
    channel = Channel.INSTAGRAM if obj == "instagram" else Channel.FACEBOOK
    parsed.events.append(_event(channel, entry, item, action, raw))


def feed(obj: str, entry: Entry, field_name: str, value: Raw, raw: Raw, parsed: Parsed) -> None:
    change = FeedValue.model_validate(value)
    if change.item == "comment":
        message_id, kind = change.comment_id, Kind.COMMENT
    elif change.item in _POST_ITEMS:
        message_id, kind = change.post_id, Kind.PUBLIC_POST
    else:
        parsed.ignore(f"meta:page:feed:{change.item}"[:120])  # reactions, likes, ...: engagement
        return
    if not message_id:
        raise ValueError(f"feed {change.item} without its id")
    attachments = []
    if change.link and change.item in ("photo", "video"):
        attachments.append(Attachment(type="image" if change.item == "photo" else "video", url=change.link))
    item = Public(
        message_id=message_id,
        kind=kind,
        author=change.from_,
        text=change.message,
        created=change.created_time,
        thread=ThreadRef(post_id=change.post_id,
                         parent_id=change.parent_id if change.parent_id != change.post_id else None),
        attachments=attachments,
        metadata={"item": change.item},
    )
    _emit(obj, field_name, entry, item, change.verb, raw, parsed)


def mention(obj: str, entry: Entry, field_name: str, value: Raw, raw: Raw, parsed: Parsed) -> None:
    change = MentionValue.model_validate(value)
    is_comment = change.item == "comment"
    message_id = change.comment_id if is_comment else change.post_id
    if not message_id:
        raise ValueError("mention without its post or comment id")
    author = Party(id=change.sender_id, name=change.sender_name) if change.sender_id else None
    item = Public(
        message_id=message_id,
        kind=Kind.COMMENT if is_comment else Kind.PUBLIC_POST,
        author=author,
        text=change.message or f"Mentioned the page in a {change.item}",
        created=change.created_time,
        thread=ThreadRef(post_id=change.post_id),
        content={"type": "mention", "item": change.item, "post_id": change.post_id},
        metadata={"item": change.item, "field": field_name},
    )
    _emit(obj, field_name, entry, item, change.verb, raw, parsed)


def ratings(obj: str, entry: Entry, field_name: str, value: Raw, raw: Raw, parsed: Parsed) -> None:
    change = RatingValue.model_validate(value)
    if not change.review_text and change.verb != "remove":
        parsed.ignore("meta:page:ratings:without_text")  # a bare star/recommendation: no message
        return
    message_id = change.open_graph_story_id or (
        f"rating-{change.reviewer_id}" if change.reviewer_id else None
    )
    if not message_id:
        raise ValueError("review without its story id or reviewer")
    author = Party(id=change.reviewer_id, name=change.reviewer_name) if change.reviewer_id else None
    item = Public(
        message_id=message_id,
        kind=Kind.PUBLIC_POST,
        author=author,
        text=change.review_text,
        created=change.created_time,
        content={"type": "review", "recommendation_type": change.recommendation_type, "rating": change.rating},
        metadata={"item": "rating", "field": field_name},
    )
    _emit(obj, field_name, entry, item, change.verb, raw, parsed)


def ig_comment(obj: str, entry: Entry, field_name: str, value: dict[str, Any], raw: dict[str, Any],
               parsed: Parsed) -> None:
    change = IgCommentValue.model_validate(value)
    item = Public(
        message_id=change.id,
        kind=Kind.COMMENT,
        author=change.from_,
        text=change.text,
        created=None,
        thread=ThreadRef(post_id=change.media.id, parent_id=change.parent_id),
        metadata={"media_product_type": change.media.media_product_type, "field": field_name},
    )
    _emit(obj, field_name, entry, item, "add", raw, parsed)


PAGE_FIELDS = {"feed": feed, "mention": mention, "ratings": ratings}
INSTAGRAM_FIELDS = {"comments": ig_comment, "live_comments": ig_comment}
