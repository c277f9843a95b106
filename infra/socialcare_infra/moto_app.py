"""moto's WSGI application as the local stack serves it: DynamoDB one request at a time, and
DynamoDB Streams iterators bounded.

Why by hand: moto's own server (``ThreadedMotoServer``) serves every service concurrently and
keeps every shard iterator forever; neither is configurable.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

# Shard iterators kept per moto backend, newest first. AWS expires an iterator after 15 minutes;
# the stream pollers take a new one on every read (four a second at most), so this is minutes.
KEEP_ITERATORS = 1000
_SERIAL_TARGETS = ("DynamoDB_", "DynamoDBStreams_")


class SerialDynamoDB:
    """moto's DynamoDB is not thread-safe: concurrent TransactWriteItems fail with "dictionary
    changed size during iteration", and a cancelled transaction writes, then swaps the table
    back, so a stream read in between sees a write that never happened. DynamoDB and its streams
    answer one request at a time; other services stay concurrent (an SQS long poll blocks)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(_SERIAL_TARGETS):
            return self.app(environ, start_response)
        with self.lock:
            body = list(self.app(environ, start_response))
            if target.startswith("DynamoDBStreams_"):
                prune_stream_iterators()
            return body


def prune_stream_iterators(keep: int = KEEP_ITERATORS) -> int:
    """Forget all but the ``keep`` newest shard iterators of every moto streams backend (each
    holds its shard, and through it a table, alive); returns how many were dropped."""
    dropped = 0
    for regions in list(dynamodbstreams_backends.values()):
        for backend in list(regions.values()):
            iterators = backend.shard_iterators
            for arn in list(iterators)[: max(0, len(iterators) - keep)]:
                del iterators[arn]
                dropped += 1
    return dropped


def moto_app() -> SerialDynamoDB:
    return SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
