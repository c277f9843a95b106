"""boto3 clients, created once per execution environment (not per invocation), all from one
boto3 session.

boto3 honours AWS_ENDPOINT_URL, which is how the embedded local stack points every client at
moto; nothing here knows whether it runs locally or in AWS.

One session, not one per client: a session loads botocore's endpoint, partition and defaults
files and keeps the service models it has read, so a second client from the same session costs
~7 ms where a client from a fresh session costs ~40 ms (measured by bench/coldstart.py). Sessions
are not thread-safe while they create clients (the clients themselves are), so creation holds a
lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)

_lock = threading.RLock()
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


def _shared_session() -> boto3.session.Session:
    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            _clients[service] = _shared_session().client(service, config=_CONFIG)  # type: ignore[call-overload]
        return _clients[service]


def sqs() -> SQSClient:
    return client("sqs")


def reset() -> None:
    """Forget the session and its clients (tests that switch endpoints between moto instances)."""
    global _session
    with _lock:
        _session = None
        _clients.clear()
