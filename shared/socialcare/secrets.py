"""Secrets from Secrets Manager, cached per execution environment by Powertools Parameters.

A secret's value is either the plain secret, or a JSON object keyed by brand account id (page
id, X user id, WhatsApp phone-number id) with an optional ``"default"``. Anything missing or
empty raises ``SecretUnavailable``: callers fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters

from socialcare.errors import SecretUnavailable

# Secrets rotate rarely; five minutes bounds both staleness after a rotation and cost.
_MAX_AGE_SECONDS = 300


class SecretStore:
    """The secrets one function may read, by name (``x_consumer_secret``...) -> ARN."""

    def __init__(self, arns: Mapping[str, str]) -> None:
        self.arns = dict(arns)

    def value(self, name: str) -> str:
        """The raw string of secret ``name``."""
        arn = self.arns.get(name)
        if not arn:
            raise SecretUnavailable(f"secret {name} is not configured")
        try:
            found = parameters.get_secret(arn, max_age=_MAX_AGE_SECONDS)
        except Exception as exc:  # GetParameterError, ClientError, ...: all mean "no secret"
            raise SecretUnavailable(f"secret {name} could not be read") from exc
        if isinstance(found, bytes):
            found = found.decode()
        if not isinstance(found, str) or not found.strip():
            raise SecretUnavailable(f"secret {name} is empty")
        return found

    def json(self, name: str) -> Any:
        """The secret parsed as JSON, or the plain string when it is not JSON."""
        raw = self.value(name)
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def for_account(self, name: str, account_id: str | None) -> str:
        """The secret of one brand account: its own entry, else ``default``, else the plain value."""
        found = self.json(name)
        if isinstance(found, dict):
            entry = found.get(account_id or "") if account_id else None
            if entry is None:
                entry = found.get("default")
            if isinstance(entry, str) and entry:
                return entry
            raise SecretUnavailable(f"secret {name} has no entry for account {account_id!r}")
        if isinstance(found, str):
            return found
        raise SecretUnavailable(f"secret {name} has an unsupported shape")

    def candidates(self, name: str) -> list[str]:
        """Every distinct key in the secret (to verify a signature when the account is unknown
        until the body is trusted, e.g. Meta's app secret with several apps)."""
        found = self.json(name)
        if isinstance(found, dict):
            keys = [v for v in found.values() if isinstance(v, str) and v]
            if not keys:
                raise SecretUnavailable(f"secret {name} is empty")
            return list(dict.fromkeys(keys))
        if isinstance(found, str):
            return [found]
        raise SecretUnavailable(f"secret {name} has an unsupported shape")
