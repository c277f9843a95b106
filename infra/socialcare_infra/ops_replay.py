"""``socialcare replay --from --to [--channel]``: re-ingest stored interactions, idempotently.

socialcare keeps no archive of whole webhook bodies. What it keeps is, on every interaction's
timeline item in ProfilesTable, the interaction itself and the compressed raw slice of the
platform event it came from (docs/architecture.md, "Canonical model": kept "for audit and
replay"); the media bucket keeps a text too long for the item. Replay rebuilds each
``InboundEvent`` from that item - same interaction id, same event id, its raw slice - and
publishes it onto inbound.fifo through the one publisher, so its SQS deduplication id is the
webhook's. The processor stores an interaction once (its guard on the interaction id): a replayed
interaction that is stored and threaded only republishes its work item under the same id (the
dispatcher delivers an id once); one stored but never threaded is threaded now.

Not replayed: our own replies (``direction = outbound``) and messages their author deleted (their
text and raw slice are gone, as the platform's terms require). Finding the window is a Scan of
ProfilesTable with a filter on the timeline sort key (``TS#<time>#<id>``): an admin sweep, read
once, not an access pattern of the application (no index orders every customer's timeline by time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socialcare_infra.ops import Target

NEEDED = ("ProfilesTable", "InboundQueue", "MediaBucket")
_PERSON_FIELDS = ("author", "identifiers")  # not on the item: rebuilt from author_* below
PUBLISH_BATCH = 10

Progress = Callable[[int, int | None], None]


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class ReplayReport:
    found: int = 0
    published: int = 0
    scanned: int = 0
    without_raw: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def timeline_items(target: Target, start: datetime, end: datetime, channels: Sequence[str],
                   scanned: Callable[[int], None]) -> Iterator[dict[str, Any]]:
    """Inbound, undeleted timeline items with ``start <= occurred_at < end``, on ``channels``."""
    from socialcare.store.codec import from_item
    from socialcare.store.profiles.items import TIMELINE_PREFIX, iso

    ddb = target.client("dynamodb")
    expression = ("sk >= :from AND sk < :to AND attribute_not_exists(deleted)"
                  " AND (attribute_not_exists(#dir) OR #dir = :inbound)")
    names = {"#dir": "direction"}  # names, not words: DynamoDB reserves hundreds of words
    values: dict[str, Any] = {":from": {"S": f"{TIMELINE_PREFIX}{iso(start)}"},
                              ":to": {"S": f"{TIMELINE_PREFIX}{iso(end)}"}, ":inbound": {"S": "inbound"}}
    if channels:
        wanted = [f":c{i}" for i in range(len(channels))]
        expression += f" AND #ch IN ({', '.join(wanted)})"
        names["#ch"] = "channel"
        values.update({name: {"S": channel} for name, channel in zip(wanted, channels, strict=True)})
    table = target.resource("ProfilesTable").physical_id
    for page in ddb.get_paginator("scan").paginate(TableName=table, FilterExpression=expression,
                                                   ExpressionAttributeNames=names,
                                                   ExpressionAttributeValues=values):
        scanned(int(page.get("ScannedCount", 0)))
        for item in page.get("Items", []):
            yield from_item(item)


def inbound_event(item: dict[str, Any], bodies: Any | None) -> Any:
    """The ``InboundEvent`` a timeline item was stored from: its interaction and raw slice."""
    from socialcare.models.interaction import Action, InboundEvent, Interaction
    from socialcare.store.profiles.items import decompress_raw

    fields = {k: item[k] for k in Interaction.model_fields if k in item and k not in _PERSON_FIELDS}
    fields["author"] = {"id": item["author_id"], "handle": item.get("author_handle"),
                        "name": item.get("author_name"), "followers": item.get("followers")}
    if item.get("text_truncated") and item.get("text_s3_key") and bodies is not None:
        fields["text"] = bodies.get_text(str(item["text_s3_key"])) or item.get("text")  # kept whole in S3
    raw = item.get("raw")
    interaction = Interaction.model_validate(fields)
    return InboundEvent(action=Action.CREATE, source="replay", event_id=interaction.platform_message_id,
                        interaction=interaction, raw=decompress_raw(raw) if isinstance(raw, bytes) else None)


def _why(exc: Exception) -> str:
    """What is wrong with an item, never its values (a validation error quotes the input: a text)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors())
    return type(exc).__name__


def replay(target: Target, start: datetime, end: datetime, channels: Sequence[str], *, dry_run: bool,
           scanning: Callable[[int], None], publishing: Progress) -> ReplayReport:
    """Find the window's interactions, then (unless ``dry_run``) publish them onto inbound.fifo."""
    from socialcare.publish import Publisher
    from socialcare.store.media import MediaStore

    bucket = target.resources().get("MediaBucket")
    bodies = MediaStore(bucket.physical_id, target.client("s3")) if bucket else None
    report = ReplayReport()

    def seen(count: int) -> None:
        report.scanned += count
        scanning(report.scanned)

    events = []
    for item in timeline_items(target, start, end, channels, seen):
        try:
            event = inbound_event(item, bodies)
        except Exception as exc:  # an item older code wrote differently: named, never fatal
            report.failed.append(f"{item.get('id', item.get('sk'))}: {_why(exc)}")
            continue
        events.append(event)
        report.channels[event.interaction.channel.value] = report.channels.get(event.interaction.channel.value, 0) + 1
        report.without_raw += event.raw is None
    events.sort(key=lambda e: e.interaction.occurred_at)  # each author's events in their order
    report.found = len(events)
    if dry_run or not events:
        return report
    publisher = Publisher(target.client("sqs"), inbound_url=target.resource("InboundQueue").physical_id)
    publishing(0, len(events))
    for start_at in range(0, len(events), PUBLISH_BATCH):
        chunk = events[start_at:start_at + PUBLISH_BATCH]
        report.published += publisher.inbound(chunk, claims=bodies)  # too large for SQS: claim check
        publishing(report.published, len(events))
    return report
