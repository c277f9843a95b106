"""The channels a customer used before a moment, read from her ProfilesTable timeline.

One Query of the customer's partition between two timeline sort keys, newest first, projecting
only ``channel`` and ``direction``: the touchpoint map (``domain.reporting``) needs the order of
channels before a phone call, never what was written. Read by the report aggregator, once per
call it counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from socialcare.store.profiles.items import TIMELINE_PREFIX, customer_pk, iso


class Journeys:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def channels_before(self, customer_id: str, before_sk: str, since: datetime, limit: int = 50) -> list[str]:
        """The channels of the customer's inbound interactions from ``since`` up to (not
        including) the timeline item ``before_sk``, oldest first; at most ``limit`` of the newest."""
        page = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues={
                ":pk": {"S": customer_pk(customer_id)},
                ":from": {"S": f"{TIMELINE_PREFIX}{iso(since)}"},
                ":to": {"S": before_sk},
            },
            ProjectionExpression="sk, channel, direction",
            ScanIndexForward=False,
            Limit=limit + 1,  # BETWEEN includes the item itself
        )
        channels = [
            item["channel"]["S"] for item in page.get("Items", [])
            if item["sk"]["S"] != before_sk and item.get("direction", {}).get("S", "inbound") == "inbound"
            and "channel" in item
        ]
        channels.reverse()
        return channels[-limit:]
