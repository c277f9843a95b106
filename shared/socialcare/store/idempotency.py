"""IdempotencyTable: Powertools idempotency, so a side effect runs at most once per key.

Used for what an upsert cannot make idempotent by itself: a CRM delivery of one case version, a
ticket create behind a lagging search index, a comment, a chat post of a work item. Powertools
deletes the in-progress record when the action raises, so a failed attempt is retried; a
concurrent attempt on the same key gets ``Busy`` instead of running twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from socialcare.errors import Busy

# Long enough to cover SQS retention (4 days) and a reconcile run after an outage.
DEFAULT_EXPIRY_SECONDS = 7 * 86_400


class PowertoolsGuard:
    """``once(key, action)``: run ``action`` at most once per ``key``; later calls get its result."""

    def __init__(self, table: str, client: Any, *, expires_after_seconds: int = DEFAULT_EXPIRY_SECONDS) -> None:
        self.store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
        self.config = IdempotencyConfig(expires_after_seconds=expires_after_seconds)

        @idempotent_function(data_keyword_argument="key", persistence_store=self.store, config=self.config)
        def run(*, key: str, action: Callable[[], str]) -> str:
            return action()

        self._run = run

    def register(self, context: Any) -> None:
        """Give Powertools the Lambda context so an in-progress record of a crashed invocation
        expires with that invocation instead of blocking its key until full expiry."""
        if context is not None:
            self.config.register_lambda_context(context)

    def once(self, key: str, action: Callable[[], str]) -> str:
        try:
            return str(self._run(key=key, action=action))
        except IdempotencyAlreadyInProgressError as exc:
            raise Busy(f"another invocation is running {key}", retry_after=10) from exc

