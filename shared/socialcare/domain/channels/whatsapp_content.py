"""What one WhatsApp message says, per type: its text (a readable summary for search and
triage, never blank), its attachments, the structured content an agent sees beside the text
(``Interaction.content``) and the identifiers it carries beyond its sender's.

Types whose action is not "a new message" (reaction, revoke, edit) are handled in
``whatsapp``; everything else is here. Unknown future types are kept with a placeholder text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socialcare.models.interaction import Attachment, Identifier, IdentifierKind

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
_MEDIA_FIELDS = ("caption", "filename", "mime_type", "voice", "animated")
_SUMMARY_LIMIT = 1000


@dataclass
class Body:
    text: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    content: dict[str, Any] = field(default_factory=dict)
    identifiers: list[Identifier] = field(default_factory=list)


def _part(message_type: str, raw: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    """The type's own object (``raw[message_type]``); one of the wrong type is a malformed item."""
    part = raw.get(message_type)
    if part is None and not required:
        return {}
    if not isinstance(part, dict):
        raise TypeError(f"'{message_type}' is not an object")
    return part


def _text(message_type: str, raw: dict[str, Any]) -> Body:
    body = Body(text=_part("text", raw).get("body"))
    referral = raw.get("referral")
    if isinstance(referral, dict):  # click-to-WhatsApp ad or post the customer came from
        keys = ("source_url", "source_type", "source_id", "headline", "body", "ctwa_clid")
        body.content = {"type": "referral", **{k: referral.get(k) for k in keys if k in referral}}
    return body


def _media(message_type: str, raw: dict[str, Any]) -> Body:
    part = _part(message_type, raw)
    attachment = Attachment(
        type=message_type, media_id=part.get("id"), mime_type=part.get("mime_type"), filename=part.get("filename")
    )
    content = {"type": message_type, **{k: part[k] for k in _MEDIA_FIELDS if k in part}}
    return Body(text=part.get("caption"), attachments=[attachment], content=content)


def _location(message_type: str, raw: dict[str, Any]) -> Body:
    part = _part("location", raw, required=True)
    content = {"type": "location", **{k: part.get(k) for k in ("latitude", "longitude", "name", "address", "url")}}
    place = ", ".join(str(part[k]) for k in ("name", "address") if part.get(k)) or "Location"
    lat, lon = part.get("latitude"), part.get("longitude")
    where = f" ({lat}, {lon})" if lat is not None and lon is not None else ""
    return Body(text=f"📍 {place}{where}", content=content)


def _card_identifiers(cards: list[Any]) -> list[Identifier]:
    """Every phone and e-mail on shared contact cards: claimed (verified=False), never asserted,
    so identity turns them into suggestions for an agent, never into links."""
    found: list[Identifier] = []
    for card in cards:
        for phone in card.get("phones") or []:
            value = phone.get("phone") or (f"+{phone['wa_id']}" if phone.get("wa_id") else None)
            if isinstance(value, str) and value:
                found.append(Identifier(kind=IdentifierKind.PHONE, value=value, verified=False))
        for email in card.get("emails") or []:
            if isinstance(email.get("email"), str) and email["email"]:
                found.append(Identifier(kind=IdentifierKind.EMAIL, value=email["email"], verified=False))
    return list(dict.fromkeys(found))


def _contacts(message_type: str, raw: dict[str, Any]) -> Body:
    cards = raw.get("contacts")
    if not isinstance(cards, list) or not all(isinstance(c, dict) for c in cards):
        raise TypeError("'contacts' is not a list of cards")
    names = []
    for card in cards:
        name = card.get("name") if isinstance(card.get("name"), dict) else {}
        full = name.get("formatted_name") or " ".join(
            n for n in (name.get("first_name"), name.get("last_name")) if n
        )
        names.append(full or "unnamed")
    return Body(
        text=f"Shared contact{'s' if len(cards) != 1 else ''}: {', '.join(names)}"[:_SUMMARY_LIMIT],
        content={"type": "contacts", "contacts": cards},
        identifiers=_card_identifiers(cards),
    )


def _order(message_type: str, raw: dict[str, Any]) -> Body:
    part = _part("order", raw, required=True)
    items = part.get("product_items") or []
    lines = [f"{i.get('quantity', 1)} × {i.get('product_retailer_id', '?')}" for i in items if isinstance(i, dict)]
    text = "Order: " + (", ".join(lines) or "no items")
    if part.get("text"):
        text += f" — {part['text']}"
    content = {"type": "order", "catalog_id": part.get("catalog_id"), "product_items": items, "text": part.get("text")}
    return Body(text=text[:_SUMMARY_LIMIT], content=content)


def _flow_answers(reply: dict[str, Any]) -> tuple[Any, str]:
    """A flow's ``response_json`` as an object (the answers), and the answers as text."""
    raw = reply.get("response_json")
    try:
        answers = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw, ""
    if not isinstance(answers, dict):
        return answers, ""
    shown = [f"{k}: {v}" for k, v in answers.items() if k != "flow_token" and isinstance(v, str | int | float | bool)]
    return answers, "; ".join(shown)


def _interactive(message_type: str, raw: dict[str, Any]) -> Body:
    if "interactive" not in raw:  # WhatsApp could not deliver its content: it says why in errors
        return _unsupported(message_type, raw)
    part = _part("interactive", raw, required=True)
    kind = part.get("type") or next((k for k in part if isinstance(part[k], dict)), "unknown")
    reply = _part(kind, part) if kind in part else {}
    content: dict[str, Any] = {"type": "interactive", "interactive_type": kind,
                               **{k: v for k, v in reply.items() if k != "response_json"}}
    if kind == "nfm_reply":  # a WhatsApp Flow's answers
        content["response"], answers = _flow_answers(reply)
        text = f"{reply.get('body') or 'Flow reply'}" + (f" — {answers}" if answers else "")
    else:
        label = reply.get("title") or reply.get("body") or reply.get("response")
        text = str(label) if label is not None else f"[{kind}]"
        if reply.get("description"):
            text += f" — {reply['description']}"
    return Body(text=text[:_SUMMARY_LIMIT], content=content)


def _button(message_type: str, raw: dict[str, Any]) -> Body:
    part = _part("button", raw, required=True)
    text = part.get("text") or part.get("payload") or "[button]"
    return Body(text=text, content={"type": "button", "payload": part.get("payload"), "text": part.get("text")})


def new_wa_id(part: dict[str, Any]) -> str | None:
    """The customer's new number in a number-change notice (``wa_id``; ``new_wa_id`` in older
    API versions), digits only."""
    value = part.get("wa_id") or part.get("new_wa_id")
    return value if isinstance(value, str) and value.isdigit() else None


def _system(message_type: str, raw: dict[str, Any]) -> Body:
    part = _part("system", raw, required=True)
    content = {"type": "system", "system_type": part.get("type"), "body": part.get("body")}
    identifiers: list[Identifier] = []
    new = new_wa_id(part)
    if new and part.get("type") in ("user_changed_number", "customer_changed_number"):
        # WhatsApp asserts the new number belongs to the same person: it joins the customer
        content["new_wa_id"] = new
        identifiers = [Identifier(kind=IdentifierKind.WHATSAPP, value=new, verified=True),
                       Identifier(kind=IdentifierKind.PHONE, value=f"+{new}", verified=True)]
    return Body(text=part.get("body") or f"[system: {part.get('type') or 'notice'}]", content=content,
                identifiers=identifiers)


def _unsupported(message_type: str, raw: dict[str, Any]) -> Body:
    errors = [e for e in raw.get("errors") or [] if isinstance(e, dict)]
    title = next((e.get("title") or e.get("message") for e in errors if e.get("title") or e.get("message")), None)
    inner = raw.get("unsupported")
    shown = inner.get("type") if isinstance(inner, dict) and inner.get("type") else message_type
    content: dict[str, Any] = {"type": "unsupported", "message_type": message_type, "unsupported_type": shown}
    if errors:
        content["errors"] = [{k: e.get(k) for k in ("code", "title") if k in e} for e in errors]
    return Body(text=f"[{shown} message" + (f": {title}]" if title else "]"), content=content)


_TYPES: dict[str, Callable[[str, dict[str, Any]], Body]] = {
    "text": _text,
    **dict.fromkeys(MEDIA_TYPES, _media),
    "location": _location,
    "contacts": _contacts,
    "order": _order,
    "interactive": _interactive,
    "button": _button,
    "system": _system,
}


def body_of(message_type: str, raw: dict[str, Any]) -> Body:
    """Text, attachments, content and extra identifiers of one message of any (other) type."""
    return _TYPES.get(message_type, _unsupported)(message_type, raw)
