"""Roles on /api/* without AWS: which role each route needs, the JWT claims API Gateway passes on,
the public OpenAPI document and Swagger UI, and the template's JWT authorizer and user pool.

The resolver is the real ApiFunction one, built with placeholder settings; every request here is
answered before any service is called (a 401, a 403, a public route, or a probe route of the test's
own), so nothing reaches AWS. The moto-backed behaviour (named tokens, the audit trail) is in
tests/integration/test_api_access.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfn_tools import load_yaml

from socialcare.config.settings import ApiSettings
from socialcare.flows.api.app import build
from socialcare.flows.api.auth import Role, claim_values, highest_role, needs
from socialcare.flows.wiring import Wiring

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ApiSettings(profiles_table="p", cases_table="c", social_team_queue_url="s", callcentre_team_queue_url="cc",
                       outbound_queue_url="o", api_token_arn="arn:aws:secretsmanager:eu-west-1:1:secret:t",
                       audit_table="a")

# What each role may do (README, "The API"): agents read and work cases, supervisors also merge,
# unmerge, reopen and dismiss suggestions, admins also read the audit trail.
EXPECTED_ROLES = {
    ("GET", "/api/customers"): "agent",
    ("GET", "/api/customers/{customer_id}"): "agent",
    ("GET", "/api/customers/{customer_id}/timeline"): "agent",
    ("GET", "/api/customers/{customer_id}/interactions/{interaction_id}/text"): "agent",
    ("GET", "/api/customers/{customer_id}/suggestions"): "agent",
    ("GET", "/api/cases"): "agent",
    ("GET", "/api/cases/{case_id}"): "agent",
    ("GET", "/api/cases/{case_id}/reply-options"): "agent",
    ("POST", "/api/teams/{team}/claim"): "agent",
    ("POST", "/api/cases/{case_id}/release"): "agent",
    ("POST", "/api/cases/{case_id}/replies"): "agent",
    ("POST", "/api/cases/{case_id}/handoff"): "agent",
    ("POST", "/api/cases/{case_id}/resolve"): "agent",
    ("POST", "/api/cases/{case_id}/reopen"): "supervisor",
    ("POST", "/api/customers/merge"): "supervisor",
    ("POST", "/api/customers/{customer_id}/unmerge"): "supervisor",
    ("DELETE", "/api/customers/{customer_id}/suggestions/{other_id}"): "supervisor",
    ("GET", "/api/audit"): "admin",
    ("GET", "/api/customers/{customer_id}/export"): "admin",
    ("DELETE", "/api/customers/{customer_id}"): "admin",
    # public (docs/privacy.md): Meta's signed callback, and its status page without personal data
    ("POST", "/api/data-deletion/meta"): None,
    ("GET", "/api/data-deletion/{confirmation_code}"): None,
}


@pytest.fixture(scope="module")
def app() -> Any:
    return build(Wiring(SETTINGS), SETTINGS)


def call(app: Any, method: str, path: str, *, claims: dict[str, Any] | None = None, body: Any = None,
         query: str = "") -> tuple[int, dict[str, str], str]:
    context: dict[str, Any] = {
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        "requestId": "r-1", "routeKey": "ANY /api/{proxy+}", "stage": "$default", "accountId": "1", "apiId": "a",
        "domainName": "localhost", "time": "x", "timeEpoch": 0,
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event = {"version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path, "rawQueryString": query,
             "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
             "headers": {"content-type": "application/json"}, "requestContext": context,
             "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}
    response = app.resolve(event, None)
    return response["statusCode"], response.get("headers") or {}, response.get("body") or ""


def agent_claims(groups: str) -> dict[str, str]:
    return {"sub": "7c1d", "username": "luca.desk", "cognito:groups": groups}


# ---------------------------------------------------------------------------------- the role matrix
def test_every_route_names_the_least_role_that_may_call_it() -> None:
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    declared = {(method.upper(), path): op.get("x-socialcare-role")
                for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert declared == EXPECTED_ROLES


def test_a_route_that_names_no_role_is_for_admins_only() -> None:
    app = build(Wiring(SETTINGS), SETTINGS)

    @app.get("/api/probe-unlabelled")
    def _unlabelled() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/probe-supervisor", openapi_extensions=needs(Role.SUPERVISOR))
    def _supervised() -> dict[str, bool]:
        return {"ok": True}

    status, _, body = call(app, "GET", "/api/probe-unlabelled", claims=agent_claims("[supervisor]"))
    assert status == 403
    assert json.loads(body) == {"error": "forbidden", "reason": "GET /api/probe-unlabelled needs admin"}
    assert call(app, "GET", "/api/probe-unlabelled", claims=agent_claims("[admin]"))[0] == 200
    # API Gateway's rendering of a JWT array, JSON arrays, lists and comma lists all count; the highest role wins
    for groups in ("[agent supervisor]", '["supervisor"]', "agent,supervisor", "admin"):
        assert call(app, "GET", "/api/probe-supervisor", claims=agent_claims(groups))[0] == 200, groups
    for groups in ("[agent]", "[]", "", "[Agents SUPERVISORS]"):
        assert call(app, "GET", "/api/probe-supervisor", claims=agent_claims(groups))[0] == 403, groups


# ---------------------------------------------------------------------------------- JWT claims
def test_an_agent_jwt_cannot_merge_unmerge_reopen_or_read_the_audit_trail(app: Any) -> None:
    for method, path, needed, pattern in [
        ("POST", "/api/customers/merge", "supervisor", "/api/customers/merge"),
        ("POST", "/api/customers/c1/unmerge", "supervisor", "/api/customers/{customer_id}/unmerge"),
        ("POST", "/api/cases/SC-1/reopen", "supervisor", "/api/cases/{case_id}/reopen"),
        ("DELETE", "/api/customers/c1/suggestions/c2", "supervisor",
         "/api/customers/{customer_id}/suggestions/{other_id}"),
        ("GET", "/api/audit", "admin", "/api/audit"),
    ]:
        # a body that would fail validation: the 403 comes first and says nothing about it
        status, _, body = call(app, method, path, claims=agent_claims("[agent]"), body={"source": 1})
        assert status == 403
        assert json.loads(body) == {"error": "forbidden", "reason": f"{method} {pattern} needs {needed}"}


def test_a_jwt_without_a_socialcare_group_is_forbidden_everywhere(app: Any) -> None:
    status, _, body = call(app, "GET", "/api/cases", claims={"sub": "1", "cognito:groups": "[marketing]"},
                           query="team=social")
    assert status == 403 and json.loads(body)["reason"] == "GET /api/cases needs agent"


def test_no_jwt_and_no_bearer_token_is_a_401(app: Any) -> None:
    status, _, body = call(app, "POST", "/api/customers/merge", body={"source": 1})
    assert (status, json.loads(body)["error"]) == (401, "unauthorized")


def test_group_claims_are_read_in_every_shape_issuers_send() -> None:
    assert claim_values("[agent supervisor]") == ["agent", "supervisor"]
    assert claim_values('["agent", "admin"]') == ["agent", "admin"]
    assert claim_values(["supervisor"]) == ["supervisor"]
    assert claim_values("agent, supervisor") == ["agent", "supervisor"]
    assert claim_values(None) == [] and claim_values("[]") == []
    assert highest_role(["agent", "admin", "supervisor"]) is Role.ADMIN
    assert highest_role(["viewer"]) is None


# ---------------------------------------------------------------------------------- public documents
def test_the_openapi_document_and_swagger_ui_need_no_token(app: Any) -> None:
    status, _, body = call(app, "GET", "/api/openapi.json")
    assert status == 200
    assert json.loads(body) == json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))

    status, headers, page = call(app, "GET", "/api/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and "SwaggerUIBundle" in page
    status, _, spec = call(app, "GET", "/api/docs", query="format=json")
    assert status == 200 and "/api/customers/merge" in json.loads(spec)["paths"]


# ---------------------------------------------------------------------------------- the template
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(load_yaml((ROOT / "template.yaml").read_text(encoding="utf-8"))))
    return loaded


def test_only_the_api_proxy_route_needs_a_jwt_and_the_documents_are_open(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    auth = resources["HttpApi"]["Properties"]["Auth"]
    jwt = auth["Authorizers"]["ApiJwtAuthorizer"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    issuer, audience = jwt["JwtConfiguration"]["issuer"]["Fn::If"], jwt["JwtConfiguration"]["audience"]["Fn::If"]
    assert issuer[0] == audience[0] == "HasExternalIssuer" and issuer[1] == {"Ref": "ApiJwtIssuer"}
    assert "${ApiUserPool}" in issuer[2]["Fn::Sub"] and audience[2] == [{"Ref": "ApiUserPoolClient"}]
    assert "DefaultAuthorizer" not in auth  # the webhooks are signed by their platforms, not JWTs

    events = resources["ApiFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth")
              for e in events.values()}
    assert routes == {("ANY", "/api/{proxy+}"): {"Authorizer": "ApiJwtAuthorizer"},
                      ("GET", "/api/openapi.json"): None, ("GET", "/api/docs"): None,
                      # Meta's data-deletion callback (signed) and its status page (docs/privacy.md)
                      ("POST", "/api/data-deletion/meta"): None,
                      ("GET", "/api/data-deletion/{confirmation_code}"): None}


def test_the_user_pool_has_the_three_role_groups_and_no_self_sign_up(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    groups = {r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"agent", "supervisor", "admin"}
    pool = resources["ApiUserPool"]
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert resources["ApiUserPoolClient"]["Properties"]["GenerateSecret"] is False
    cognito = [lid for lid, r in resources.items() if r["Type"].startswith("AWS::Cognito::")]
    assert all(resources[lid].get("Condition") == "UseCognito" for lid in cognito)
    outputs = template["Outputs"]
    assert {"ApiUserPoolId", "ApiUserPoolClientId", "ApiJwtIssuerUrl", "AuditTableName"} <= set(outputs)


def test_the_api_may_only_append_to_and_query_the_audit_trail(template: dict[str, Any]) -> None:
    policies = template["Resources"]["ApiFunction"]["Properties"]["Policies"]
    on_audit = [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])
                if "AuditTable" in json.dumps(s.get("Resource"))]
    assert [sorted(s["Action"]) for s in on_audit] == [["dynamodb:PutItem", "dynamodb:Query"]]
    assert not any("AuditTable" in json.dumps(p) for p in policies if "Statement" not in p)
    assert template["Resources"]["AuditTable"]["DeletionPolicy"] == "Retain"
