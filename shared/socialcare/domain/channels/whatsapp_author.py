"""Who wrote a WhatsApp item: the ``contacts[]`` entry that matches its sender, the author and
the identifiers WhatsApp asserts for them (``wa_id`` is a verified phone; a ``user_id``-only
sender asserts no phone)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from socialcare.errors import BadRequest
from socialcare.models.interaction import Author, Identifier, IdentifierKind


class WaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Profile(WaModel):
    name: str | None = None
    username: str | None = None


class Contact(WaModel):
    wa_id: str | None = None
    user_id: str | None = None
    profile: Profile = Field(default_factory=Profile)


def _digits(value: str | None) -> str | None:
    return value if value and value.isdigit() else None


def contact_for(sender: str | None, sender_user_id: str | None, contacts: list[Contact]) -> Contact | None:
    for contact in contacts:
        if (contact.wa_id and contact.wa_id == sender) or (
            contact.user_id and contact.user_id in (sender_user_id, sender)
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def author_and_identifiers(
    sender: str | None, sender_user_id: str | None, contact: Contact | None
) -> tuple[Author, list[Identifier]]:
    wa_id = _digits(contact.wa_id if contact else None) or _digits(sender)
    user_id = (contact.user_id if contact else None) or sender_user_id
    author_id = wa_id or user_id or sender
    if not author_id:
        raise BadRequest("WhatsApp item has no sender")
    identifiers: list[Identifier] = []
    if wa_id:
        identifiers.append(Identifier(kind=IdentifierKind.WHATSAPP, value=wa_id, verified=True))
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value=f"+{wa_id}", verified=True))
    else:
        identifiers.append(Identifier(kind=IdentifierKind.WHATSAPP, value=author_id, verified=True))
    profile = contact.profile if contact else Profile()
    return Author(id=author_id, name=profile.name, handle=profile.username), identifiers
