"""Data rights on the API (docs/privacy.md): export and erase a customer (admin), Meta's
data-deletion callback and the status page its confirmation code points at (public).

An erasure is a job (``domain.privacy.erasure``) run by ErasureFunction: ``DELETE`` records it,
freezes nothing itself and answers 202 with the job id and its status URL at once (a customer
with years of messages and media cannot be erased within an API request's 30 s); the job freezes
the profile first, so lookups find nobody within moments. ``socialcare customer erase`` runs the
same job and waits for it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from socialcare.domain.privacy import meta
from socialcare.domain.privacy.erasure import describe
from socialcare.errors import NotFound
from socialcare.flows.api import wiring_of
from socialcare.flows.api.audit import note_targets
from socialcare.flows.api.auth import Role, needs
from socialcare.models.privacy import ErasureJob, JobSource

router = Router()

META_CALLBACK = "/api/data-deletion/meta"
STATUS_PATH = "/api/data-deletion"


def status_url(job: ErasureJob) -> str:
    """Where anyone holding the confirmation code sees how the erasure went (no personal data)."""
    event: Any = router.current_event
    host = (event.headers or {}).get("host") or event.request_context.domain_name or "localhost"
    scheme = "http" if host.split(":")[0] in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}{STATUS_PATH}/{job.job_id}"


def _answer(job: ErasureJob) -> Response[dict[str, Any]]:
    body = {**describe(job), "status_url": status_url(job)}
    return Response(status_code=200 if job.done else 202, content_type=content_types.APPLICATION_JSON, body=body)


@router.get("/api/customers/<customer_id>/export", openapi_extensions=needs(Role.ADMIN))
def export_customer(customer_id: str) -> dict[str, Any]:
    """Everything held about the customer as one JSON document (a merged-away id: its survivor's)."""
    return wiring_of(router).privacy.export.export(customer_id)


@router.delete("/api/customers/<customer_id>", openapi_extensions=needs(Role.ADMIN))
def erase_customer(customer_id: str) -> Response[dict[str, Any]]:
    """Erase the customer everywhere: 202 with the erasure job (200 once it is done)."""
    privacy = wiring_of(router).privacy
    job = privacy.erasure.request_customer(customer_id, JobSource.API)
    note_targets(router, job_id=job.job_id)
    if not job.done:
        privacy.enqueue([job])
    return _answer(job)


@router.post(META_CALLBACK)
def meta_data_deletion() -> dict[str, Any]:
    """Meta's data-deletion request callback (form field ``signed_request``, signed with the app
    secret): erase the app-scoped user's data; answers the status URL and confirmation code."""
    w = wiring_of(router)
    payload = meta.verify(meta.signed_request_of(router.current_event.decoded_body or ""),
                          w.secrets.value("meta_app_secret"))
    job = w.privacy.erasure.request_platform_user(str(payload["user_id"]), JobSource.META)
    w.privacy.enqueue([job])
    return {"url": status_url(job), "confirmation_code": job.job_id}


@router.get(f"{STATUS_PATH}/<confirmation_code>")
def data_deletion_status(confirmation_code: str) -> dict[str, Any]:
    """The status of an erasure by its confirmation code: no personal data, no token needed."""
    job = wiring_of(router).privacy.erasure.status(confirmation_code[:128])
    if job is None:
        raise NotFound("no data deletion request with this confirmation code")
    return job.public()
