"""A token bucket shared by every concurrent CrmSyncFunction invocation.

``ScalingConfig.MaximumConcurrency`` bounds how many invocations run; this bounds how many CRM
requests they make per second together. The bucket is one StateTable item holding ``tokens`` and
``ts`` (ms); a take reads it, refills by elapsed time, and writes back with a condition on the
values it read (optimistic concurrency), so two invocations can never both spend the same token.
Nobody sleeps here: a caller that gets "wait N s" defers its SQS message by N s instead.

A 429 from the CRM ``hold``s the bucket: it empties it and moves ``ts`` into the future, so every
other invocation waits out the CRM's Retry-After too instead of discovering it one 429 at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

_ATTEMPTS = 5


class BucketStore(Protocol):
    """The bucket item's storage (``store.state.StateRepository``)."""

    def bucket(self, name: str) -> tuple[str, str] | None: ...

    def create_bucket(self, name: str, tokens: float, ts_ms: int) -> bool: ...

    def swap_bucket(self, name: str, read: tuple[str, str], tokens: float, ts_ms: int) -> bool: ...

    def hold_bucket(self, name: str, until_ms: int) -> None: ...


class TokenBucket:
    def __init__(
        self,
        name: str,
        store: BucketStore,
        *,
        rate_per_second: float,
        burst: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("token bucket needs rate_per_second > 0 and burst >= 1")
        self.name = name
        self.store = store
        self.rate = rate_per_second
        self.burst = burst
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def take(self, tokens: float = 1.0) -> float:
        """0.0 if ``tokens`` were taken, else the seconds until they will be available."""
        for _ in range(_ATTEMPTS):
            now = self._now_ms()
            read = self.store.bucket(self.name)
            if read is None:
                if self.store.create_bucket(self.name, self.burst - tokens, now):
                    return 0.0
                continue
            old_ts = int(read[1])
            if now < old_ts:
                # ts in the future = a hold after a 429: nothing refills until it passes.
                return (old_ts - now) / 1000 + tokens / self.rate
            available = min(self.burst, float(read[0]) + (now - old_ts) / 1000 * self.rate)
            if available < tokens:
                return (tokens - available) / self.rate
            if self.store.swap_bucket(self.name, read, available - tokens, now):
                return 0.0
        # Lost the race every time: the bucket is hot, so waiting one token's time is right.
        return 1.0 / self.rate

    def hold(self, seconds: float) -> None:
        """Empty the bucket until ``seconds`` from now (the CRM said Retry-After)."""
        self.store.hold_bucket(self.name, self._now_ms() + int(max(0.0, seconds) * 1000))
