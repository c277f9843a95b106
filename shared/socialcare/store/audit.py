"""AuditTable repository: who changed what through the API, on which customer or case, and when.

One item per successful state-changing request, written once and never updated (the ApiFunction's
role may only PutItem and Query this table, so the function itself cannot rewrite history):

* ``pk = AUDIT``, ``sk = <at, UTC, microseconds>#<request id>``: the whole trail, newest first;
* ``ActorIndex``: ``actor_pk = ACTOR#<actor>``, ``actor_sk = sk``: one person's actions.

A record holds the actor, role, action (the route key), the ids it acted on, the status, the time
and the request id - never the request body, which carries customer data (reply texts, notes).

Why a table of its own and one partition: the trail outlives StateTable's short TTLs (it is kept
``audit_retention_days``, with point-in-time recovery and ``Retain``), is readable by admins only,
and is append-only by IAM. Its writers are people clicking in an agent desk - a few writes a
second at peak, far below one partition's 1,000 writes a second - so a single partition gives
the newest-first listing with one Query and the shared cursor, with no day-by-day fan-out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcare.errors import BadRequest
from socialcare.store import cursor
from socialcare.store.codec import from_item, to_item

PK = "AUDIT"
ACTOR_INDEX = "ActorIndex"
_ACTOR_PREFIX = "ACTOR#"
MAX_ID = 200  # longest actor or target id kept: 4 UTF-8 bytes each fit a key (1,024 bytes)
_FIELDS = ("actor", "role", "action", "targets", "status", "at", "request_id", "via", "subject", "acting_as")


class AuditRecord(BaseModel):
    """One state-changing API request that succeeded."""

    model_config = ConfigDict(frozen=True)

    actor: str = Field(description="who: the JWT's username / e-mail / sub, or the named token's name")
    role: str = Field(description="the role the request was allowed with: agent, supervisor or admin")
    action: str = Field(description="the route key, e.g. 'POST /api/customers/merge'")
    targets: dict[str, str] = Field(default_factory=dict,
                                    description="what it acted on: case_id, customer_id, source, target...")
    status: int = Field(description="the HTTP status answered")
    at: datetime
    request_id: str
    via: str = Field(description="'jwt' (the HTTP API's authorizer) or 'token' (a named or admin token)")
    subject: str | None = Field(default=None, description="the JWT's sub, when the caller came with one")
    acting_as: str | None = Field(default=None, description="the X-Socialcare-Agent header, when given")


def sort_key(at: datetime) -> str:
    """Fixed width, UTC: sorts as time does (a naive time is taken as UTC)."""
    try:
        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise BadRequest("time out of range") from exc
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # years zero-padded


class AuditLog:
    def __init__(self, table: str, client: Any, *, retention_days: int = 730) -> None:
        self.table = table
        self.client = client
        self.retention = timedelta(days=retention_days)

    def write(self, record: AuditRecord) -> None:
        """Append ``record``; never overwrites one (request ids are unique per request)."""
        sk = f"{sort_key(record.at)}#{record.request_id}"
        data: dict[str, Any] = record.model_dump(mode="json")
        item = to_item({
            **data, "pk": PK, "sk": sk, "actor_pk": _ACTOR_PREFIX + record.actor, "actor_sk": sk,
            "expires_at": int((record.at + self.retention).timestamp()),
        })
        self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(sk)")

    def page(self, *, actor: str | None = None, since: datetime | None = None, limit: int = 50,
             cursor_token: str | None = None) -> tuple[list[AuditRecord], str | None]:
        """Records newest first, optionally one actor's and no older than ``since``; the next
        page's cursor (BadRequest for a cursor of another listing)."""
        if actor is None:
            bound = {"pk": PK}
            kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :p",
                                      "ExpressionAttributeValues": {":p": {"S": PK}}}
            sk_name = "sk"
        else:
            bound = {"pk": PK, "actor_pk": _ACTOR_PREFIX + actor}
            kwargs = {"IndexName": ACTOR_INDEX, "KeyConditionExpression": "actor_pk = :p",
                      "ExpressionAttributeValues": {":p": {"S": _ACTOR_PREFIX + actor}}}
            sk_name = "actor_sk"
        start = cursor.decode(cursor_token, bound=bound)
        if since is not None:
            floor = sort_key(since)
            kwargs["KeyConditionExpression"] += f" AND {sk_name} >= :since"
            kwargs["ExpressionAttributeValues"][":since"] = {"S": floor}
            # DynamoDB refuses a start key outside the key condition: say so as a 400, not a 500.
            if start and start[sk_name]["S"] < floor:
                raise BadRequest("cursor does not belong to this listing")
        if start:
            kwargs["ExclusiveStartKey"] = start
        found = self.client.query(TableName=self.table, ScanIndexForward=False, Limit=limit, **kwargs)
        records = [_record(item) for item in found.get("Items", [])]
        return records, cursor.encode(found.get("LastEvaluatedKey"))


def _record(item: dict[str, Any]) -> AuditRecord:
    data = from_item(item)
    return AuditRecord.model_validate({k: data[k] for k in _FIELDS if k in data})
