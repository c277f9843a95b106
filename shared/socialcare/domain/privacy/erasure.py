"""Erasing a customer everywhere, as a resumable job (docs/privacy.md).

A job (``models.privacy.ErasureJob``, StateTable) runs its ``STEPS`` in order; each step is
idempotent and recorded once done, so a job that stopped anywhere (a crash, a timeout, a CRM
outage) finishes on its next attempt. The steps, in order, and why in that order:

1. ``freeze``: the profile becomes an alias of nobody - no message, identity or context can be
   written to it any more, and lookups find nobody (at once, before anything is deleted);
2. ``tombstones``: salted hashes of every identifier and message id (a redelivered message is
   dropped by the processor from now on);
3. ``media``: every object under the customer's prefixes and the messages' folders, and the
   inbound-event claim checks of their messages;
4. ``cases``: personal fields of the cases (``scrub``), their timeline items, the interactions'
   markers and the customer's case pointer;
5. ``idempotency``: idempotency records whose outcome names the customer, a case or a CRM record;
6. ``profiles``: claims, handles and guards (only while they still name this customer),
   mirrored suggestions and dismissals on other customers, then every partition, profile last;
7. ``crm``: the CRM record through the adapter (last: our own copy is gone even while a CRM is
   down), and the CRM state settled so reconcile never re-sends the case.

StateTable holds no customer data (``store.state``): only the jobs themselves are kept there.

Everything needed after the profile is gone (customer ids, case ids) is noted on the job by the
first step; the job forgets them (and whom it was about) when it is done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from socialcare.domain.privacy.inventory import Inventory, gather
from socialcare.domain.privacy.scrub import scrub_case, scrub_timeline_item
from socialcare.domain.privacy.tombstones import Hasher
from socialcare.errors import NotFound
from socialcare.models.privacy import STEPS, ErasureJob, JobSource
from socialcare.store.cases import CasesRepository
from socialcare.store.cases.items import CRM_SK, MARKER_SK, POINTER_SK, case_pk, marker_pk, pointer_pk
from socialcare.store.cases.items import TIMELINE_PREFIX as CASE_TIMELINE_PREFIX
from socialcare.store.erasure import ErasureStore
from socialcare.store.erasure_jobs import ErasureJobs
from socialcare.store.profiles import ProfilesRepository
from socialcare.store.profiles.items import CLAIM, GUARD, PROFILE, claim_pk, customer_pk, guard_pk, handle_pk

if TYPE_CHECKING:  # the CRM adapters import requests: only an erasure that reaches the CRM loads them
    from socialcare.crm.base import CrmAdapter

logger = Logger(child=True)

# The kinds of identity Meta's app-scoped user id may be stored under.
META_KINDS = ("facebook", "messenger", "instagram")


class Erasure:
    def __init__(self, store: ErasureStore, jobs: ErasureJobs, cases: CasesRepository, profiles: ProfilesRepository,
                 hasher: Hasher, *, crm: Callable[[], CrmAdapter | None] = lambda: None,
                 audit: Callable[[ErasureJob], None] | None = None) -> None:
        self.store = store
        self.jobs = jobs
        self.cases = cases
        self.profiles = profiles
        self.hasher = hasher
        self.crm = crm
        self.audit = audit

    # ------------------------------------------------------------------ requests
    def request_customer(self, customer_id: str, source: JobSource) -> ErasureJob:
        """The erasure job of a customer (a merged-away id: its survivor's), recorded once."""
        profile = self.profiles.get_profile(customer_id)
        if profile is None:
            known = self.jobs.get(self.hasher.job_id(f"customer#{customer_id}"))
            if known is not None:
                return known  # erased already (or being erased): the same job answers
            raise NotFound(f"no customer {customer_id}")
        job = ErasureJob(job_id=self.hasher.job_id(f"customer#{profile.id}"), source=source, customer_id=profile.id)
        stored = self.jobs.create(job)
        if stored.done:  # the same id erased before, and back since: erase again
            self.jobs.reopen(job)
            return job
        return stored

    def request_platform_user(self, user_id: str, source: JobSource) -> ErasureJob:
        """The erasure job of a platform's user id (Meta's callback), resolved when it runs."""
        job = ErasureJob(job_id=self.hasher.job_id(f"meta#{user_id}"), source=source, platform_user_id=user_id)
        return self.jobs.create(job)

    def status(self, job_id: str) -> ErasureJob | None:
        return self.jobs.get(job_id)

    # ------------------------------------------------------------------ running
    def run(self, job_id: str) -> ErasureJob:
        """Run (or resume) a job to the end; raises to be retried (the steps done stay done)."""
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no erasure job {job_id}")
        if job.done:
            return job
        self.jobs.started(job_id)
        if job.customer_id is None and job.platform_user_id is not None:
            job = self._resolve(job)
        if job.customer_id is not None:
            self._erase(job)
        self.jobs.finish(job_id, customers=1 if job.customer_id else 0)
        finished = self.jobs.get(job_id) or job
        if self.audit is not None:
            self.audit(finished)
        logger.info("erasure done", extra={"job_id": job_id, "source": job.source.value})
        return finished

    def _resolve(self, job: ErasureJob) -> ErasureJob:
        for kind in META_KINDS:
            claim = self.profiles.get_claim(kind, str(job.platform_user_id))
            if claim is not None:
                self.jobs.set_customer(job.job_id, claim.customer_id)
                return job.model_copy(update={"customer_id": claim.customer_id})
        return job

    def _erase(self, job: ErasureJob) -> None:
        done = set(job.steps_done)
        inventory: Inventory | None = None
        for step in STEPS:
            if step in done:
                continue
            if inventory is None and step != "crm":
                inventory = gather(self.store, self.cases, str(job.customer_id))
            getattr(self, f"_{step}")(job, inventory)
            self.jobs.step_done(job.job_id, step)
            logger.debug("erasure step done", extra={"job_id": job.job_id, "step": step})

    # ------------------------------------------------------------------ steps
    def _freeze(self, job: ErasureJob, inventory: Inventory) -> None:
        self.store.freeze_profile(inventory.customer_id, job.job_id, _now())
        job.customer_ids, job.case_ids = inventory.customer_ids, inventory.case_ids
        self.jobs.note(job.job_id, job.customer_ids, job.case_ids)

    def _tombstones(self, job: ErasureJob, inventory: Inventory) -> None:
        digests = {d: "message" for d in self.hasher.messages(inventory.interaction_ids)}
        for kind, values in inventory.identifiers().items():
            digests.update({self.hasher.digest(kind, v): kind for v in values})
        self.store.put_tombstones(digests, job_id=job.job_id, at=_now())

    def _media(self, job: ErasureJob, inventory: Inventory) -> None:
        self.store.delete_objects(inventory.media_keys)
        self.store.delete_prefixes(inventory.media_prefixes)
        # inbound events too large for SQS went by claim check, keyed by their dedupe id (publish.py)
        self.store.delete_objects(f"inbound-events/{hashlib.sha256(f'{i}|create'.encode()).hexdigest()}.json"
                                  for i in inventory.interaction_ids)

    def _cases(self, job: ErasureJob, inventory: Inventory) -> None:
        mine = set(inventory.interaction_ids)
        owners = set(inventory.customer_ids)
        at = datetime.now(UTC)
        for case_id in inventory.case_ids:
            case = self.cases.get(case_id)
            if case is None:
                continue
            whole = case.customer_id in owners or bool(owners & set(case.former_customer_ids))
            self.cases.update(case_id, lambda c, w=whole: scrub_case(c, at, None if w else mine), now=at)
            for item in self.store.partition(self.store.cases_table, case_pk(case_id)):
                if str(item["sk"]).startswith(CASE_TIMELINE_PREFIX) and (whole or item.get("id") in mine):
                    scrubbed = scrub_timeline_item(item)
                    if scrubbed is not None:
                        self.store.put_case_item(scrubbed)
        self.store.delete_items(self.store.cases_table, [(marker_pk(i), MARKER_SK) for i in mine])
        self.store.delete_items(self.store.cases_table, [(pointer_pk(c), POINTER_SK) for c in owners])

    def _idempotency(self, job: ErasureJob, inventory: Inventory) -> None:
        records = [r for case_id in inventory.case_ids if (r := self._record_id(case_id))]
        self.store.purge_idempotency([*inventory.customer_ids, *inventory.case_ids, *records])

    def _profiles(self, job: ErasureJob, inventory: Inventory) -> None:
        table, owners = self.store.profiles_table, inventory.customer_ids
        for ident in inventory.identities:
            self.store.delete_if_owner(table, claim_pk(str(ident["kind"]), str(ident["value"])), CLAIM, owners)
        for kind, handles in inventory.identifiers().items():
            if kind.startswith("handle:"):
                for handle in handles:
                    self.store.delete_if_owner(table, handle_pk(kind.removeprefix("handle:"), handle), CLAIM, owners)
        for pk in _guard_pks(inventory):
            for item in self.store.partition(table, pk):
                if item["sk"] == GUARD:
                    self.store.delete_if_owner(table, pk, GUARD, owners)
                else:
                    self.store.delete_items(table, [(pk, str(item["sk"]))])
        self._others(inventory)
        for cid in sorted(owners, key=lambda c: c == inventory.customer_id):  # the survivor last
            self.store.delete_partition(table, customer_pk(cid), last=PROFILE)

    def _others(self, inventory: Inventory) -> None:
        """What other customers hold about this one: mirrored suggestions and dismissals."""
        table, owners = self.store.profiles_table, inventory.customer_ids
        for suggestion in inventory.suggestions:
            other = str(suggestion.get("other_customer_id") or "")
            if other and other not in owners:
                self.store.forget_suggestion(other, str(suggestion.get("customer_id") or inventory.customer_id))
        for record in inventory.merges:
            if record.get("action") == "dismiss_suggestion":  # its evidence names this customer's identifiers
                for other in {str(record.get("source")), str(record.get("target"))} - set(owners):
                    self.store.delete_items(table, [(customer_pk(other), str(record["sk"]))])

    def _crm(self, job: ErasureJob, inventory: Inventory | None) -> None:
        fresh = self.jobs.get(job.job_id) or job  # the ids the first step noted
        customer_ids = fresh.customer_ids or [str(job.customer_id)]
        case_ids = fresh.case_ids
        owned = [c for c in (self.cases.get(cid) for cid in case_ids) if c is not None
                 and (c.customer_id in customer_ids or set(customer_ids) & set(c.former_customer_ids))]
        records = tuple((c.id, r) for c in owned if (r := self._record_id(c.id)))
        adapter = self.crm()
        if adapter is not None:
            from socialcare.crm.base import CrmErasure

            # every id she was known by (customers merged into her had their own CRM contacts);
            # the records once, with the first; a contact the CRM never had is no error
            for n, customer_id in enumerate(dict.fromkeys([str(job.customer_id), *customer_ids])):
                adapter.erase_customer(CrmErasure(customer_id=customer_id, records=records if n == 0 else (),
                                                  delivery_id=job.job_id))
        provider = adapter.provider if adapter is not None else "none"
        for case in owned:
            self.store.delete_items(self.store.cases_table, [(case_pk(case.id), CRM_SK)])
            self.cases.record_crm_sync(case.id, provider=provider, record_id=None, version=case.version)

    def _record_id(self, case_id: str) -> str | None:
        """The CRM's record id of the case (None: never synced, or settled by this erasure)."""
        state = self.cases.crm_state(case_id)
        return state.record_id if state is not None else None


def _guard_pks(inventory: Inventory) -> list[str]:
    """The guards (and receipts, reply aliases) of every message: by id and by platform id."""
    pks = []
    for item in inventory.timeline:
        if item.get("id"):
            pks.append(guard_pk(str(item["id"])))
        if item.get("channel") and item.get("platform_message_id"):
            pks.append(guard_pk(f"{item['channel']}:{item['platform_message_id']}"))
    return list(dict.fromkeys(pks))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def describe(job: ErasureJob) -> dict[str, Any]:
    """A job as the API and the CLI show it (no personal data once done)."""
    return {"job_id": job.job_id, **job.public(), "steps_done": [s for s in STEPS if s in job.steps_done]}
