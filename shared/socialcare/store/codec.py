"""The one codec between plain Python data and DynamoDB's typed attribute values.

* Writing: floats become Decimal (DynamoDB has no float), Python sets become string sets (an
  empty set is dropped: DynamoDB has no empty sets), bytes become binary, tuples lists, and any
  other object its string; a top-level ``None`` is left out altogether, because a GSI key
  attribute may be absent but never NULL.
* Reading: Decimal becomes int or float again, binary becomes bytes; sets stay sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_SER = TypeSerializer()
_DE = TypeDeserializer()


def dynamo(value: Any) -> Any:
    """``value`` as boto3's serializer accepts it (see the module docstring)."""
    if value is None or isinstance(value, bool | str | int | Decimal | Binary):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, bytes | bytearray):
        return Binary(bytes(value))
    if isinstance(value, Mapping):
        return {str(k): dynamo(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return {str(v) for v in value}
    if isinstance(value, list | tuple):
        return [dynamo(v) for v in value]
    return str(value)


def attribute_value(data: Any) -> dict[str, Any]:
    """One typed attribute value (for update expressions)."""
    return dict(_SER.serialize(dynamo(data)))


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item; top-level None values and empty sets are left out."""
    clean = {k: dynamo(v) for k, v in data.items() if v is not None}
    return {k: _SER.serialize(v) for k, v in clean.items() if not (isinstance(v, set) and not v)}


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    if isinstance(value, Binary):
        raw: Any = value  # the stubs omit Binary.value
        return raw.value
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: plain(_DE.deserialize(v)) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def condition_failed(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def cancelled(exc: Exception) -> bool:
    return error_code(exc) == "TransactionCanceledException"


def conditionally(write: Callable[[], Any]) -> bool:
    """Run a conditional write: True when it was made, False when its condition did not hold."""
    try:
        write()
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def cancellation_codes(exc: Exception) -> list[str]:
    response = getattr(exc, "response", None) or {}
    return [r.get("Code", "None") for r in response.get("CancellationReasons") or []]
