"""The teams a case is routed to.

In a module of its own (``models.case`` re-exports it) so that what only names a team - the
settings' queue URLs, the publisher - does not build the case models: the webhooks never load
them, ~12 ms of their cold start.
"""

from __future__ import annotations

from enum import StrEnum


class Team(StrEnum):
    SOCIAL = "social"
    CALLCENTRE = "callcentre"
