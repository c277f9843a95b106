"""Admin operations against a deployed stack (AWS) or a running ``socialcare local``.

The domain code reads its table and queue names from SOCIALCARE_* settings, exactly as in a
Lambda; these helpers find the physical names (CloudFormation for a deployed stack, the naming
rule for the local one) and set them before calling into the domain.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import boto3

from socialcare_infra.template import DEFAULT_STACK, load_template, physical_name

log = logging.getLogger(__name__)

# logical id -> the setting the domain reads it from (queues are URLs, tables names)
SETTINGS_OF = {
    "ProfilesTable": "SOCIALCARE_PROFILES_TABLE",
    "CasesTable": "SOCIALCARE_CASES_TABLE",
    "StateTable": "SOCIALCARE_STATE_TABLE",
    "IdempotencyTable": "SOCIALCARE_IDEMPOTENCY_TABLE",
    "InboundQueue": "SOCIALCARE_INBOUND_QUEUE_URL",
    "CrmSyncQueue": "SOCIALCARE_CRM_SYNC_QUEUE_URL",
    "OutboundQueue": "SOCIALCARE_OUTBOUND_QUEUE_URL",
}


def point_at_local(logical_ids: Iterable[str], *, stack: str = DEFAULT_STACK, moto_port: int = 4566,
                   template: Path | None = None) -> None:
    """Settings for a running ``socialcare local``: its moto endpoint and physical names."""
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    resources = load_template(template or Path("template.yaml"))["Resources"]
    sqs = boto3.client("sqs")
    for logical_id in logical_ids:
        name = physical_name(stack, logical_id, resources[logical_id])
        if resources[logical_id]["Type"] == "AWS::SQS::Queue":
            name = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        os.environ[SETTINGS_OF[logical_id]] = name


def point_at_stack(logical_ids: Iterable[str], *, stack: str) -> None:
    """Settings for a deployed CloudFormation stack (a queue's physical id is its URL)."""
    wanted = set(logical_ids)
    cfn = boto3.client("cloudformation")
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for res in page["StackResourceSummaries"]:
            if res["LogicalResourceId"] in wanted:
                found[res["LogicalResourceId"]] = res["PhysicalResourceId"]
    missing = wanted - set(found)
    if missing:
        raise LookupError(f"stack {stack} has no {', '.join(sorted(missing))}")
    for logical_id, physical in found.items():
        os.environ[SETTINGS_OF[logical_id]] = physical
    # The CRM the stack syncs to is a stack parameter: reconcile must compare against the same one.
    parameters = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters") or []
    provider = next((p["ParameterValue"] for p in parameters if p["ParameterKey"] == "CrmProvider"), None)
    if provider:
        shell = os.environ.get("SOCIALCARE_CRM_PROVIDER")
        if shell and shell != provider:
            log.warning("SOCIALCARE_CRM_PROVIDER=%s in this shell is ignored: stack %s syncs to %s",
                        shell, stack, provider)
        os.environ["SOCIALCARE_CRM_PROVIDER"] = provider


def crm_reconcile(*, dry_run: bool, limit: int | None) -> tuple[list[str], int]:
    """Run the CRM reconciliation; returns printable lines and an exit code."""
    from socialcare.flows.reconcile import reconcile

    report = reconcile(dry_run=dry_run, limit=limit)
    lines = [f"{c.case_id}: ours v{c.version}, CRM has v{c.synced_version}" for c in report.lagging]
    verb = "would re-enqueue" if dry_run else "re-enqueued"
    count = len(report.lagging) if dry_run else len(report.enqueued)
    lines.append(f"{len(report.lagging)} case(s) lag the CRM; {verb} {count}")
    lines += [f"failed {case_id}: {reason}" for case_id, reason in report.failed.items()]
    return lines, 1 if report.failed else 0
