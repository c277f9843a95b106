"""X (Twitter) payload models and the small helpers every X module shares.

Account Activity (``x_events``) delivers v1.1 objects (Tweet, User, Direct Message event); the X
Activity API (``x_activity``) and the poller (``x_api``) deliver v2 objects. Ids exceed 2**53,
so only their string forms are kept (``id_str``, or the number as a string when that is all
a payload has)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from socialcare.models.interaction import Attachment, Identifier, IdentifierKind


class XModel(BaseModel):
    # ids sometimes arrive as numbers in hand-made or older payloads; we only ever keep strings
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class XUser(XModel):
    """A v1.1 User object, or a v2 one (``{"data": {"username", "public_metrics"}}``) read the
    same way."""

    id_str: str | None = None
    id: str | None = None
    name: str | None = None
    screen_name: str | None = None
    followers_count: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _v2(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("data"), dict):
            value = value["data"]
        if isinstance(value, dict) and "username" in value and "screen_name" not in value:
            metrics = value.get("public_metrics") or {}
            value = {**value, "screen_name": value["username"], "followers_count": metrics.get("followers_count")}
        return value

    @property
    def user_id(self) -> str:
        return self.id_str or self.id or ""


class VideoVariant(XModel):
    bitrate: int | None = None
    content_type: str | None = None
    url: str | None = None


class VideoInfo(XModel):
    variants: list[VideoVariant] = Field(default_factory=list)


class Media(XModel):
    """A media entity (Tweet ``extended_entities.media[]`` or a DM attachment)."""

    id_str: str | None = None
    type: str | None = None  # photo | video | animated_gif
    media_url_https: str | None = None
    expanded_url: str | None = None
    video_info: VideoInfo | None = None


class UserMention(XModel):
    id_str: str | None = None
    screen_name: str | None = None


class UrlEntity(XModel):
    url: str | None = None
    expanded_url: str | None = None


class Entities(XModel):
    user_mentions: list[UserMention] = Field(default_factory=list)
    urls: list[UrlEntity] = Field(default_factory=list)
    media: list[Media] = Field(default_factory=list)


class ExtendedEntities(XModel):
    media: list[Media] = Field(default_factory=list)


class ExtendedTweet(XModel):
    full_text: str | None = None
    entities: Entities | None = None
    extended_entities: ExtendedEntities | None = None


class Tweet(XModel):
    """A v1.1 Tweet object as delivered in ``tweet_create_events``."""

    id_str: str
    text: str | None = None
    full_text: str | None = None
    truncated: bool = False
    extended_tweet: ExtendedTweet | None = None
    created_at: str | None = None
    timestamp_ms: int | None = None
    user: XUser
    lang: str | None = None
    in_reply_to_status_id_str: str | None = None
    in_reply_to_user_id_str: str | None = None
    in_reply_to_screen_name: str | None = None
    is_quote_status: bool = False
    quoted_status_id_str: str | None = None
    quoted_status: dict[str, Any] | None = None
    retweeted_status: dict[str, Any] | None = None
    entities: Entities = Field(default_factory=Entities)
    extended_entities: ExtendedEntities | None = None

    @model_validator(mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value.get("id_str") and value.get("id") is not None:
            value = {**value, "id_str": str(value["id"])}
        return value

    @property
    def best_text(self) -> str | None:
        if self.extended_tweet is not None and self.extended_tweet.full_text:
            return self.extended_tweet.full_text
        return self.full_text or self.text

    @property
    def media(self) -> list[Media]:
        """Every photo, video and GIF: ``extended_entities`` holds all of them (``entities``
        only the first), and a long post keeps them inside ``extended_tweet``."""
        for holder in (self.extended_tweet.extended_entities if self.extended_tweet else None, self.extended_entities):
            if holder is not None and holder.media:
                return holder.media
        return self.entities.media


class DMTarget(XModel):
    recipient_id: str


class DMAttachment(XModel):
    type: str | None = None
    media: Media | None = None


class QuickReplyResponse(XModel):
    type: str | None = None
    metadata: str | None = None


class DMData(XModel):
    text: str | None = None
    entities: Entities = Field(default_factory=Entities)
    attachment: DMAttachment | None = None
    quick_reply_response: QuickReplyResponse | None = None


class DMCreate(XModel):
    target: DMTarget
    sender_id: str
    source_app_id: str | None = None
    message_data: DMData = Field(default_factory=DMData)


class InitiatedVia(XModel):
    tweet_id: str | None = None
    welcome_message_id: str | None = None


class DMEvent(XModel):
    type: str
    id: str
    created_timestamp: int  # milliseconds, sent as a string
    message_create: DMCreate | None = None
    initiated_via: InitiatedVia | None = None


class DeletedStatus(XModel):
    id: str
    user_id: str


class TweetDelete(XModel):
    status: DeletedStatus
    timestamp_ms: int | None = None


# ------------------------------------------------------------------ helpers


def brand_ids(brand_x_ids: frozenset[str], for_user_id: str | None = None) -> frozenset[str]:
    ids = set(brand_x_ids)
    if for_user_id:
        ids.add(for_user_id)
    return frozenset(ids)


def x_identifier(user_id: str) -> list[Identifier]:
    return [Identifier(kind=IdentifierKind.X, value=user_id, verified=True)]


def dm_conversation_id(a: str, b: str) -> str:
    """X's one-to-one DM conversation id: both participant ids, smaller first."""
    low, high = sorted((a, b), key=lambda v: (len(v), v))
    return f"{low}-{high}"


def _best_video(media: Media) -> str | None:
    variants = [v for v in (media.video_info.variants if media.video_info else []) if v.url]
    mp4 = [v for v in variants if v.content_type == "video/mp4"] or variants
    return max(mp4, key=lambda v: v.bitrate or 0).url if mp4 else None


def media_attachments(media: list[Media]) -> list[Attachment]:
    """Photos, videos and GIFs as links (X media needs OAuth 1.0a to fetch from a DM, and a
    public post's media stays on X's CDN: neither is downloaded)."""
    out: list[Attachment] = []
    for item in media:
        if item.type in ("video", "animated_gif"):
            url = _best_video(item) or item.media_url_https
            kind = "video"
        else:
            url, kind = item.media_url_https, "image" if item.type in (None, "photo") else item.type
        if url:
            out.append(Attachment(type=kind, url=url))
    return out
