"""The admin commands of ``socialcare`` (typer): ``crm reconcile``, ``dlq``, ``replay``, ``webhooks``, ``audit``.

Each works against a deployed stack (``--stack NAME``: CloudFormation gives the physical ids, the
default AWS credentials are used) or the running ``socialcare local`` (``--local``; ``--stack``
then names the local stack if it is not ``socialcare-local``). The work is in ``ops_*`` modules;
this one parses, asks before moving messages, draws the progress bars (rich, on stderr, so that
stdout stays plain lines a script can read) and turns expected failures into one line on stderr
and exit status 1. Nothing heavier than typer is imported until a command runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from socialcare_infra.ops import Target

StackName = Annotated[str | None, typer.Option(
    "--stack", metavar="NAME",
    help="a deployed CloudFormation stack (default AWS credentials); with --local, the local stack's name")]
Local = Annotated[bool, typer.Option(
    "--local", help="the running `socialcare local` (moto on $SOCIALCARE_LOCAL_MOTO_PORT or 4566)")]
QueueName = Annotated[str, typer.Option(
    "--queue", metavar="NAME", help="the DLQ: its logical id (InboundDLQ), queue name, or its source queue's")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask before moving messages")]


class ChannelName(StrEnum):  # socialcare.models.interaction.Channel's values (a unit test keeps them equal)
    X = "x"
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"


class Platform(StrEnum):
    X = "x"
    META = "meta"


def target_of(stack: str | None, local: bool) -> Target:
    from socialcare_infra.ops import Target

    if not stack and not local:
        raise typer.BadParameter("name a deployed stack (--stack NAME) or use --local", param_hint="--stack/--local")
    return Target.of(stack, local)


@contextmanager
def failures(command: str) -> Iterator[None]:
    """AWS refusals, missing resources or secrets, bad data: one line on stderr, exit status 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    from socialcare.errors import SocialcareError

    try:
        yield
    except (LookupError, OSError, BotoCoreError, ClientError, SocialcareError) as exc:
        typer.echo(f"socialcare {command}: {exc}", err=True)
        raise typer.Exit(1) from None


@contextmanager
def progress(*descriptions: str) -> Iterator[list[Callable[[int, int | None], None]]]:
    """One rich progress display on stderr with a bar per description; yields an
    ``update(done, total)`` per bar (total None: not known yet)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:

        def updater(description: str) -> Callable[[int, int | None], None]:
            task = bar.add_task(description, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        yield [updater(d) for d in descriptions]


# ---------------------------------------------------------------------------------- crm
crm = typer.Typer(help="CRM sync operations.", no_args_is_help=True)


@crm.command("reconcile")
def reconcile_command(
    stack: StackName = None, local: Local = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list the lagging cases")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="at most this many cases")] = None,
) -> None:
    """List cases whose CRM version lags ours and re-enqueue them."""
    from socialcare_infra import ops

    with failures("crm reconcile"):
        target = target_of(stack, local)
        target.point(("CasesTable", "CrmSyncQueue"))
        lines, code = ops.crm_reconcile(dry_run=dry_run, limit=limit)
    typer.echo("\n".join(lines))
    raise typer.Exit(code)


# ---------------------------------------------------------------------------------- dlq
dlq = typer.Typer(help="Dead-letter queues: depths, messages, redrive.", no_args_is_help=True)


@dlq.command("list")
def dlq_list(stack: StackName = None, local: Local = False) -> None:
    """Every DLQ of the stack with its depth and its source queue."""
    from socialcare_infra.ops_dlq import dead_letter_queues

    with failures("dlq list"):
        queues = dead_letter_queues(target_of(stack, local))
    width = max((len(q.logical_id) for q in queues), default=3)
    typer.echo(f"{'DLQ':<{width}}  {'MESSAGES':>8}  {'IN FLIGHT':>9}  SOURCE -> QUEUE")
    for q in queues:
        sources = ", ".join(lid for lid, _, _ in q.sources)
        typer.echo(f"{q.logical_id:<{width}}  {q.depth:>8}  {q.in_flight:>9}  {sources} -> {q.name}")
    typer.echo(f"{sum(q.depth for q in queues)} message(s) in {len(queues)} dead-letter queue(s)")


@dlq.command("show")
def dlq_show(
    queue: QueueName, stack: StackName = None, local: Local = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, metavar="N", help="at most this many messages")] = 10,
) -> None:
    """Peek at a DLQ's messages without consuming them (customer data masked)."""
    from socialcare_infra.ops_dlq import dead_letter_queues, find, peek
    from socialcare_infra.ops_preview import masked_attributes, masked_group, preview

    with failures("dlq show"):
        target = target_of(stack, local)
        found = find(dead_letter_queues(target), queue)
        messages = peek(target, found, limit)
        for m in messages:
            typer.echo(f"message {m.message_id}  group {masked_group(m.group) or '-'}  "
                       f"received {m.receive_count}x  sent {m.sent_at or '-'}")
            for name, value in sorted(masked_attributes(m.attributes).items()):
                typer.echo(f"  {name}: {value}")
            typer.echo(f"  body: {preview(m.body)}")
    typer.echo(f"{len(messages)} message(s) of {found.logical_id} shown; none consumed")


@dlq.command("redrive")
def dlq_redrive(
    queue: QueueName, stack: StackName = None, local: Local = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, metavar="N", help="move at most this many (default: all)")] = None,
    yes: Yes = False,
) -> None:
    """Move a DLQ's messages back to their source queue."""
    from socialcare_infra.ops_dlq import dead_letter_queues, find, redrive, source_of

    with failures("dlq redrive"):
        target = target_of(stack, local)
        found = find(dead_letter_queues(target), queue)
        source = source_of(found)[0]
        if found.depth == 0:
            typer.echo(f"{found.logical_id} is empty: nothing to move")
            return
        count = found.depth if limit is None else min(limit, found.depth)
        if not yes:
            typer.confirm(f"Move {count} message(s) from {found.logical_id} back to {source}?", abort=True)
        with progress(f"{found.logical_id} -> {source}") as (update,):
            result = redrive(target, found, limit, update)
    typer.echo(f"moved {result.moved} message(s) from {found.logical_id} to {source} ({result.how})")
    if result.note:
        typer.echo(result.note)
    if result.failed:
        typer.echo(f"{result.failed} message(s) not moved: they stay in {found.logical_id}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the admin commands to the ``socialcare`` app."""
    from socialcare_infra import ops_cli_events

    app.add_typer(crm, name="crm")
    app.add_typer(dlq, name="dlq")
    ops_cli_events.register(app)
