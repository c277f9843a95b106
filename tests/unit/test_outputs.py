"""The stack's outputs name everything an admin wires after a deploy (docs/build.md, "After the
first deploy"): each webhook's URL, the functions invoked from outside the stack, every queue,
table, topic, bucket and secret. A resource added without its output fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml

TEMPLATE = load_yaml((Path(__file__).resolve().parents[2] / "template.yaml").read_text(encoding="utf-8"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
OUTPUTS: dict[str, Any] = TEMPLATE["Outputs"]
OUTPUT_TEXT = json.dumps(OUTPUTS)


def of_type(kind: str) -> list[str]:
    return [name for name, r in RESOURCES.items() if r.get("Type") == kind and "Condition" not in r]


def referenced(logical_id: str, *attributes: str) -> bool:
    """An output's value is ``!Ref logical_id`` or ``!GetAtt logical_id.<one of attributes>``."""
    values = [o["Value"] for o in OUTPUTS.values()]
    return {"Ref": logical_id} in values or any({"Fn::GetAtt": [logical_id, a]} in values for a in attributes)


def test_every_queue_table_topic_and_bucket_is_an_output() -> None:
    wanted = {"AWS::SQS::Queue": ("QueueName", "Arn"), "AWS::DynamoDB::Table": ("Arn",),
              "AWS::SNS::Topic": ("TopicName",), "AWS::S3::Bucket": ("Arn",)}
    missing = [name for kind, attributes in wanted.items() for name in of_type(kind)
               if not referenced(name, *attributes)]
    assert missing == []


def test_every_webhook_route_has_its_url() -> None:
    paths = {e["Properties"]["Path"] for r in RESOURCES.values() if r.get("Type") == "AWS::Serverless::Function"
             for e in (r["Properties"].get("Events") or {}).values()
             if e["Type"] == "HttpApi" and e["Properties"]["Path"].startswith("/webhooks/")}
    subs = [o["Value"]["Fn::Sub"] for o in OUTPUTS.values() if isinstance(o["Value"], dict) and "Fn::Sub" in o["Value"]]
    assert sorted(p for p in paths if not any(s.endswith("}" + p) for s in subs)) == []


def test_functions_invoked_from_outside_the_stack_give_their_arn() -> None:
    # no event source in the template: something outside calls them (Amazon Connect)
    outside = [name for name in of_type("AWS::Serverless::Function")
               if not RESOURCES[name]["Properties"].get("Events")]
    assert outside, "the caller lookup is invoked by Amazon Connect"
    assert [name for name in outside if not referenced(name, "Arn")] == []


def test_every_secret_to_fill_is_listed() -> None:
    # a secret CloudFormation generates (the erasure salt) is never filled by anyone
    secrets = [s for s in of_type("AWS::SecretsManager::Secret")
               if "GenerateSecretString" not in RESOURCES[s].get("Properties", {})]
    listed = OUTPUTS["SecretArns"]["Value"]["Fn::Join"][1]
    assert sorted(s for s in secrets if {"Ref": s} not in listed) == []
