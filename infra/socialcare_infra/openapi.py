"""The API's OpenAPI document, generated from the ApiFunction's routes by Powertools.

``docs/openapi.json`` is this function's output, committed; ``socialcare openapi`` rewrites it
and ``socialcare openapi --check`` fails when the routes changed and it was not regenerated
(``tests/unit/test_openapi_document.py`` runs the same check).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "regenerate it with `.venv/bin/socialcare openapi` (writes docs/openapi.json)"


def document() -> dict[str, Any]:
    """The document as the routes declare it today - what the function serves at
    ``/api/openapi.json`` (nothing is read from AWS: the resolver is built with placeholder
    settings, and building it calls no service)."""
    from socialcare.config.settings import ApiSettings
    from socialcare.flows.api.app import build, openapi_document
    from socialcare.flows.wiring import Wiring

    settings = ApiSettings(profiles_table="ProfilesTable", cases_table="CasesTable",
                           social_team_queue_url="SocialTeamQueue", callcentre_team_queue_url="CallcentreTeamQueue",
                           outbound_queue_url="OutboundQueue", api_token_arn="ApiToken", audit_table="AuditTable")
    return openapi_document(build(Wiring(settings)))


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path = DOCUMENT) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path


def stale(path: Path = DOCUMENT) -> str | None:
    """Why the committed document no longer matches the routes, or None when it does."""
    if not path.exists():
        return f"{path} is missing: {REGENERATE}"
    if path.read_text(encoding="utf-8") != render():
        return f"{path} does not match the API's routes: {REGENERATE}"
    return None
