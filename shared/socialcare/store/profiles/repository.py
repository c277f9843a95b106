"""ProfilesRepository: every read and write of ProfilesTable (the layout is in ``items``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from socialcare.store.profiles.identities import IdentityWrites
from socialcare.store.profiles.merges import MergeWrites
from socialcare.store.profiles.replies import ReplyAliases
from socialcare.store.profiles.satisfaction import SatisfactionWrites
from socialcare.store.profiles.timeline import TimelineWrites


class ProfilesRepository(IdentityWrites, TimelineWrites, MergeWrites, ReplyAliases, SatisfactionWrites):
    def __init__(self, table: str, client: Any, clock: Callable[[], datetime] | None = None) -> None:
        """``clock``: when a message is received (the retention sweep's "last contact")."""
        self.table = table
        self.client = client
        self.clock = clock or (lambda: datetime.now(UTC))
