"""X Activity API (XAA) deliveries to the same webhook: ``{"data": {"event_type", "filter",
"payload", "includes"}}`` (xdevplatform/docs, x-api/activity/event-payloads.mdx). X is moving
Account Activity subscribers to it; its signature and CRC are the webhook's.

* ``post.mention.create``, ``post.reply.create``, ``post.quote.create`` (and ``post.create`` by
  anyone but the brand) -> a public post, mapped like the poller's v2 posts (``x_api``): the
  same ``x:<post id>`` as Account Activity, so a post delivered by both is stored once;
* ``post.repost.create`` -> ``x:retweet``; ``post.delete`` -> ``Action.DELETE``;
* ``dm.received`` -> a DM (its payload is Account Activity's ``direct_message_events`` +
  ``users``); ``dm.sent`` -> ``x:dm_sent_by_brand``;
* everything else (likes, follows, profile updates, mutes, blocks, Spaces, broadcasts, news,
  ``oauth.revoke``, typing/read, and XChat's end-to-end encrypted ``chat.*``, which only the
  XChat client can read) -> counted under ``x:activity:<event_type>``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from socialcare.domain.channels import x_api
from socialcare.domain.channels.common import Parsed, each, indexed
from socialcare.domain.channels.x_events import SOURCE, Context, delete_event, on_dm, users_of
from socialcare.domain.channels.x_models import XModel, brand_ids
from socialcare.errors import BadRequest
from socialcare.models.interaction import Action, InboundEvent

POST_EVENTS = frozenset({"post.create", "post.mention.create", "post.reply.create", "post.quote.create",
                         "post.repost.create"})
DM_EVENTS = frozenset({"dm.received", "dm.sent"})
_SAFE_TYPE = re.compile(r"[^a-z0-9._]")


class ActivityEvent(XModel):
    event_type: str
    filter: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    includes: dict[str, Any] = Field(default_factory=dict)
    event_uuid: str | None = None


def is_activity(payload: dict[str, Any]) -> bool:
    """An X Activity API delivery rather than an Account Activity envelope."""
    return "for_user_id" not in payload and isinstance(payload.get("data"), (dict, list))


def _included_users(includes: dict[str, Any]) -> dict[str, Any]:
    users: dict[str, Any] = {}
    for user in includes.get("users") or []:
        inner = user.get("data", user) if isinstance(user, dict) else None
        if isinstance(inner, dict) and inner.get("id") is not None:
            users[str(inner["id"])] = inner
    return users


def _on_post(event: ActivityEvent, account: str, brands: frozenset[str], raw: Any, parsed: Parsed) -> None:
    post = event.payload
    if str(post.get("author_id", "")) in brands:
        parsed.ignore("x:own_tweet")
        return
    interaction = x_api.v2_tweet_interaction(post, _included_users(event.includes), account, via="activity")
    if interaction is None:
        parsed.ignore("x:retweet")
        return
    parsed.events.append(
        InboundEvent(action=Action.CREATE, source=SOURCE, event_id=interaction.platform_message_id,
                     interaction=interaction, raw=raw)
    )


def _on_delete(event: ActivityEvent, raw: Any, parsed: Parsed) -> None:
    post_id, author_id = event.payload.get("id"), event.payload.get("author_id")
    if post_id is None or author_id is None:
        raise BadRequest("post.delete without id or author_id")
    parsed.events.append(delete_event(str(post_id), str(author_id), None, raw))


def _on_event(brand_x_ids: frozenset[str], raw: Any, parsed: Parsed) -> None:
    event = ActivityEvent.model_validate(raw)
    account = str(event.filter.get("user_id") or "")
    parsed.account = parsed.account or account or None
    brands = brand_ids(brand_x_ids, account)
    kind = event.event_type
    if kind in POST_EVENTS:
        _on_post(event, account, brands, raw, parsed)
    elif kind == "post.delete":
        _on_delete(event, raw, parsed)
    elif kind in DM_EVENTS:
        users = event.payload.get("users")
        ctx = Context(account=account, brands=brands, users=users_of(users),
                      raw_users=users if isinstance(users, dict) else {})
        dms = event.payload.get("direct_message_events")
        each(parsed, "x:invalid:activity:dm", indexed("direct_message_events", dms),
             lambda dm, own: on_dm(ctx, dm, own, via="activity"))
    else:
        parsed.ignore(f"x:activity:{_SAFE_TYPE.sub('_', kind.lower())[:60]}")


def parse_activity_api(payload: dict[str, Any], brand_x_ids: frozenset[str]) -> Parsed:
    """The events of one X Activity API delivery (``data`` is one event, or a list of them)."""
    parsed = Parsed()
    each(parsed, "x:invalid:activity", indexed("data", payload["data"]),
         lambda raw, own: _on_event(brand_x_ids, raw, own))
    return parsed
