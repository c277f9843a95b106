"""Secrets from Secrets Manager, cached per execution environment by Powertools Parameters.

A secret's value is either the plain secret, or a JSON object keyed by brand account id (page
id, X user id, WhatsApp phone-number id) with an optional ``"default"``. Anything missing or
empty raises ``SecretUnavailable``: callers fail closed.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities import parameters

from socialcare.errors import SecretUnavailable
from socialcare.settings import get_settings

# Secrets rotate rarely; five minutes bounds both staleness after a rotation and cost.
_MAX_AGE_SECONDS = 300


def _arn(field: str) -> str:
    arn = getattr(get_settings(), f"{field}_arn", "")
    if not arn:
        raise SecretUnavailable(f"secret {field} is not configured")
    return str(arn)


def secret_value(field: str) -> str:
    """The raw string of the secret named by settings field ``<field>_arn``."""
    arn = _arn(field)
    try:
        value = parameters.get_secret(arn, max_age=_MAX_AGE_SECONDS)
    except Exception as exc:  # GetParameterError, ClientError, ...: all mean "no secret"
        raise SecretUnavailable(f"secret {field} could not be read") from exc
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str) or not value.strip():
        raise SecretUnavailable(f"secret {field} is empty")
    return value


def secret_json(field: str) -> Any:
    """The secret parsed as JSON, or the plain string when it is not JSON."""
    raw = secret_value(field)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def secret_for_account(field: str, account_id: str | None) -> str:
    """The secret of one brand account: its own entry, else ``default``, else the plain value."""
    value = secret_json(field)
    if isinstance(value, dict):
        entry = value.get(account_id or "") if account_id else None
        if entry is None:
            entry = value.get("default")
        if isinstance(entry, str) and entry:
            return entry
        raise SecretUnavailable(f"secret {field} has no entry for account {account_id!r}")
    if isinstance(value, str):
        return value
    raise SecretUnavailable(f"secret {field} has an unsupported shape")


def secret_candidates(field: str) -> list[str]:
    """Every distinct key in the secret (to verify a signature when the account is unknown
    until the body is trusted, e.g. Meta's app secret with several apps)."""
    value = secret_json(field)
    if isinstance(value, dict):
        found = [v for v in value.values() if isinstance(v, str) and v]
        if not found:
            raise SecretUnavailable(f"secret {field} is empty")
        return list(dict.fromkeys(found))
    if isinstance(value, str):
        return [value]
    raise SecretUnavailable(f"secret {field} has an unsupported shape")
