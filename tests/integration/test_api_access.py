"""Who may do what through /api/*, and the audit trail of what they did (issue 13, item 1).

The real ApiFunction resolver on moto (template.yaml's tables and secrets, the ``aws`` fixture):
named tokens with roles stand in for the JWT authorizer, as on the local stack, and a request
carrying API Gateway's JWT claims (``requestContext.authorizer.jwt.claims``) is what the HTTP
API's authorizer hands the function in AWS. What a user notices: 401/403 answers that say which
role a route needs (and nothing of the request's validation), and every change in the trail
with its actor - and only the changes that happened.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from test_customers_api import facebook_comment, x_post
from test_reply_api import ingest, x_mention

from socialcare.flows.api.app import build
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.observability import metrics

pytestmark = pytest.mark.integration

AwsStack = Any  # tests/integration/conftest.py's fixture type
AGENT, SUPERVISOR, ADMIN = "agent-tok-5f1c2a9e", "supervisor-tok-77ab01c3", "admin-tok-0c9d8e7f"
NAMED_TOKENS = {AGENT: {"role": "agent", "name": "marta"}, SUPERVISOR: "supervisor",
                ADMIN: {"role": "admin", "name": "root"}}


class Api:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    def __call__(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                 claims: dict[str, Any] | None = None, query: dict[str, str] | None = None,
                 agent: str | None = None) -> tuple[int, Any]:
        self.requests += 1
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = token if " " in token else f"Bearer {token}"
        if agent:
            headers["x-socialcare-agent"] = agent
        context: dict[str, Any] = {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": f"req-{self.requests}", "routeKey": "ANY /api/{proxy+}", "stage": "$default",
            "domainName": "localhost", "accountId": "123456789012", "apiId": "api", "time": "x", "timeEpoch": 0,
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event = {
            "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
            "queryStringParameters": query, "headers": headers, "requestContext": context,
            "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
        }
        response = self.app.resolve(event, None)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    def audit(self, **query: str) -> list[dict[str, Any]]:
        status, body = self("GET", "/api/audit", token=ADMIN, query=query)
        assert status == 200, body
        records: list[dict[str, Any]] = body["records"]
        return records


def seed_named_tokens(aws: AwsStack, value: str) -> None:
    boto3.client("secretsmanager", region_name="eu-west-1").put_secret_value(
        SecretId=aws.secret_arns["ApiTokens"], SecretString=value)


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Api:
    seed_named_tokens(aws, json.dumps(NAMED_TOKENS))
    return Api(build(wiring))


def forbidden(needs: str, method: str, path: str) -> tuple[int, dict[str, str]]:
    return 403, {"error": "forbidden", "reason": f"{method} {path} needs {needs}"}


# ---------------------------------------------------------------------------------- roles
def test_an_agent_claims_replies_and_resolves_but_cannot_merge_unmerge_or_reopen(api: Api, wiring: Wiring) -> None:
    case_id = ingest(wiring, x_mention(datetime.now(UTC) - timedelta(minutes=20)))

    status, claimed = api("POST", "/api/teams/social/claim", token=AGENT)
    assert status == 200 and claimed["case"]["id"] == case_id
    status, reply = api("POST", f"/api/cases/{case_id}/replies", {"text": "Ciao Anna, ti scriviamo in DM"},
                        token=AGENT)
    assert status == 202, reply
    status, resolved = api("POST", f"/api/cases/{case_id}/resolve", {"note": "rimborsato"}, token=AGENT)
    assert status == 200 and resolved["status"] == "resolved"

    assert api("POST", "/api/customers/merge", {"source": "c1", "target": "c2"}, token=AGENT) == forbidden(
        "supervisor", "POST", "/api/customers/merge")
    assert api("POST", "/api/customers/c1/unmerge", {"identities": [{"kind": "x", "value": "1"}]},
               token=AGENT) == forbidden("supervisor", "POST", "/api/customers/{customer_id}/unmerge")
    assert api("POST", f"/api/cases/{case_id}/reopen", token=AGENT) == forbidden(
        "supervisor", "POST", "/api/cases/{case_id}/reopen")
    assert api("GET", "/api/audit", token=AGENT) == forbidden("admin", "GET", "/api/audit")
    # ... and the case stayed resolved
    assert api("GET", f"/api/cases/{case_id}", token=AGENT)[1]["status"] == "resolved"


def test_a_forbidden_caller_learns_nothing_from_the_request_validation(api: Api) -> None:
    # an invalid merge body is a 422 naming the fields for a supervisor, a bare 403 for an agent
    assert api("POST", "/api/customers/merge", {"source": 7}, token=SUPERVISOR)[0] == 422
    assert api("POST", "/api/customers/merge", {"source": 7}, token=AGENT) == forbidden(
        "supervisor", "POST", "/api/customers/merge")
    assert api("GET", "/api/audit", token=SUPERVISOR, query={"limit": "0"}) == forbidden("admin", "GET", "/api/audit")


def test_a_wrong_or_missing_token_is_a_401(api: Api) -> None:
    for token in (None, "not-a-token", "Basic YWdlbnQ6eA==", f"Bearer {AGENT}x", "Bearer  "):
        status, body = api("POST", "/api/customers/merge", {"source": 7}, token=token)
        assert status == 401 and body["error"] == "unauthorized", (token, body)
    assert api("GET", "/api/cases", token="wrong", query={"team": "nope"})[0] == 401


def test_the_admin_api_token_stays_an_admin_token(aws: AwsStack, api: Api) -> None:
    assert api("GET", "/api/audit", token=aws.api_token)[0] == 200


def test_named_tokens_that_are_not_a_json_map_are_all_refused_and_the_admin_token_still_works(
    aws: AwsStack, wiring: Wiring
) -> None:
    seed_named_tokens(aws, AGENT)  # a bare token: no role, so no access
    api = Api(build(wiring))
    assert api("GET", "/api/audit", token=AGENT)[0] == 401
    assert api("GET", "/api/audit", token=aws.api_token)[0] == 200


def test_a_supervisor_merges_and_the_trail_names_both_customers(api: Api, wiring: Wiring) -> None:
    processor = Processor(wiring)
    target = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "a", 0))
    source = processor.process(facebook_comment("page_1_c77", "fb-5501", "Anna B.", "b", 5))

    status, merged = api("POST", "/api/customers/merge",
                         {"source": source["customer_id"], "target": target["customer_id"]}, token=SUPERVISOR)
    assert status == 200, merged

    (record,) = api.audit()
    assert record["action"] == "POST /api/customers/merge" and record["role"] == "supervisor"
    assert record["targets"] == {"source": source["customer_id"], "target": target["customer_id"]}
    assert record["actor"].startswith("supervisor-token-") and SUPERVISOR not in json.dumps(record)
    # a merge the domain refuses (already merged: 409) did not happen, so it is not in the trail
    assert api("POST", "/api/customers/merge", {"source": source["customer_id"], "target": target["customer_id"]},
               token=SUPERVISOR)[0] == 409
    assert len(api.audit()) == 1


# ---------------------------------------------------------------------------------- the audit trail
def test_every_change_is_in_the_trail_with_its_actor_and_only_an_admin_reads_it(api: Api, wiring: Wiring) -> None:
    case_id = ingest(wiring, x_mention(datetime.now(UTC) - timedelta(minutes=20)))
    api("POST", "/api/teams/social/claim", token=AGENT)
    api("POST", f"/api/cases/{case_id}/replies", {"text": "Ciao Anna, il mio numero di carta è segreto"},
        token=AGENT, agent="Marta R.")
    api("POST", f"/api/cases/{case_id}/resolve", {"note": "nota interna con dati personali"}, token=AGENT)
    api("POST", f"/api/cases/{case_id}/reopen", token=SUPERVISOR)
    api("GET", f"/api/cases/{case_id}", token=AGENT)  # a read is not a change

    records = api.audit()
    assert [(r["action"], r["actor"], r["role"]) for r in records] == [
        ("POST /api/cases/{case_id}/reopen", records[0]["actor"], "supervisor"),
        ("POST /api/cases/{case_id}/resolve", "marta", "agent"),
        ("POST /api/cases/{case_id}/replies", "marta", "agent"),
        ("POST /api/teams/{team}/claim", "marta", "agent"),
    ]  # newest first
    assert all(r["targets"].get("case_id") == case_id for r in records)
    assert records[2]["targets"]["reply_id"].startswith("reply:") and records[2]["acting_as"] == "Marta R."
    assert records[2]["status"] == 202 and all(r["via"] == "token" and r["request_id"] for r in records)
    assert "segreto" not in json.dumps(records) and "dati personali" not in json.dumps(records)  # never a body

    # one actor's records, a page at a time
    first = api("GET", "/api/audit", token=ADMIN, query={"actor": "marta", "limit": "2"})[1]
    assert [r["action"] for r in first["records"]] == [r["action"] for r in records[1:3]]
    rest = api("GET", "/api/audit", token=ADMIN, query={"actor": "marta", "limit": "2", "cursor": first["cursor"]})[1]
    assert [r["action"] for r in rest["records"]] == ["POST /api/teams/{team}/claim"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert api.audit(since=later) == [] and len(api.audit(since="2020-01-01T00:00:00Z")) == 4
    # a cursor of another listing, or a garbled one, is a 400
    assert api("GET", "/api/audit", token=ADMIN, query={"cursor": first["cursor"]})[0] == 400
    assert api("GET", "/api/audit", token=ADMIN, query={"cursor": "bm9wZQ"})[0] == 400
    assert api("GET", "/api/audit", token=ADMIN, query={"since": "yesterday"})[0] == 422
    assert api.audit(actor="\U0001f600" * 200) == []  # the longest actor, in 4-byte characters, is still a key
    assert api("GET", "/api/audit", token=ADMIN, query={"actor": "\ud800"})[0] == 422
    assert api("GET", "/api/audit", token=ADMIN, query={"since": "0001-01-01T00:00:00+05:00"})[0] == 400
    for token in (AGENT, SUPERVISOR):
        assert api("GET", "/api/audit", token=token)[0] == 403


def test_a_failed_audit_write_does_not_fail_the_change_it_records(
    aws: AwsStack, api: Api, wiring: Wiring, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = ingest(wiring, x_mention(datetime.now(UTC) - timedelta(minutes=20)))
    boto3.client("dynamodb", region_name="eu-west-1").delete_table(TableName=aws.tables["AuditTable"])

    status, resolved = api("POST", f"/api/cases/{case_id}/resolve", token=AGENT)

    assert status == 200 and resolved["status"] == "resolved"
    assert [r.levelname for r in caplog.records if r.getMessage() == "audit record not written"] == ["ERROR"]
    assert metrics.metric_set["AuditWriteFailures"]["Value"] == [1.0]


# ---------------------------------------------------------------------------------- JWT (AWS)
def test_roles_come_from_the_jwt_groups_the_http_api_authorizer_passes_on(api: Api, wiring: Wiring) -> None:
    processor = Processor(wiring)
    target = processor.process(x_post("1850000000000000001", "1001", "anna_bianchi", "Anna Bianchi", "a", 0))
    source = processor.process(facebook_comment("page_1_c77", "fb-5501", "Anna B.", "b", 5))
    merge = {"source": source["customer_id"], "target": target["customer_id"]}
    agent = {"sub": "5f0e-agent", "username": "luca.desk", "cognito:groups": "[agent]", "token_use": "access"}
    supervisor = {"sub": "9a1b-sup", "cognito:username": "sara.lead", "cognito:groups": "[agent supervisor]"}

    # no Authorization header at all: in AWS the authorizer has already checked the JWT
    assert api("POST", "/api/customers/merge", merge, claims=agent) == forbidden(
        "supervisor", "POST", "/api/customers/merge")
    assert api("POST", "/api/customers/merge", merge, claims={"sub": "x", "username": "nobody"})[0] == 403
    assert api("POST", "/api/customers/merge", merge, claims=supervisor)[0] == 200

    (record,) = api.audit()
    assert (record["actor"], record["role"], record["via"], record["subject"]) == (
        "sara.lead", "supervisor", "jwt", "9a1b-sup")
