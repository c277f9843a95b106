"""More admin commands of ``socialcare`` (typer): ``replay``, ``webhooks register|status``, ``audit``.

Same conventions as ``ops_cli`` (``--stack NAME`` or ``--local``, progress on stderr, plain lines
on stdout, one line on stderr and exit status 1 for an expected failure).
"""

from __future__ import annotations

from typing import Annotated

import typer

from socialcare_infra.ops_cli import ChannelName, Local, Platform, StackName, failures, progress, target_of


def replay_command(
    start: Annotated[str, typer.Option("--from", metavar="ISO", help="from this time (ISO 8601; UTC if no zone)")],
    end: Annotated[str, typer.Option("--to", metavar="ISO", help="up to this time, excluded")],
    stack: StackName = None, local: Local = False,
    channel: Annotated[list[ChannelName] | None, typer.Option(
        "--channel", help="only these channels (repeatable; default: every channel)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be replayed")] = False,
) -> None:
    """Re-ingest the interactions stored between --from and --to, idempotently (docs/operations.md)."""
    from socialcare_infra.ops_replay import parse_time, replay

    try:
        since, until = parse_time(start), parse_time(end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--from/--to") from None
    if since >= until:
        raise typer.BadParameter("--from must be before --to", param_hint="--from/--to")
    channels = [c.value for c in channel or []]
    with failures("replay"):
        target = target_of(stack, local)
        with progress("scanning the timelines", "publishing onto inbound.fifo") as (scanned, published):
            report = replay(target, since, until, channels, dry_run=dry_run,
                            scanning=lambda n: scanned(n, None), publishing=published)
    by_channel = ", ".join(f"{name}: {count}" for name, count in sorted(report.channels.items()))
    typer.echo(f"{report.found} interaction(s) from {since.isoformat()} to {until.isoformat()}"
               f"{f' ({by_channel})' if by_channel else ''}; {report.scanned} item(s) scanned")
    if report.without_raw:
        typer.echo(f"{report.without_raw} of them without their raw slice (too large to keep): replayed without it")
    verb = "would replay" if dry_run else "replayed"
    typer.echo(f"{verb} {report.found if dry_run else report.published} onto inbound.fifo"
               + ("; the processor stores each interaction once" if not dry_run and report.published else ""))
    for line in report.failed:
        typer.echo(f"not replayed: {line}", err=True)
    if report.failed:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------- webhooks
webhooks = typer.Typer(help="The platforms' webhook subscriptions (X Account Activity, Meta).",
                       no_args_is_help=True)
Platforms = Annotated[list[Platform] | None, typer.Option(
    "--platform", help="x and/or meta (repeatable; default: both)")]
ApiUrl = Annotated[str | None, typer.Option(
    "--api-url", metavar="URL",
    help="the HTTP API's base URL (default: the stack's ApiUrl output; locally 127.0.0.1:$API port)")]
Pages = Annotated[list[str] | None, typer.Option(
    "--page", metavar="ID", help="a Facebook page id to subscribe the app (repeatable)")]
Wabas = Annotated[list[str] | None, typer.Option(
    "--waba", metavar="ID", help="a WhatsApp Business Account id (repeatable)")]
AppId = Annotated[str | None, typer.Option(
    "--meta-app-id", metavar="ID", help="the Meta app id, when the app secret is not keyed by it")]


def _webhooks(action: str, stack: str | None, local: bool, platform: list[Platform] | None, api_url: str | None,
              page: list[str] | None, waba: list[str] | None, meta_app_id: str | None) -> None:
    from socialcare_infra import ops_webhooks

    chosen = [p.value for p in platform or list(Platform)]
    with failures(f"webhooks {action}"):
        report = ops_webhooks.run(action, target_of(stack, local), chosen, api_url, page or [], waba or [],
                                  meta_app_id)
    for line in report.lines:
        typer.echo(line, err=line.startswith("error: "))
    if report.failed:
        raise typer.Exit(1)


@webhooks.command("register")
def webhooks_register(stack: StackName = None, local: Local = False, platform: Platforms = None,
                      api_url: ApiUrl = None, page: Pages = None, waba: Wabas = None,
                      meta_app_id: AppId = None) -> None:
    """Register the stack's webhook URLs and subscribe the brand's accounts."""
    _webhooks("register", stack, local, platform, api_url, page, waba, meta_app_id)


@webhooks.command("status")
def webhooks_status(stack: StackName = None, local: Local = False, platform: Platforms = None,
                    api_url: ApiUrl = None, page: Pages = None, waba: Wabas = None, meta_app_id: AppId = None) -> None:
    """Show what the platforms have registered and subscribed."""
    _webhooks("status", stack, local, platform, api_url, page, waba, meta_app_id)


# ---------------------------------------------------------------------------------- audit
def audit_command(
    stack: StackName = None, local: Local = False,
    actor: Annotated[str | None, typer.Option("--actor", metavar="WHO", help="only this person's actions")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="ISO", help="only actions at or after this time (ISO 8601; UTC if no zone)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="at most this many records")] = 50,
) -> None:
    """The API's audit trail, newest first: who did what, when, on which customer or case."""
    from socialcare_infra import ops_audit
    from socialcare_infra.ops_replay import parse_time

    try:
        floor = parse_time(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    with failures("audit"):
        found = ops_audit.records(target_of(stack, local), actor=actor, since=floor, limit=limit)
    for record in found:
        typer.echo(ops_audit.line(record))
    typer.echo(f"{len(found)} record(s)" + (f" of {actor}" if actor else "") +
               (f" since {floor.isoformat()}" if floor else ""))


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
    app.add_typer(webhooks, name="webhooks")
    app.command("audit")(audit_command)
