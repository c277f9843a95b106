"""Secrets from Secrets Manager, cached per execution environment by Powertools Parameters.

A secret's value is either the plain secret, or a JSON object keyed by brand account id (page
id, X user id, WhatsApp phone-number id) with an optional ``"default"``. Every value is decoded
by one rule, ``decode``, before any caller sees it: a key is a non-blank string (a JSON string
literal is its decoded text, so ``""`` is blank), blank entries of a JSON object are dropped,
and anything missing, blank or of another shape raises ``SecretUnavailable``: callers fail
closed (500, nothing processed), never "verify with an empty key".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters

from socialcare.errors import SecretUnavailable

# Secrets rotate rarely; five minutes bounds both staleness after a rotation and cost.
_MAX_AGE_SECONDS = 300


def _blank(value: Any) -> bool:
    """No usable content: None, a whitespace-only string, or an empty JSON object/array."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (dict, list)) and not value


def decode(name: str, raw: str | bytes | None) -> str | dict[str, Any]:
    """The one decoding rule for every secret: a non-blank plain key, or a JSON object whose blank
    entries are dropped (it may be left empty: a map of optional entries such as CRM vendors).

    Raises ``SecretUnavailable`` for a blank value, a JSON string literal that is blank (``""``,
    ``" "``), and JSON ``null``, ``true``/``false`` or an array: none of them is a key.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str) or _blank(raw):
        raise SecretUnavailable(f"secret {name} is empty")
    try:
        found = json.loads(raw)
    except ValueError:
        return raw  # not JSON: the plain secret itself
    if isinstance(found, str):
        if _blank(found):
            raise SecretUnavailable(f"secret {name} is empty")
        return found
    if isinstance(found, dict):
        return {str(k): v for k, v in found.items() if not _blank(v)}
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        return raw  # a plain secret that happens to be all digits
    raise SecretUnavailable(f"secret {name} has an unsupported shape")


class SecretStore:
    """The secrets one function may read, by name (``x_consumer_secret``...) -> ARN."""

    def __init__(self, arns: Mapping[str, str], client: Callable[[], Any] | None = None) -> None:
        """``client``: makes the Secrets Manager client to read with (the environment's shared one,
        ``socialcare.aws.client``); without it, Powertools' ``get_secret`` opens a session of its
        own (~35 ms more cold start)."""
        self.arns = dict(arns)
        self._client = client
        self._provider: parameters.SecretsProvider | None = None

    def _get(self, arn: str) -> Any:
        if self._client is None:
            return parameters.get_secret(arn, max_age=_MAX_AGE_SECONDS)
        if self._provider is None:  # on first use: building the store creates no client
            self._provider = parameters.SecretsProvider(boto3_client=self._client())
        return self._provider.get(arn, max_age=_MAX_AGE_SECONDS)

    def _raw(self, name: str) -> str | bytes | None:
        arn = self.arns.get(name)
        if not arn:
            raise SecretUnavailable(f"secret {name} is not configured")
        try:
            found = self._get(arn)
        except Exception as exc:  # GetParameterError, ClientError, ...: all mean "no secret"
            raise SecretUnavailable(f"secret {name} could not be read") from exc
        return found if isinstance(found, (str, bytes)) else None

    def json(self, name: str) -> str | dict[str, Any]:
        """The secret decoded (``decode``): a non-blank plain key, or a JSON object without blank
        entries."""
        return decode(name, self._raw(name))

    def value(self, name: str) -> str:
        """Secret ``name`` as one non-blank key (a plain secret or a JSON string literal)."""
        found = self.json(name)
        if isinstance(found, str):
            return found
        raise SecretUnavailable(f"secret {name} must be one key, not a JSON object")

    def for_account(self, name: str, account_id: str | None) -> str:
        """The secret of one brand account: its own entry, else ``default``, else the plain value."""
        found = self.json(name)
        if isinstance(found, str):
            return found
        entry = found.get(account_id) if account_id else None
        if entry is None:
            entry = found.get("default")
        if isinstance(entry, str):  # non-blank: decode dropped blank entries
            return entry
        raise SecretUnavailable(f"secret {name} has no entry for account {account_id!r}")

    def candidates(self, name: str) -> list[str]:
        """Every distinct key in the secret (to verify a signature when the account is unknown
        until the body is trusted, e.g. Meta's app secret with several apps). Never empty, and
        never an empty key."""
        found = self.json(name)
        if isinstance(found, str):
            return [found]
        keys = [v for v in found.values() if isinstance(v, str)]
        if not keys:
            raise SecretUnavailable(f"secret {name} is empty")
        return list(dict.fromkeys(keys))
