"""``socialcare customer export|erase ID``: a customer's data rights from the command line
(docs/privacy.md), against a deployed stack (``--stack NAME``) or the running ``socialcare local``.

Both run the same domain code as the API and ErasureFunction, in this process, with the admin's
own AWS credentials: ``export`` prints the customer's JSON document (or writes it to ``--out``);
``erase`` records the erasure job (the same job a ``DELETE /api/customers/{id}`` would get), runs
it to the end and waits - a job an earlier run or ErasureFunction left halfway resumes where it
stopped. Nothing heavier than typer is imported until a command runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socialcare_infra.ops_cli import Local, StackName, Yes, failures, target_of

if TYPE_CHECKING:
    from socialcare.flows.wiring import Wiring
    from socialcare_infra.ops import Target

customer = typer.Typer(help="A customer's data rights: export everything held, erase everywhere.",
                       no_args_is_help=True)
CustomerId = Annotated[str, typer.Argument(metavar="ID", help="the customer id (a merged-away id: its survivor)")]

# The resources the data-rights code reads (tables, bucket, queue) and the secrets it may need.
_TABLES = ("ProfilesTable", "CasesTable", "StateTable", "IdempotencyTable", "MediaBucket")
_MORE = {"AuditTable": "SOCIALCARE_AUDIT_TABLE", "ErasureQueue": "SOCIALCARE_ERASURE_QUEUE_URL",
         "ErasureSalt": "SOCIALCARE_ERASURE_SALT_ARN", "CrmWebhookSecret": "SOCIALCARE_CRM_WEBHOOK_SECRET_ARN",
         "CrmCredentials": "SOCIALCARE_CRM_CREDENTIALS_ARN"}


def wiring_for(target: Target) -> Wiring:
    """A Wiring over the target stack's resources, built the way ErasureFunction builds its own:
    its settings (the audit table among them: the erasure's audit record, the export's audit
    entries), or ConfigurationError naming what the stack lacks."""
    from socialcare.config.settings import ErasureSettings, load
    from socialcare.flows.wiring import Wiring

    target.point(_TABLES)
    for logical_id, variable in _MORE.items():
        found = target.resources().get(logical_id)
        if found is not None:
            os.environ[variable] = found.physical_id
    return Wiring(load(ErasureSettings))


def export(target: Target, customer_id: str) -> dict[str, Any]:
    return wiring_for(target).privacy.export.export(customer_id)


def erase(target: Target, customer_id: str) -> dict[str, Any]:
    from socialcare.domain.privacy.erasure import describe
    from socialcare.models.privacy import JobSource

    erasure = wiring_for(target).privacy.erasure
    job = erasure.request_customer(customer_id, JobSource.CLI)
    return describe(erasure.run(job.job_id))


@customer.command("export")
def export_command(
    customer_id: CustomerId, stack: StackName = None, local: Local = False,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help="write the JSON here, not stdout")] = None,
) -> None:
    """Everything held about a customer, as one JSON document."""
    with failures("customer export"):
        document = export(target_of(stack, local), customer_id)
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"wrote {out} ({len(document.get('timeline') or [])} messages)", err=True)


@customer.command("erase")
def erase_command(customer_id: CustomerId, stack: StackName = None, local: Local = False, yes: Yes = False) -> None:
    """Erase a customer from every table, the media bucket and the CRM; waits until it is done."""
    with failures("customer erase"):
        target = target_of(stack, local)
        if not yes:
            typer.confirm(f"Erase customer {customer_id} everywhere, for good?", abort=True)
        result = erase(target, customer_id)
    typer.echo(f"erasure {result['job_id']}: {result['status']} ({', '.join(result['steps_done']) or 'no step'})")


def register(app: typer.Typer) -> None:
    app.add_typer(customer, name="customer")
