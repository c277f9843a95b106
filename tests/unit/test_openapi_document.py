"""docs/openapi.json is the API's routes as they are: a route added, removed or changed without
regenerating the document fails here, with the command that regenerates it."""

from __future__ import annotations

import json

from socialcare_infra import openapi


def test_the_committed_document_matches_the_routes() -> None:
    problem = openapi.stale()
    assert problem is None, problem


def test_the_document_names_every_api_route_and_the_bearer_token() -> None:
    doc = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
    routes = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    # README.md, "The API": the routes agents and tools call
    for route in [("GET", "/api/customers"), ("GET", "/api/customers/{customer_id}"),
                  ("GET", "/api/customers/{customer_id}/timeline"), ("POST", "/api/customers/merge"),
                  ("GET", "/api/cases"), ("GET", "/api/cases/{case_id}"), ("POST", "/api/cases/{case_id}/resolve"),
                  ("POST", "/api/teams/{team}/claim")]:
        assert route in routes
    assert all(path.startswith("/api/") for _, path in routes)
    assert doc["security"] == [{"bearer": []}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"].lower() == "bearer"


def test_a_changed_route_is_reported_as_stale(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
    doc["paths"].pop("/api/cases")
    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    problem = openapi.stale(stale)
    assert problem is not None and "socialcare openapi" in problem
