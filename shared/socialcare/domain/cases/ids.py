"""Case ids: ``SC-<year>-<sequence>``.

The sequence comes from blocks reserved per execution environment with one atomic ``ADD`` on a
StateTable counter (``SEQ#CASE#<year>``): one write per ``block`` cases instead of a hot counter
per case. Ids are unique and increasing per environment, not gapless (an environment that is
recycled leaves its unused ids).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from socialcare.store.state import StateRepository


class CaseIds:
    def __init__(self, state: StateRepository, block: int) -> None:
        self.state = state
        self.block = block
        self._lock = threading.Lock()
        self._year, self._next, self._end = 0, 1, 0

    def next_id(self, now: datetime | None = None) -> str:
        year = (now or datetime.now(UTC)).astimezone(UTC).year
        with self._lock:
            if year != self._year or self._next > self._end:
                end = self.state.reserve(f"CASE#{year}", self.block)
                self._year, self._next, self._end = year, end - self.block + 1, end
            number = self._next
            self._next += 1
        # Six digits keep ids of a normal year the same width; beyond that they simply grow.
        return f"SC-{year}-{number:06d}"
