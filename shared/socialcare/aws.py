"""boto3 clients, created once per execution environment (not per invocation).

boto3 honours AWS_ENDPOINT_URL, which is how the embedded local stack points every client at
moto; nothing here knows whether it runs locally or in AWS.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def sqs() -> SQSClient:
    return client("sqs")


def reset() -> None:
    """Forget cached clients (tests that switch endpoints between moto instances)."""
    client.cache_clear()
