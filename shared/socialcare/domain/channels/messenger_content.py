"""What a Messenger or Instagram ``message`` says: its text, its attachments and the structured
content an agent needs beside them (a location's coordinates, a shared link's title and URL, a
story the customer mentioned the brand in or replied to, a quick reply's payload).

Stories are ephemeral and Meta's Story Mention documentation forbids storing their media: they
(and shared posts/reels, which are someone else's content) stay ``reference_only`` links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from socialcare.domain.channels.meta_common import MetaModel
from socialcare.models.interaction import Attachment

_MEDIA = {"image": "image", "video": "video", "audio": "audio", "file": "document", "sticker": "sticker"}
_SHARES = frozenset({"share", "reel", "ig_reel", "post", "ig_post"})


class MessageAttachment(MetaModel):
    type: str
    payload: dict[str, Any] | None = None
    title: str | None = None  # fallback attachments carry title/url beside (not in) the payload
    url: str | None = None
    url_upper: str | None = Field(default=None, alias="URL")


class Message(MetaModel):
    mid: str
    text: str | None = None
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False
    attachments: list[MessageAttachment] = Field(default_factory=list)
    reply_to: dict[str, Any] | None = None
    quick_reply: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None


@dataclass
class Body:
    text: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    content: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _location(att: MessageAttachment, payload: dict[str, Any], body: Body) -> None:
    found = payload.get("coordinates")
    coordinates: dict[str, Any] = found if isinstance(found, dict) else {}
    lat, lon = coordinates.get("lat"), coordinates.get("long")
    name = att.title or _str(payload.get("title"))
    url = att.url or att.url_upper or _str(payload.get("url"))
    body.content = {"type": "location", "latitude": lat, "longitude": lon, "name": name, "url": url}
    where = f" ({lat}, {lon})" if lat is not None and lon is not None else ""
    body.text = body.text or f"📍 {name or 'Location'}{where}"


def _link(att: MessageAttachment, payload: dict[str, Any], body: Body) -> None:
    """A shared link (``fallback``) or a shared post/reel: title and URL for the agent."""
    url = att.url or att.url_upper or _str(payload.get("url"))
    title = att.title or _str(payload.get("title"))
    body.content = {"type": "share", "kind": att.type, "title": title, "url": url}
    if att.type in _SHARES and url:
        body.attachments.append(Attachment(type=att.type, url=url, reference_only=True))
    shown = " — ".join(part for part in (title, url) if part)
    what = att.type if att.type in _SHARES else "link"
    body.text = body.text or f"🔗 Shared {what}" + (f": {shown}" if shown else "")


def _story_mention(att: MessageAttachment, payload: dict[str, Any], body: Body) -> None:
    url = _str(payload.get("url"))
    body.attachments.append(Attachment(type="story_mention", url=url, reference_only=True))
    body.content = {"type": "story_mention", "url": url, "id": _str(payload.get("id"))}
    body.text = body.text or "Mentioned you in their story"


def _attachment(att: MessageAttachment, body: Body) -> None:
    payload = att.payload or {}
    if att.type == "location":
        _location(att, payload, body)
    elif att.type == "fallback" or att.type in _SHARES:
        _link(att, payload, body)
    elif att.type == "story_mention":
        _story_mention(att, payload, body)
    else:
        url = _str(payload.get("url"))
        body.attachments.append(Attachment(type=_MEDIA.get(att.type, att.type), url=url))


def _reply_to(reply_to: dict[str, Any], body: Body) -> None:
    story = reply_to.get("story")
    if isinstance(story, dict):
        url = _str(story.get("url"))
        body.content = {"type": "story_reply", "story_id": _str(story.get("id")), "url": url}
        if url:
            body.attachments.append(Attachment(type="story", url=url, reference_only=True))
        body.text = body.text or "Replied to your story"
    body.metadata["reply_to"] = reply_to
    body.parent_id = _str(reply_to.get("mid"))


def message_body(message: Message) -> Body:
    body = Body(text=message.text)
    for att in message.attachments:
        _attachment(att, body)
    if message.reply_to:
        _reply_to(message.reply_to, body)
    if message.quick_reply:
        body.metadata["quick_reply"] = message.quick_reply
        body.content = body.content or {"type": "quick_reply", "payload": message.quick_reply.get("payload")}
    if message.referral:
        body.metadata["referral"] = message.referral
    if message.is_unsupported and not body.text:
        body.text = "[a message type the platform does not deliver to apps]"
        body.content = {"type": "unsupported"}
    return body
