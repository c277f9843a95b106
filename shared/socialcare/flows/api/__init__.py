"""The authenticated agent/analyst API (``/api/*``), one resolver made of per-concept routers."""

from __future__ import annotations

from typing import Any

from socialcare.flows.wiring import Wiring


def wiring_of(router: Any) -> Wiring:
    """The Wiring the ApiFunction put in the request context (``api.app``)."""
    found: Wiring = router.context["wiring"]
    return found
