"""moto's TransactWriteItems at the cost of the items it touches, not of the whole table.

moto 5 backs up every table a transaction names with ``copy.deepcopy`` (once per operation)
before applying it, to roll back on a cancelled condition. On a table of tens of thousands of
items that makes each new customer cost a second, and a thousand-customer benchmark hours.
Inside ``cheap_transactions()`` the backup copies only the items the transaction's operations
address, and a cancelled transaction restores exactly those: the same all-or-nothing outcome
DynamoDB (and moto) give, without the quadratic cost. Used by the benchmark only; tests that
check transactions run on moto as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


class _TablesAreNotCopied:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend while a transaction
    runs: a Table "copy" is the table itself (its touched items are saved by us instead)."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


def _addressed(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any, Any]]:
    saved = []
    for entry in transact_items:
        op = next(iter(entry.values()))
        table = backend.get_table(op["TableName"])
        key = op.get("Key") or op.get("Item") or {}
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return saved


def _restore(saved: list[tuple[Table, Any, Any, Any]]) -> None:
    for table, hash_value, range_value, item in reversed(saved):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item


@contextmanager
def cheap_transactions() -> Iterator[None]:
    backend_class = ddb_models.DynamoDBBackend
    original = backend_class.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _addressed(self, transact_items)
        ddb_models.copy = _TablesAreNotCopied  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            _restore(saved)
            raise
        finally:
            ddb_models.copy = copy

    backend_class.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_class.transact_write_items = original  # type: ignore[method-assign]
