"""Admin operations against a deployed stack (AWS) or a running ``socialcare local``: finding them.

The domain code reads its table and queue names from SOCIALCARE_* settings, exactly as in a
Lambda; these helpers find the physical names (CloudFormation for a deployed stack, the naming
rule for the local one) and set them before calling into the domain. Every ``socialcare``
command that works on a stack (``crm reconcile``, ``dlq``, ``replay``, ``webhooks``, ``audit``)
resolves its ``Target`` here, so ``--local`` and ``--stack NAME`` mean the same everywhere.

boto3 and the template reader are imported by the functions that use them: ``socialcare --help``
imports none of this.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_LOCAL_STACK = "socialcare-local"  # socialcare_infra.template.DEFAULT_STACK (a test keeps them equal)
DEFAULT_REGION = "eu-west-1"
QUEUE = "AWS::SQS::Queue"

# logical id -> the setting the domain reads it from (queues are URLs, tables names)
SETTINGS_OF = {
    "ProfilesTable": "SOCIALCARE_PROFILES_TABLE",
    "CasesTable": "SOCIALCARE_CASES_TABLE",
    "StateTable": "SOCIALCARE_STATE_TABLE",
    "IdempotencyTable": "SOCIALCARE_IDEMPOTENCY_TABLE",
    "InboundQueue": "SOCIALCARE_INBOUND_QUEUE_URL",
    "CrmSyncQueue": "SOCIALCARE_CRM_SYNC_QUEUE_URL",
    "OutboundQueue": "SOCIALCARE_OUTBOUND_QUEUE_URL",
    "MediaBucket": "SOCIALCARE_MEDIA_BUCKET",
}


def env_port(name: str, default: int) -> int:
    """``$SOCIALCARE_LOCAL_<name>_PORT`` or ``default``: where ``socialcare local`` listens."""
    raw = os.environ.get(f"SOCIALCARE_LOCAL_{name}_PORT")
    return int(raw) if raw else default


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str  # a queue's URL, a table's or bucket's name, a secret's ARN (its name locally)


@dataclass
class Target:
    """Where an ops command works: a deployed CloudFormation stack (the default AWS credentials),
    or the running ``socialcare local`` (moto on ``$SOCIALCARE_LOCAL_MOTO_PORT`` or 4566, names
    from template.yaml)."""

    stack: str
    local: bool = False
    moto_port: int = 4566
    template: Path | None = None
    _resources: dict[str, Resource] | None = field(default=None, init=False, repr=False)

    @classmethod
    def of(cls, stack: str | None, local: bool, template: Path | None = None) -> Target:
        if local:
            return cls(stack or DEFAULT_LOCAL_STACK, True, env_port("MOTO", 4566), template)
        if not stack:
            raise LookupError("name a deployed stack (--stack NAME) or use --local")
        return cls(stack, False)

    def connect(self) -> None:
        """Local: point every AWS client of this process at the local stack's moto. A deployed
        stack is reached the way the AWS CLI would (profile, region and credentials as configured)."""
        if self.local:
            os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{self.moto_port}"
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
            os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)

    def client(self, service: str) -> Any:
        import boto3

        self.connect()
        return boto3.client(service)  # type: ignore[call-overload]

    # ------------------------------------------------------------------ resources
    def resources(self) -> dict[str, Resource]:
        """Every resource of the stack by logical id (read once)."""
        if self._resources is None:
            self._resources = self._local_resources() if self.local else self._stack_resources()
        return self._resources

    def resource(self, logical_id: str) -> Resource:
        found = self.resources().get(logical_id)
        if found is None:
            raise LookupError(f"stack {self.stack} has no {logical_id}")
        return found

    def of_type(self, rtype: str) -> list[Resource]:
        return [r for r in self.resources().values() if r.type == rtype]

    def _stack_resources(self) -> dict[str, Resource]:
        cfn = self.client("cloudformation")
        found: dict[str, Resource] = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=self.stack):
            for res in page["StackResourceSummaries"]:
                lid = res["LogicalResourceId"]
                found[lid] = Resource(lid, res["ResourceType"], res.get("PhysicalResourceId", ""))
        return found

    def _local_resources(self) -> dict[str, Resource]:
        from socialcare_infra.template import load_template, physical_name

        path = self.template or Path("template.yaml")
        if not path.is_file():
            raise LookupError(f"--local reads the stack's names from {path}: run it in the project's directory")
        declared = load_template(path)["Resources"]
        sqs = self.client("sqs")
        found: dict[str, Resource] = {}
        for lid, res in declared.items():
            rtype = str(res.get("Type", ""))
            name = physical_name(self.stack, lid, res)
            if rtype == QUEUE:
                try:
                    name = sqs.get_queue_url(QueueName=name)["QueueUrl"]
                except sqs.exceptions.QueueDoesNotExist:
                    continue  # a conditional queue the local stack did not create
            found[lid] = Resource(lid, rtype, name)
        return found

    # ------------------------------------------------------------------ stack facts
    @cached_property
    def description(self) -> Mapping[str, Any]:
        """DescribeStacks of a deployed stack (parameters, outputs); empty for the local one."""
        if self.local:
            return {}
        return dict(self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"][0])

    def parameter(self, key: str) -> str | None:
        for p in self.description.get("Parameters") or []:
            if p.get("ParameterKey") == key:
                return str(p.get("ParameterValue"))
        return None

    def output(self, key: str) -> str | None:
        for o in self.description.get("Outputs") or []:
            if o.get("OutputKey") == key:
                return str(o.get("OutputValue"))
        return None

    # ------------------------------------------------------------------ settings
    def point(self, logical_ids: Iterable[str]) -> None:
        """Set the SOCIALCARE_* settings the domain reads for these resources."""
        for logical_id in logical_ids:
            os.environ[SETTINGS_OF[logical_id]] = self.resource(logical_id).physical_id
        if not self.local:
            self._crm_provider_of_stack()

    def _crm_provider_of_stack(self) -> None:
        # The CRM the stack syncs to is a stack parameter: reconcile must compare against the same one.
        provider = self.parameter("CrmProvider")
        if provider:
            shell = os.environ.get("SOCIALCARE_CRM_PROVIDER")
            if shell and shell != provider:
                log.warning("SOCIALCARE_CRM_PROVIDER=%s in this shell is ignored: stack %s syncs to %s",
                            shell, self.stack, provider)
            os.environ["SOCIALCARE_CRM_PROVIDER"] = provider


def point_at_local(logical_ids: Iterable[str], *, stack: str = DEFAULT_LOCAL_STACK, moto_port: int = 4566,
                   template: Path | None = None) -> Target:
    """Settings for a running ``socialcare local``: its moto endpoint and physical names."""
    target = Target(stack, True, moto_port, template)
    target.point(logical_ids)
    return target


def point_at_stack(logical_ids: Iterable[str], *, stack: str) -> Target:
    """Settings for a deployed CloudFormation stack (a queue's physical id is its URL)."""
    wanted = list(logical_ids)
    target = Target(stack)
    missing = sorted(set(wanted) - set(target.resources()))
    if missing:
        raise LookupError(f"stack {stack} has no {', '.join(missing)}")
    target.point(wanted)
    return target


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
