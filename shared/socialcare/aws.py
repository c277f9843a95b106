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
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")


def sqs() -> SQSClient:
    return client("sqs")


def s3() -> S3Client:
    return client("s3")


def sns() -> SNSClient:
    return client("sns")


def reset() -> None:
    """Forget cached clients (tests that switch endpoints between moto instances)."""
    client.cache_clear()
