"""Erasure jobs (StateTable), the retention index (ProfilesTable's RetentionIndex) and the audit
entries about a customer (AuditTable): the reads and writes of data-rights work.

* ``ERASURE#<job id>`` / ``JOB`` (StateTable): one erasure - its source, the steps done, the
  times; what to erase (``customer_id`` / ``platform_user_id``) is removed when it is done. Never
  expires: the job id is the opaque record that an erasure happened (and Meta's confirmation code).
* RetentionIndex (ProfilesTable GSI, keys only; ``store.profiles.items``): each profile's
  ``retention_shard`` and the month its last inbound message was received (``retention_month``),
  written by the interaction's own transaction. The sweep asks each shard for the months up to the
  cutoff (one paginated Query per shard, whatever the history), then reads the profiles to compare
  the last contact (``last_contact_at``) exactly: no table scan.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from socialcare.models.privacy import ErasureJob, JobStatus
from socialcare.store.batch import batch_get
from socialcare.store.codec import attribute_value, conditionally, from_item, key, to_item
from socialcare.store.profiles.items import PROFILE, RETENTION_INDEX, RETENTION_SHARDS

JOB_SK = "JOB"
_AUDIT_KEYS = ("pk", "sk", "actor_pk", "actor_sk", "expires_at")  # storage, not the record


def job_pk(job_id: str) -> str:
    return f"ERASURE#{job_id}"


class ErasureJobs:
    def __init__(self, client: Any, *, state_table: str, profiles_table: str | None = None,
                 audit_table: str | None = None) -> None:
        self.client = client
        self.state_table = state_table
        self.profiles_table = profiles_table
        self.audit_table = audit_table

    # ------------------------------------------------------------------ jobs
    def get(self, job_id: str) -> ErasureJob | None:
        found = self.client.get_item(TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK),
                                     ConsistentRead=True).get("Item")
        if not found:
            return None
        data = from_item(found)
        data["steps_done"] = sorted(data.get("steps_done") or [])
        return ErasureJob.model_validate(data)

    def create(self, job: ErasureJob) -> ErasureJob:
        """Record ``job`` unless a job of that id exists; returns the job as stored (the existing
        one on a repeated request: one person, one job)."""
        item = {**job.model_dump(mode="json", exclude={"steps_done"}), "pk": job_pk(job.job_id), "sk": JOB_SK}
        if conditionally(lambda: self.client.put_item(TableName=self.state_table, Item=to_item(item),
                                                      ConditionExpression="attribute_not_exists(pk)")):
            return job
        existing = self.get(job.job_id)
        return existing or job

    def reopen(self, job: ErasureJob) -> None:
        """A finished job asked for again (the person came back and asks again): pending anew."""
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job.job_id), JOB_SK),
            UpdateExpression="SET #s = :p, customer_id = :c, updated_at = :now, requested_at = :now"
                             " REMOVE steps_done, finished_at",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": JobStatus.PENDING.value}, ":c": attribute_value(job.customer_id),
                                       ":now": {"S": datetime.now(UTC).isoformat()}},
        )

    def set_customer(self, job_id: str, customer_id: str) -> None:
        """The customer a platform user id resolved to (Meta's callback)."""
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK), UpdateExpression="SET customer_id = :c",
            ExpressionAttributeValues={":c": {"S": customer_id}},
        )

    def started(self, job_id: str) -> None:
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK),
            UpdateExpression="SET updated_at = :now ADD attempts :one",
            ExpressionAttributeValues={":now": {"S": datetime.now(UTC).isoformat()}, ":one": {"N": "1"}},
        )

    def note(self, job_id: str, customer_ids: list[str], case_ids: list[str]) -> None:
        """What the later steps need once the profile is gone (``ErasureJob.customer_ids``)."""
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK),
            UpdateExpression="SET customer_ids = :c, case_ids = :k",
            ExpressionAttributeValues={":c": attribute_value(customer_ids), ":k": attribute_value(case_ids)},
        )

    def step_done(self, job_id: str, step: str) -> None:
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK),
            UpdateExpression="ADD steps_done :s SET updated_at = :now",
            ExpressionAttributeValues={":s": {"SS": [step]}, ":now": {"S": datetime.now(UTC).isoformat()}},
        )

    def finish(self, job_id: str, customers: int) -> None:
        """Done: keep the opaque id, source, times and count; forget whom it was about."""
        now = datetime.now(UTC).isoformat()
        self.client.update_item(
            TableName=self.state_table, Key=key(job_pk(job_id), JOB_SK),
            UpdateExpression="SET #s = :done, finished_at = :now, updated_at = :now, customers_erased = :n"
                             " REMOVE customer_id, platform_user_id, customer_ids, case_ids",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":done": {"S": JobStatus.DONE.value}, ":now": {"S": now},
                                       ":n": {"N": str(customers)}},
        )

    # ------------------------------------------------------------------ retention
    def retention_candidates(self, up_to_month: str) -> Iterator[str]:
        """Customer ids last heard from in ``up_to_month`` (``yyyy-mm``) or before."""
        if not self.profiles_table:
            return
        query = self.client.get_paginator("query")
        for shard in range(RETENTION_SHARDS):
            pages = query.paginate(
                TableName=self.profiles_table, IndexName=RETENTION_INDEX,
                KeyConditionExpression="retention_shard = :s AND retention_month <= :m",
                ExpressionAttributeValues={":s": {"S": f"RET#{shard}"}, ":m": {"S": up_to_month}})
            for item in (i for page in pages for i in page.get("Items", [])):
                pk = item["pk"]["S"]
                if item["sk"]["S"] == PROFILE and pk.startswith("CUSTOMER#"):
                    yield pk.removeprefix("CUSTOMER#")

    def last_contacts(self, customer_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """customer id -> (last contact, merged_into) of each profile that exists: when her last
        message was received (``last_seen``, her messages' own time, for profiles written before
        ``last_contact_at`` existed)."""
        if not self.profiles_table or not customer_ids:
            return {}
        items = batch_get(self.client, self.profiles_table, [key(f"CUSTOMER#{c}", "PROFILE") for c in customer_ids],
                          ProjectionExpression="pk, last_seen, last_contact_at, merged_into")
        found = {}
        for item in items:
            data = from_item(item)
            last = data.get("last_contact_at") or data.get("last_seen")
            found[str(data["pk"]).removeprefix("CUSTOMER#")] = (last, data.get("merged_into"))
        return found

    # ------------------------------------------------------------------ audit entries
    def audit_entries(self, customer_ids: Sequence[str], case_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The API audit records that name any of these customers or cases (export). The trail
        is one partition, newest first: one filtered Query, paginated - an admin's request."""
        if not self.audit_table or not (customer_ids or case_ids):
            return []
        values: dict[str, Any] = {":p": {"S": "AUDIT"}}
        clauses = []
        for i, cid in enumerate(list(dict.fromkeys(customer_ids))[:30]):
            values[f":c{i}"] = {"S": cid}
            clauses += [f"targets.customer_id = :c{i}", f"targets.#src = :c{i}", f"targets.#tgt = :c{i}"]
        for i, case in enumerate(list(dict.fromkeys(case_ids))[:60]):
            values[f":k{i}"] = {"S": case}
            clauses.append(f"targets.case_id = :k{i}")
        kwargs: dict[str, Any] = {
            "TableName": self.audit_table, "KeyConditionExpression": "pk = :p", "ScanIndexForward": False,
            "FilterExpression": " OR ".join(clauses), "ExpressionAttributeValues": values,
        }
        if customer_ids:
            kwargs["ExpressionAttributeNames"] = {"#src": "source", "#tgt": "target"}
        pages = self.client.get_paginator("query").paginate(**kwargs)
        return [{k: v for k, v in from_item(item).items() if k not in _AUDIT_KEYS}
                for page in pages for item in page.get("Items", [])]
