"""The sample events in events/: every function of template.yaml has one (events/index.toml names
them), each is shaped as its trigger delivers it, and each reads with the model its function
parses: webhooks verify with the local stack's secrets and split into inbound events, queue
bodies are the queue's message model, the stream record is a case version, and so on.

Secrets live in moto (the functions read them from Secrets Manager); nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    DynamoDBStreamModel,
    EventBridgeModel,
    SqsModel,
)
from cfn_tools import load_yaml
from moto import mock_aws
from pydantic import BaseModel

from socialcare.crm.inbound_events import verify_and_parse
from socialcare.domain.channels import gateway, meta, x
from socialcare.domain.channels.accounts import Accounts
from socialcare.domain.channels.common import check_document
from socialcare.domain.channels.connect import ContactFlowEvent
from socialcare.errors import Unauthorized
from socialcare.flows.api.auth import Role, jwt_principal
from socialcare.flows.case_stream import sync_requests
from socialcare.models.crm import CrmSyncRequest
from socialcare.models.interaction import InboundEvent
from socialcare.models.privacy import ErasureRequest
from socialcare.models.reply import OutboundMessage
from socialcare.models.workitem import WorkItem
from socialcare.secrets import SecretStore
from socialcare.store.cases.items import case_from_item

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
INDEX: dict[str, list[str]] = tomllib.loads((EVENTS / "index.toml").read_text(encoding="utf-8"))
RESOURCES: dict[str, Any] = load_yaml((ROOT / "template.yaml").read_text(encoding="utf-8"))["Resources"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r.get("Type") == "AWS::Serverless::Function"}

# What each queue consumer parses its records' bodies into.
BODY_MODELS: dict[str, type[BaseModel]] = {
    "ProcessorFunction": InboundEvent,
    "SocialTeamDispatcherFunction": WorkItem,
    "CallcentreTeamDispatcherFunction": WorkItem,
    "CrmSyncFunction": CrmSyncRequest,
    "CrmRetryFunction": CrmSyncRequest,
    "ResponderFunction": OutboundMessage,
    "ErasureFunction": ErasureRequest,
}
# The local stack's default secrets (README, "Local secrets"), by SecretStore name.
LOCAL_SECRETS = {
    "x_consumer_secret": "local-x-consumer-secret",
    "meta_app_secret": "local-meta-app-secret",
    "meta_verify_token": "local-meta-verify-token",
    "inbound_secret": "local-inbound-secret",
    "crm_webhook_secret": "local-crm-webhook-secret",
}


def _resign_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("events_resign", EVENTS / "resign.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


resign = _resign_module().resign


def trigger_types(function: str) -> set[str]:
    return {e["Type"] for e in (FUNCTIONS[function]["Properties"].get("Events") or {}).values()}


def samples(*types: str) -> list[tuple[str, str]]:
    """(function, file) for the functions triggered by any of ``types`` ("" = invoked directly)."""
    return [(function, name) for function, names in INDEX.items() if function in FUNCTIONS
            for name in names if (trigger_types(function) or {""}) & set(types)]


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def test_every_function_has_a_sample_and_every_sample_a_function() -> None:
    files = {p.name for p in EVENTS.glob("*.json")}
    named = [name for names in INDEX.values() for name in names]
    assert sorted(set(FUNCTIONS) - set(INDEX)) == [], "functions without a sample in events/index.toml"
    assert sorted(set(INDEX) - set(FUNCTIONS)) == [], "events/index.toml names functions the template lacks"
    assert sorted(set(named) - files) == [], "events/index.toml names files that do not exist"
    assert sorted(files - set(named)) == [], "sample files no function takes (add them to events/index.toml)"


def test_the_build_docs_show_how_to_invoke_every_sample() -> None:
    doc = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    assert [f for f in FUNCTIONS if f not in doc] == []
    assert [n for names in INDEX.values() for n in names if f"events/{n}" not in doc and f"`{n}`" not in doc] == []


@pytest.fixture
def secrets() -> Iterator[SecretStore]:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-west-1")
        arns = {name: sm.create_secret(Name=name, SecretString=value)["ARN"] for name, value in LOCAL_SECRETS.items()}
        parameters.clear_caches()
        yield SecretStore(arns)
        parameters.clear_caches()


@pytest.mark.parametrize(("function", "name"), samples("HttpApi"))
def test_http_samples_are_api_gateway_v2_events_of_a_route_of_their_function(function: str, name: str) -> None:
    event = APIGatewayProxyEventV2Model.model_validate(load(name))
    routes = {f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}"
              for e in FUNCTIONS[function]["Properties"]["Events"].values()}
    assert event.routeKey in routes
    assert event.requestContext.routeKey == event.routeKey
    method, path = event.routeKey.split(" ", 1)
    assert method in ("ANY", event.requestContext.http.method)
    pattern = re.sub(r"\{[^}/]+\}", "[^/]+", re.sub(r"\{[^}/]+\+\}", ".+", path))
    assert re.fullmatch(pattern, event.rawPath), f"{event.rawPath} is not a path of {path}"


def _body(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return (event.get("body") or "").encode("utf-8"), {k.lower(): v for k, v in event["headers"].items()}


def test_x_samples_verify_and_carry_anna_s_mention(secrets: SecretStore) -> None:
    accounts = Accounts(secrets)
    crc = load("x_crc.json")
    assert x.crc_response(accounts, crc["queryStringParameters"]["crc_token"])["response_token"].startswith("sha256=")
    body, headers = _body(load("x_mention.json"))
    assert x.verify(accounts, body, headers)  # signed with the local consumer secret, no timestamp: valid as is
    parsed = x.parse(json.loads(body), frozenset())
    assert [e.interaction.author.handle for e in parsed.events if e.interaction] == ["anna_bianchi"]


def test_meta_samples_verify_and_split_into_inbound_events(secrets: SecretStore) -> None:
    accounts = Accounts(secrets)
    verify = load("meta_verify.json")["queryStringParameters"]
    assert meta.verify_subscription(accounts, verify) == verify["hub.challenge"]
    channels = set()
    for name in ("meta_page_batch.json", "meta_whatsapp.json", "meta_instagram.json"):
        body, headers = _body(load(name))
        meta.verify(accounts, body, headers)
        channels |= {e.interaction.channel.value for e in meta.parse(json.loads(body)).events if e.interaction}
    assert channels == {"facebook", "messenger", "whatsapp", "instagram"}


def test_the_inbound_sample_needs_resigning_and_then_verifies(secrets: SecretStore) -> None:
    accounts = Accounts(secrets)
    stale = load("inbound_email.json")
    with pytest.raises(Unauthorized, match="older than 5 minutes"):
        gateway.verify(accounts, *_body(stale))
    now = time.time()
    body, headers = _body(resign(stale, {}, now))
    gateway.verify(accounts, body, headers, now=now)
    events = gateway.parse(json.loads(body), "IT").events
    assert [e.interaction.channel.value for e in events if e.interaction] == ["email"]


def test_the_crm_webhook_sample_resigned_is_a_status_change_of_anna_s_case(secrets: SecretStore) -> None:
    event = resign(load("crm_webhook_status.json"), {}, time.time())
    body, headers = _body(event)
    provider = event["pathParameters"]["provider"]
    parsed = verify_and_parse(secrets, provider, headers, body, method="POST", uri="https://example" + event["rawPath"],
                              check=check_document)
    assert [(e.kind, e.case_id, e.status) for e in parsed] == [("status", "SC-2026-000001", "resolved")]


def test_the_api_samples_are_the_local_admin_token_and_an_agent_s_jwt_as_deployed() -> None:
    assert load("api_list_cases.json")["headers"]["authorization"] == "Bearer local-api-token"
    claims = APIGatewayProxyEventV2Model.model_validate(load("api_get_case_agent_jwt.json")).requestContext.authorizer
    assert claims is not None and claims.jwt is not None
    principal = jwt_principal(claims.jwt.claims, "cognito:groups")  # the template's SOCIALCARE_API_ROLES_CLAIM
    assert (principal.actor, principal.role, principal.via) == ("marta.agent", Role.AGENT, "jwt")


@pytest.mark.parametrize(("function", "name"), samples("SQS"))
def test_queue_samples_carry_their_queue_s_message_model(function: str, name: str) -> None:
    assert function in BODY_MODELS, f"{function} consumes a queue: name its body model in BODY_MODELS"
    raw = load(name)
    event = SqsModel.model_validate(raw)
    (source,) = [e["Properties"]["Queue"]["Fn::GetAtt"][0]
                 for e in FUNCTIONS[function]["Properties"]["Events"].values() if e["Type"] == "SQS"]
    fifo = bool(RESOURCES[source]["Properties"].get("FifoQueue"))
    for record, body in zip(event.Records, [r["body"] for r in raw["Records"]], strict=True):
        message = BODY_MODELS[function].model_validate_json(body)
        assert record.md5OfBody == hashlib.md5(body.encode()).hexdigest()
        assert record.eventSourceARN.endswith(".fifo") is fifo
        assert (record.attributes.MessageGroupId is not None) is fifo
        if fifo:
            assert record.attributes.MessageGroupId == getattr(message, "group_id")  # noqa: B009 (every model has it)
        if isinstance(message, WorkItem):  # each dispatcher reads its own team's queue
            team = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]["SOCIALCARE_TEAM"]
            assert message.team.value == team


@pytest.mark.parametrize(("function", "name"), samples("DynamoDB"))
def test_stream_samples_are_case_versions_the_relay_publishes(function: str, name: str) -> None:
    raw = load(name)
    DynamoDBStreamModel.model_validate(raw)
    requests = [request for _, request in sync_requests(raw)]
    cases = [case_from_item(r["dynamodb"]["NewImage"]) for r in raw["Records"]]
    assert requests and all(isinstance(r, CrmSyncRequest) for r in requests)
    assert [(r.case_id, r.version) for r in requests if r] == [(c.id, c.version) for c in cases]


@pytest.mark.parametrize(("function", "name"), samples("Schedule", "ScheduleV2"))
def test_schedule_samples_are_eventbridge_scheduled_events(function: str, name: str) -> None:
    event = EventBridgeModel.model_validate(load(name))
    assert (event.detail_type, event.source) == ("Scheduled Event", "aws.events")


@pytest.mark.parametrize(("function", "name"), samples(""))
def test_directly_invoked_samples_are_connect_contact_flow_events(function: str, name: str) -> None:
    assert function == "CallerLookupFunction", f"{function} has no trigger: which event does it take?"
    event = ContactFlowEvent.model_validate(load(name))
    assert event.caller == "+393331112222"
