"""The CRM adapter interface, its two failure kinds, and the HTTP core every adapter shares.

An adapter turns one ``CaseUpserted`` into the vendor's records and returns the vendor's record
id. It never sleeps and never retries by itself: a failure is either

* ``Retryable`` (5xx, 429, timeouts, connection errors, our own token bucket saying "wait") with
  an optional ``retry_after`` in seconds that the sync honours by delaying the SQS message; or
* ``Permanent`` (any other 4xx, a malformed configuration) with a readable ``reason`` that goes to
  the DLQ with the message.

Keeping retries out of the adapters is what lets one SQS message visibility change replace every
vendor SDK's own sleeping retry loop (a sleeping Lambda is billed, blocks its FIFO group and can
outlive its timeout).
"""

from __future__ import annotations

import email.utils
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from urllib.parse import urlparse

import requests

from socialcare.config.settings import CrmTuning
from socialcare.models.crm import CaseUpserted
from socialcare.redact import scrub


class CrmError(Exception):
    def __init__(self, reason: str, *, status: int | None = None) -> None:
        reason = scrub(reason)  # logged and stored with the DLQ message: a URL may carry a token
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Retryable(CrmError):
    """Try again later; ``retry_after`` (seconds) is the CRM's own hint when it gave one.
    ``rate_limited``: the CRM (429, a vendor's throttle) or our token bucket said "not now" - the
    sync's retry budget counts only the other failures (docs/crm.md, "Retries")."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None,
                 rate_limited: bool = False) -> None:
        super().__init__(reason, status=status)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class Permanent(CrmError):
    """Retrying cannot help (a 4xx other than 408/409/423/425/429, bad configuration)."""


@dataclass(frozen=True)
class UpsertResult:
    record_id: str
    created: bool = False


class TokenSource(Protocol):
    """Answers 0 when a request may go now, else the seconds to wait (see ``ratelimit``)."""

    def take(self, tokens: float = 1.0) -> float: ...

    def hold(self, seconds: float) -> None: ...


class NoGuard:
    def once(self, key: str, action: Callable[[], str]) -> str:
        return action()


class Unlimited:
    def take(self, tokens: float = 1.0) -> float:
        return 0.0

    def hold(self, seconds: float) -> None:
        return None


@dataclass(frozen=True)
class CrmErasure:
    """Erase a customer from the CRM (GDPR): their records and their contact. ``delivery_id``
    (the erasure job's opaque id) repeats on every retry; erasing twice is not an error."""

    customer_id: str
    records: tuple[tuple[str, str], ...] = ()  # (case id, the CRM's record id)
    delivery_id: str = ""


class CrmAdapter(ABC):
    provider: ClassVar[str]

    @abstractmethod
    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        """Create or update the case's CRM record; ``record_id`` is the id we stored last time
        (may be None or stale - adapters fall back to their external-id lookup)."""

    def erase_customer(self, request: CrmErasure) -> None:
        """Delete the customer's records and contact from the CRM; a record already gone is not an
        error. An adapter that cannot raises ``Permanent`` (the erasure job stops at its last step,
        with our own copy already erased, and its message goes to the DLQ for an operator)."""
        raise Permanent(f"{self.provider}: erasing a customer is not supported by this adapter")


# --------------------------------------------------------------------------- HTTP core

# Status codes worth another try, beyond 5xx: timeout, conflict (concurrent edit), locked, too early.
_RETRYABLE_4XX = frozenset({408, 409, 423, 425, 429})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _summary(response: requests.Response, limit: int = 300) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


class Http:
    """requests.Session wrapper: timeouts, the shared token bucket, and failure classification."""

    def __init__(
        self,
        vendor: str,
        *,
        session: requests.Session | None = None,
        limiter: TokenSource | None = None,
        timeout: float | None = None,
        also_retryable: Callable[[requests.Response], bool] | None = None,
    ) -> None:
        self.vendor = vendor
        # Vendors that signal throttling with another status (Salesforce: 403 REQUEST_LIMIT_EXCEEDED).
        self.also_retryable = also_retryable
        self.session = session or requests.Session()
        self.limiter = limiter or Unlimited()
        self.timeout = timeout if timeout is not None else CrmTuning().timeout_seconds

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: Iterable[int] = (200, 201, 204),
        **kwargs: Any,
    ) -> requests.Response:
        wait = self.limiter.take()
        if wait > 0:
            raise Retryable(f"{self.vendor}: local rate limit, next token in {wait:.1f}s", retry_after=wait,
                            rate_limited=True)
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise Retryable(f"{self.vendor} {method} {url}: timed out") from exc
        except requests.RequestException as exc:
            raise Retryable(f"{self.vendor} {method} {url}: {type(exc).__name__}") from exc
        if response.status_code in set(ok):
            return response
        raise self.classify(method, url, response)

    def classify(self, method: str, url: str, response: requests.Response) -> CrmError:
        status = response.status_code
        where = f"{self.vendor} {method} {urlparse(url).path}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        throttled = self.also_retryable is not None and self.also_retryable(response)
        if status == 429 or status >= 500 or status in _RETRYABLE_4XX or throttled:
            if status == 429 or throttled:
                # Everyone sharing this CRM must wait, not just this message.
                self.limiter.hold(retry_after if retry_after is not None else 1.0)
            return Retryable(f"{where} answered {status}: {_summary(response)}", status=status, retry_after=retry_after,
                             rate_limited=status == 429 or throttled)
        return Permanent(f"{where} answered {status}: {_summary(response)}", status=status)
