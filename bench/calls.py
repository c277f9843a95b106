"""Every AWS request the bench makes, counted with botocore event hooks, by stage and operation.

``install()`` appends ``before-call.*.*`` / ``after-call.*.*`` to botocore's built-in handler list,
which every new botocore session registers, so the clients ``socialcare.aws`` creates (one
``boto3.session.Session()`` each) carry the hooks without our code knowing (nothing of ours is
patched). The stage is whatever the bench driver set last (``recorder.stage = "processor"``).

For DynamoDB writes the hooks also read the written items' sizes, before and after, straight out
of moto's backend (it runs in this process), to price write request units and index writes the
way DynamoDB bills them; reads are priced from the sizes of the items returned.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore import handlers as botocore_handlers
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item

ACCOUNT = "123456789012"
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@dataclass
class Usage:
    """What one stage asked of AWS: requests per (service, operation), capacity, payload bytes."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    write_units: float = 0.0
    index_write_units: float = 0.0
    read_units: float = 0.0
    sqs_billed_requests: int = 0  # one per started 64 KiB of payload (SQS pricing)
    written_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (table, pk, sk)
    stored_bytes: int = 0  # net growth of items (and their index copies) in DynamoDB
    idle_receives: int = 0  # ReceiveMessage calls that found nothing (not counted in requests)


def _item_size(item: Item | None) -> int:
    return 0 if item is None else int(item.size())


def _json_size(attrs: dict[str, Any]) -> int:
    """DynamoDB's size of an item in wire JSON: names plus values (moto's own measure)."""
    return sum(len(name.encode()) + DynamoType(value).size() for name, value in attrs.items())


class Recorder:
    def __init__(self, region: str) -> None:
        self.region = region
        self.stage = "setup"
        self.enabled = True
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self._pending: dict[int, list[tuple[Any, Any, Any, Item | None]]] = {}
        self._lock = threading.Lock()

    def take(self) -> dict[str, Usage]:
        """What was recorded since the last ``take()``, by stage; recording starts afresh."""
        with self._lock:
            taken, self.usage = dict(self.usage), defaultdict(Usage)
        return taken

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The bench's own bookkeeping requests (queue depth, lookups): not recorded."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    # ------------------------------------------------------------------ hooks
    def before_call(self, model: Any, params: Any, **_: Any) -> None:
        if not self.enabled:
            return
        service = model.service_model.endpoint_prefix
        if service == "dynamodb" and model.name in WRITE_OPS:
            body = json.loads(params.get("body") or b"{}")
            self._pending[threading.get_ident()] = [
                (table, hash_v, range_v, self._item(table, hash_v, range_v)) for table, hash_v, range_v in
                self._write_targets(model.name, body)
            ]

    def after_call(self, model: Any, http_response: Any, parsed: Any, context: Any = None, **_: Any) -> None:
        if not self.enabled:
            return
        service, op = model.service_model.endpoint_prefix, model.name
        with self._lock:
            usage = self.usage[self.stage]
            if op == "ReceiveMessage" and not (parsed or {}).get("Messages"):
                # An event source mapping polls an empty queue all the time; that cost is per
                # hour of deployment, not per interaction, so it is kept apart.
                usage.idle_receives += 1
                return
            usage.requests[(service, op)] += 1
            if service == "sqs":
                sent = len(getattr(http_response, "request_body", b""))
                usage.sqs_billed_requests += max(1, math.ceil(max(sent, len(http_response.content or b"")) / 65536))
            elif service == "dynamodb":
                self._price_dynamodb(usage, op, parsed, http_response)

    # ------------------------------------------------------------------ DynamoDB capacity
    def _price_dynamodb(self, usage: Usage, op: str, parsed: Any, http_response: Any) -> None:
        if op in WRITE_OPS:
            factor = 2.0 if op == "TransactWriteItems" else 1.0
            for table, hash_v, range_v, old in self._pending.pop(threading.get_ident(), []):
                new = self._item(table, hash_v, range_v)
                units, index_units, grown = _write_cost(table, old, new)
                usage.write_units += factor * units
                usage.index_write_units += index_units
                usage.stored_bytes += grown
                if new is not None:
                    usage.written_keys.append((table.name, str(hash_v.value), str(range_v.value if range_v else "")))
            return
        body = json.loads(http_response.content or b"{}")
        request = getattr(http_response, "_bench_request", {})
        factor = 1.0 if request.get("ConsistentRead") else 0.5
        if op == "GetItem":
            usage.read_units += factor * max(1, math.ceil(_json_size(body.get("Item", {})) / 4096))
        elif op == "BatchGetItem":
            for items in body.get("Responses", {}).values():
                usage.read_units += sum(0.5 * max(1, math.ceil(_json_size(i) / 4096)) for i in items)
        elif op in ("Query", "Scan"):
            total = sum(_json_size(i) for i in body.get("Items", []))
            usage.read_units += 0.5 * max(1, math.ceil(total / 4096))
        elif op == "TransactGetItems":
            usage.read_units += sum(2 * max(1, math.ceil(_json_size(r.get("Item", {})) / 4096))
                                    for r in body.get("Responses", []))

    def _table(self, name: str) -> Any:
        return dynamodb_backends[ACCOUNT][self.region].get_table(name)

    def _item(self, table: Any, hash_v: DynamoType, range_v: DynamoType | None) -> Item | None:
        found = table.get_item(hash_v, range_v)
        return Item(found.hash_key, found.range_key, found.to_json()["Attributes"]) if found else None

    def _write_targets(self, op: str, body: dict[str, Any]) -> list[tuple[Any, DynamoType, DynamoType | None]]:
        ops: list[tuple[str, dict[str, Any]]] = []
        if op == "TransactWriteItems":
            for entry in body.get("TransactItems", []):
                inner = next(iter(entry.values()))
                if "ConditionCheck" not in entry:
                    ops.append((inner["TableName"], inner.get("Key") or inner.get("Item") or {}))
        elif op == "BatchWriteItem":
            for name, requests in body.get("RequestItems", {}).items():
                for request in requests:
                    inner = request.get("PutRequest") or request.get("DeleteRequest") or {}
                    ops.append((name, inner.get("Key") or inner.get("Item") or {}))
        else:
            ops.append((body["TableName"], body.get("Key") or body.get("Item") or {}))
        targets = []
        for name, key in ops:
            table = self._table(name)
            range_v = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            targets.append((table, DynamoType(key[table.hash_key_attr]), range_v))
        return targets


def _projected(index: Any, table: Any, item: Item | None) -> dict[str, Any] | None:
    """The item's copy in a global index (None when it lacks the index's keys)."""
    if item is None:
        return None
    attrs = item.to_json()["Attributes"]
    keys = [k["AttributeName"] for k in index.schema]
    if any(k not in attrs for k in keys):
        return None
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return attrs
    wanted = set(keys) | {a for a in (table.hash_key_attr, table.range_key_attr) if a}
    if kind == "INCLUDE":
        wanted |= set(projection.get("NonKeyAttributes", []))
    return {k: v for k, v in attrs.items() if k in wanted}


def _write_cost(table: Any, old: Item | None, new: Item | None) -> tuple[float, float, int]:
    """(write units of the base item, write units of its index copies, bytes stored since).

    DynamoDB bills a write by the larger of the item's sizes before and after (1 KB units) and
    each global index whose copy appears, changes or disappears with its own projected size
    (a key change is a delete plus a put). Every item and index copy stores 100 bytes more.
    """
    units = float(max(1, math.ceil(max(_item_size(old), _item_size(new)) / 1024)))
    index_units = 0.0
    grown = (_item_size(new) + (100 if new else 0)) - (_item_size(old) + (100 if old else 0))
    for index in table.global_indexes:
        before, after = _projected(index, table, old), _projected(index, table, new)
        if before == after:
            continue
        sizes = [s for s in (before, after) if s is not None]
        index_units += len(sizes) if before and after and _keys_moved(index, before, after) else 1
        index_units += max(0, math.ceil(max(_json_size(s) for s in sizes) / 1024) - 1)
        grown += (_json_size(after) + 100 if after else 0) - (_json_size(before) + 100 if before else 0)
    return units, index_units, grown


def _keys_moved(index: Any, before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before.get(k["AttributeName"]) != after.get(k["AttributeName"]) for k in index.schema)


_installed: list[Recorder] = []


def install(recorder: Recorder) -> None:
    """Hook every botocore session created from now on (see the module's docstring)."""
    if not _installed:
        botocore_handlers.BUILTIN_HANDLERS.append(("before-call.*.*", _before))
        botocore_handlers.BUILTIN_HANDLERS.append(("after-call.*.*", _after))
        botocore_handlers.BUILTIN_HANDLERS.append(("before-send.*.*", _before_send))
    _installed[:] = [recorder]


def _before(**kwargs: Any) -> None:
    if _installed:
        _installed[0].before_call(**kwargs)


_sent: threading.local = threading.local()


def _before_send(request: Any, **_: Any) -> None:
    _sent.body = request.body or b""


def _after(**kwargs: Any) -> None:
    if not _installed:
        return
    response = kwargs.get("http_response")
    if response is not None:
        body = getattr(_sent, "body", b"") or b""
        response.request_body = body if isinstance(body, bytes) else str(body).encode()
        try:
            response._bench_request = json.loads(response.request_body or b"{}")
        except ValueError:
            response._bench_request = {}
    _installed[0].after_call(**kwargs)
