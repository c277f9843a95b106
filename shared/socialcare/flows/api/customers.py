"""/api/customers: lookup, customer 360, suggestions, merge and unmerge (issue 4 §5).

The response field names here are a contract (issue 2 §4): ``customers``, ``id``, ``name``,
``identities[{kind,value,verified}]``, ``timeline[{id,channel,direction,text,occurred_at,
case_id}]``, ``cases``, ``suggestions`` are never renamed or nested; fields are only added.
Each route calls one domain service; errors are domain exceptions mapped by ``flows.http``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from socialcare.errors import BadRequest, NotFound
from socialcare.flows.api import wiring_of
from socialcare.flows.api.audit import note_targets
from socialcare.flows.api.auth import Role, needs
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import IdentifierKind
from socialcare.models.profile import CustomerView, Page, Profile
from socialcare.store import cursor as cursors

logger = Logger(child=True)
router = Router()

# Lookup keys: every identity kind (``?whatsapp=``, ``?messenger=``...), phones in any format.
LOOKUP_KINDS = tuple(k.value for k in IdentifierKind)
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)]
Lookup = Annotated[str | None, Query(min_length=1, max_length=320)]


class IdentityRef(BaseModel):
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=320)


class MergeRequest(BaseModel):
    source: str = Field(min_length=1, max_length=64, description="the customer merged away")
    target: str = Field(min_length=1, max_length=64, description="the surviving customer")
    force: bool = Field(default=False, description="merge despite different verified phones/e-mails")


class UnmergeRequest(BaseModel):
    identities: list[IdentityRef] = Field(min_length=1, max_length=50)


# ---------------------------------------------------------------------------------- shapes
def _summary(profile: Profile) -> dict[str, Any]:
    counts = {c: n for c, n in sorted(profile.channel_counts.items()) if n > 0}
    return {
        "id": profile.id,
        "name": profile.name,
        "channels": list(counts),
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "open_case_id": profile.open_case_id,
    }


def timeline_entry(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item.get("id"),
        "channel": item.get("channel"),
        "kind": item.get("kind"),
        "direction": item.get("direction"),
        "text": item.get("text"),  # a preview when text_truncated: the whole text at .../text
        "text_truncated": bool(item.get("text_truncated", False)),
        "text_length": item.get("text_length") or len(item.get("text") or ""),
        "content": item.get("content") or {},
        "occurred_at": item.get("occurred_at"),
        "case_id": item.get("case_id"),
        "author_id": item.get("author_id"),
        "author_name": item.get("author_name"),
        "author_handle": item.get("author_handle"),
        "language": item.get("language"),
        "thread": item.get("thread") or {},
        "attachments": item.get("attachments") or [],
        "deleted": bool(item.get("deleted", False)),
        "edited_at": item.get("edited_at"),
        "delivery_status": item.get("delivery_status"),
        "reactions": reactions(item.get("reactions")),
        "via": item.get("via"),
    }


def reactions(stored: Any) -> list[dict[str, Any]]:
    """The reactions on a message, oldest first; a removed one (empty emoji) is left out."""
    if not isinstance(stored, dict):
        return []
    found = [{"author_id": author, "emoji": r.get("emoji"), "at": r.get("at")}
             for author, r in stored.items() if isinstance(r, dict) and r.get("emoji")]
    return sorted(found, key=lambda r: str(r["at"]))


def suggestion_entry(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": item.get("other_customer_id"),
        "reason": item.get("reason"),
        "evidence": item.get("evidence") or [],
        "interaction_id": item.get("interaction_id"),
        "created_at": item.get("created_at"),
    }


_CASE_FIELDS = {"id", "status", "priority", "team", "channels", "public", "opened_at", "updated_at", "resolved_at",
                "is_open", "merged_into", "interaction_count", "categories", "sentiment", "crm_record_id"}


def _cases(w: Wiring, profile: Profile, timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's cases from the cases store; if it cannot answer, what the profile knows."""
    try:
        found = w.case_queries.customer_cases(profile.id)
    except Exception:  # the 360 must not fail because the cases table does
        logger.exception("could not read the customer's cases", extra={"customer_id": profile.id})
    else:
        # The cases API's own field names (``is_open``...), so both APIs read alike.
        return [c.model_dump(mode="json", include=_CASE_FIELDS) for c in found]
    ids = [*([profile.open_case_id] if profile.open_case_id else []), *reversed(profile.previous_cases),
           *(i["case_id"] for i in timeline if i.get("case_id"))]
    return [{"id": cid, "is_open": cid == profile.open_case_id} for cid in dict.fromkeys(ids)]


def customer_360(w: Wiring, view: CustomerView, timeline: list[dict[str, Any]],
                 timeline_cursor: str | None) -> dict[str, Any]:
    profile = view.profile
    counts = {c: n for c, n in sorted(profile.channel_counts.items()) if n > 0}
    entries = [timeline_entry(i) for i in timeline]
    return {
        "id": profile.id,
        "name": profile.name,
        "known_names": profile.known_names,
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "last_channel": profile.last_channel,
        "channels": list(counts),
        "channel_counts": counts,
        "interaction_count": profile.interaction_count,
        "open_case_id": profile.open_case_id,
        "case_priority": profile.case_priority,
        "last_sentiment": profile.last_sentiment,
        "previous_cases": profile.previous_cases,
        "tier": profile.tier,
        "handles": profile.handles,
        "merged_into": None,
        "merged_from": profile.merged_from,
        "identities": [
            {"kind": i.kind, "value": i.value, "verified": i.verified, "source": i.source, "added_at": i.added_at}
            for i in sorted(view.identities, key=lambda i: (i.kind, i.value))
        ],
        "timeline": entries,
        "timeline_cursor": timeline_cursor,
        "cases": _cases(w, profile, entries),
        "suggestions": [suggestion_entry(s.model_dump()) for s in view.suggestions],
        "merges": view.merges,
    }


# ---------------------------------------------------------------------------------- routes
@router.get("/api/customers", openapi_extensions=needs(Role.AGENT))
def lookup_customers(
    phone: Lookup = None,
    email: Lookup = None,
    x: Lookup = None,
    facebook: Lookup = None,
    messenger: Lookup = None,
    instagram: Lookup = None,
    whatsapp: Lookup = None,
    chat: Lookup = None,
    web: Lookup = None,
    ref: Lookup = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Customers holding any of the given identifiers (phones in any format)."""
    given = {"phone": phone, "email": email, "x": x, "facebook": facebook, "messenger": messenger,
             "instagram": instagram, "whatsapp": whatsapp, "chat": chat, "web": web, "ref": ref}
    wanted = [(k, v) for k, v in given.items() if v]
    if not wanted:
        raise BadRequest("give one of: " + ", ".join(LOOKUP_KINDS))
    w = wiring_of(router)
    repo = w.profiles
    ids = [cid for k, v in wanted if (cid := w.identity.find_customer(k, v)) is not None]
    profiles = [p for cid in dict.fromkeys(ids) if (p := repo.get_profile(cid)) is not None]
    unique = list({p.id: p for p in profiles}.values())
    # A lookup matches a handful of customers at most; the cursor is an offset into them.
    start = cursors.decode_offset(cursor)
    page = unique[start : start + limit]
    next_cursor = cursors.encode_offset(start + limit) if start + limit < len(unique) else None
    return {"customers": [_summary(p) for p in page], "cursor": next_cursor}


@router.get("/api/customers/<customer_id>", openapi_extensions=needs(Role.AGENT))
def get_customer(customer_id: str, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """The flat customer 360; a merged id answers with its survivor's, saying so."""
    w = wiring_of(router)
    repo = w.profiles
    view = repo.customer_view(customer_id)  # a merged id gives its survivor's view
    if view is None:
        raise NotFound(f"no customer {customer_id}")
    redirected = view.profile.id if view.profile.id != customer_id else None
    page = repo.timeline(view.profile.id, limit=limit, cursor=cursor)
    body = customer_360(w, view, page.items, page.cursor)
    body["merged_into"] = redirected
    body["requested_id"] = customer_id
    return body


def _customer_page(customer_id: str, read: Callable[[str], Page]) -> tuple[str, Page]:
    """One page of a customer's items (a merged id reads its survivor's); 404 for an unknown id."""
    profile = wiring_of(router).profiles.get_profile(customer_id)
    if profile is None:
        raise NotFound(f"no customer {customer_id}")
    return profile.id, read(profile.id)


@router.get("/api/customers/<customer_id>/timeline", openapi_extensions=needs(Role.AGENT))
def get_timeline(customer_id: str, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    repo = wiring_of(router).profiles
    found, page = _customer_page(customer_id, lambda cid: repo.timeline(cid, limit=limit, cursor=cursor))
    return {"id": found, "timeline": [timeline_entry(i) for i in page.items], "cursor": page.cursor}


@router.get("/api/customers/<customer_id>/interactions/<interaction_id>/text",
            openapi_extensions=needs(Role.AGENT))
def get_interaction_text(customer_id: str, interaction_id: str) -> dict[str, Any]:
    """The whole text of one of the customer's messages (the timeline shows a preview of a long
    one); 404 for an unknown customer or message, or one deleted by its author."""
    w = wiring_of(router)
    profile = w.profiles.get_profile(customer_id)
    if profile is None:
        raise NotFound(f"no customer {customer_id}")
    wanted = unquote(interaction_id)  # ids hold ":" and may hold characters the client escaped
    found = w.profiles.full_text(wanted, w.media_store)
    if found is None or found[0] != profile.id:
        raise NotFound(f"customer {customer_id} has no message {wanted}")
    item = found[1]
    if item.get("deleted"):
        raise NotFound(f"message {wanted} was deleted by its author")
    text = item.get("text") or ""
    return {"id": wanted, "customer_id": profile.id, "text": text, "text_length": len(text),
            "text_truncated_in_timeline": bool(item.get("text_truncated", False))}


@router.get("/api/customers/<customer_id>/suggestions", openapi_extensions=needs(Role.AGENT))
def get_suggestions(customer_id: str, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Customers an agent may want to merge with this one, and why."""
    repo = wiring_of(router).profiles
    found, page = _customer_page(customer_id, lambda cid: repo.suggestions(cid, limit=limit, cursor=cursor))
    return {"id": found, "suggestions": [suggestion_entry(i) for i in page.items], "cursor": page.cursor}


@router.delete("/api/customers/<customer_id>/suggestions/<other_id>",
               openapi_extensions=needs(Role.SUPERVISOR))
def dismiss_suggestion(customer_id: str, other_id: str) -> dict[str, Any]:
    """Two customers are different people: drop the suggestion (audited; not suggested again)."""
    return wiring_of(router).identity.dismiss_suggestion(customer_id, other_id, actor="api")


@router.post("/api/customers/merge", openapi_extensions=needs(Role.SUPERVISOR))
def merge_customers(request: MergeRequest) -> dict[str, Any]:
    """Merge ``source`` into ``target``; 409 when they hold different verified identifiers."""
    note_targets(router, source=request.source, target=request.target)
    return wiring_of(router).merges.merge(request.source, request.target, actor="api", force=request.force)


@router.post("/api/customers/<customer_id>/unmerge", openapi_extensions=needs(Role.SUPERVISOR))
def unmerge_customer(customer_id: str, request: UnmergeRequest) -> dict[str, Any]:
    """Split the given identities, and the interactions that came through them, off a customer."""
    identities = [(i.kind.value, i.value) for i in request.identities]
    return wiring_of(router).merges.unmerge(customer_id, identities, actor="api")
