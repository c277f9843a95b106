"""The ``socialcare`` command line (typer): what --help shows, what a wrong argument gets, what
``pip install .`` without the ``local`` extra still runs, and what ``dlq show`` lets through of a
customer. No network: every case here fails or answers before reaching AWS."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare.publish import transport_body
from socialcare_infra.cli import app, build_parser, main

COMMANDS = ("local", "demo", "openapi", "crm", "dlq", "replay", "webhooks", "audit")


def cli(*args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(app, list(args), **kwargs)


def test_help_lists_every_command_and_subcommand() -> None:
    top = cli("--help")
    assert top.exit_code == 0
    listed = {line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed >= set(COMMANDS)
    for group, subcommands in {"dlq": {"list", "show", "redrive"}, "webhooks": {"register", "status"},
                               "crm": {"reconcile"}}.items():
        text = cli(group, "--help").stdout
        assert subcommands <= {line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()}


BLOCK_LOCAL_EXTRA = textwrap.dedent("""
    import importlib.abc, sys

    class NotInstalled(importlib.abc.MetaPathFinder):
        # what `pip install .` without the `local` extra leaves out
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("moto", "werkzeug", "flask"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from socialcare_infra.cli import main
    codes = [main(["--help"]), main(["dlq", "--help"]), main(["replay", "--help"])]
    heavy = sorted(m for m in ("boto3", "botocore", "moto", "werkzeug") if m in sys.modules)
    codes.append(main(["local", "--moto-port", "0", "--api-port", "0", "--invoke-port", "0"]))
    print("RESULT", codes, heavy)
""")


def test_help_works_without_the_local_stack_and_imports_no_aws_sdk() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCK_LOCAL_EXTRA], capture_output=True, text=True, timeout=60)
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    assert result == "RESULT [0, 0, 0, 1] []", done.stdout + done.stderr
    assert "socialcare local: needs moto: pip install 'socialcare[local]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["dlq", "list"], "name a deployed stack (--stack NAME) or use --local"),
    (["dlq", "show", "--local"], "Missing option '--queue'"),
    (["dlq", "redrive", "--local", "--queue", "InboundDLQ", "--limit", "0"], "greater than or equal to 1"),
    (["dlq", "show", "--local", "--queue", "InboundDLQ", "--limit", "101"], "less than or equal to 100"),
    (["replay", "--local", "--from", "yesterday", "--to", "2026-12-01"], "Invalid value for --from/--to"),
    (["replay", "--local", "--from", "2026-12-02", "--to", "2026-12-01T10:00Z"], "--from must be before --to"),
    (["replay", "--local", "--from", "2026-12-01", "--to", "2026-12-02", "--channel", "telegram"], "'telegram'"),
    (["replay", "--local", "--to", "2026-12-02"], "Missing option '--from'"),
    (["webhooks", "status", "--local", "--platform", "tiktok"], "'tiktok'"),
    (["crm", "reconcile", "--limit", "5"], "name a deployed stack (--stack NAME) or use --local"),
    (["local", "--param", "Stage"], "expected Name=Value, got 'Stage'"),
    (["local", "--api-port", "http"], "Invalid value for '--api-port'"),
    (["audit", "--local", "--since", "last week"], "Invalid value for --since"),
    (["audit", "--since", "2026-12-01"], "name a deployed stack (--stack NAME) or use --local"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
])
def test_a_wrong_argument_is_a_usage_error_that_names_it(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.replace("│", " ").split()), result.stderr
    assert result.stdout == ""


def test_main_returns_the_exit_status() -> None:
    assert main(["--help"]) == 0
    assert main(["dlq", "list"]) == 2


def test_webhooks_locally_need_the_platforms_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOCIALCARE_LOCAL_PLATFORMS_PORT", "SOCIALCARE_X_API_URL", "SOCIALCARE_GRAPH_API_URL"):
        monkeypatch.delenv(name, raising=False)
    result = cli("webhooks", "status", "--local")
    assert result.exit_code == 1
    assert result.stderr.startswith("socialcare webhooks status: --local: set SOCIALCARE_LOCAL_PLATFORMS_PORT")


def test_the_argparse_era_parser_still_parses_every_command() -> None:
    args = build_parser().parse_args(["crm", "reconcile", "--local", "--dry-run", "--limit", "5"])
    assert (args.command, args.local, args.stack, args.dry_run, args.limit) == ("crm reconcile", True, None, True, 5)
    args = build_parser().parse_args(["demo", "--param", "Stage=prod", "--param", "CrmProvider=webhook"])
    assert (args.command, args.param, args.stack) == ("demo", [("Stage", "prod"), ("CrmProvider", "webhook")],
                                                      "socialcare-local")


def test_names_the_cli_repeats_match_their_sources() -> None:
    from socialcare_infra import cli as cli_module
    from socialcare_infra import ops, ops_cli, stack, template

    assert ops.DEFAULT_LOCAL_STACK == template.DEFAULT_STACK
    assert (cli_module.DEFAULT_MOTO_PORT, cli_module.DEFAULT_API_PORT, cli_module.DEFAULT_INVOKE_PORT) == (
        stack.DEFAULT_MOTO_PORT, stack.DEFAULT_API_PORT, stack.DEFAULT_INVOKE_PORT)
    assert [c.value for c in ops_cli.ChannelName] == [c.value for c in Channel]


# ---------------------------------------------------------------------------------- dlq show's preview
ANNA = {"name": "Anna Bianchi", "handle": "annab", "wa_id": "393401234567", "email": "anna.bianchi@example.org"}


def whatsapp_event(text: str) -> InboundEvent:
    interaction = Interaction(
        id="whatsapp:wamid.ABC", channel=Channel.WHATSAPP, kind=Kind.DIRECT_MESSAGE, platform_message_id="wamid.ABC",
        account_id="106540352242922", author=Author(id=ANNA["wa_id"], handle=ANNA["handle"], name=ANNA["name"]),
        text=text, occurred_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
        content={"type": "contacts", "contacts": [{"emails": [ANNA["email"]]}]},
        identifiers=[{"kind": "phone", "value": "+" + ANNA["wa_id"]}], metadata={"profile_name": ANNA["name"]})
    raw = {"from": ANNA["wa_id"], "text": {"body": text}, "contacts": [{"profile": {"name": ANNA["name"]}}]}
    return InboundEvent(action=Action.CREATE, source="meta", event_id="wamid.ABC", interaction=interaction, raw=raw)


def test_a_dead_letter_preview_keeps_ids_and_erases_the_customer() -> None:
    from socialcare_infra.ops_preview import preview

    shown = preview(whatsapp_event(f"Sono {ANNA['name']}, scrivetemi a {ANNA['email']}").queue_body(), width=5000)

    data = json.loads(shown)
    assert (data["event_id"], data["interaction"]["id"], data["interaction"]["channel"]) == (
        "wamid.ABC", "whatsapp:wamid.ABC", "whatsapp")
    assert data["interaction"]["occurred_at"] == "2026-11-30T10:00:00Z"
    assert data["raw"] == data["interaction"]["text"] == data["interaction"]["author"]["name"] == "*****"
    for value in ANNA.values():
        assert value not in shown
    assert "Bianchi" not in shown


def test_a_compressed_dead_letter_is_previewed_too() -> None:
    from socialcare_infra.ops_preview import preview

    body = transport_body(whatsapp_event("Il mio pacco " * 30_000))  # over 200 KiB: travels compressed
    assert body.startswith('{"socialcare_zlib_b64"')
    shown = preview(body, width=120)
    assert shown.startswith('{"version":1,"action":"create"') and len(shown) == 120 and "pacco" not in shown


def test_the_group_and_the_reason_lose_their_phone_numbers_and_addresses() -> None:
    from socialcare_infra.ops_preview import masked_attributes, masked_group

    assert masked_group("whatsapp:393401234567") == "whatsapp:*****"
    assert masked_group("SC-2026-17") == "SC-2026-17"
    reason = masked_attributes({"reason": f"(#131026) {ANNA['email']} at +39 340 123 4567 unreachable",
                                "code": "131026"})
    assert reason["code"] == "131026" and reason["reason"].startswith("(#131026)")
    assert ANNA["email"] not in reason["reason"] and "340 123 4567" not in reason["reason"]
    assert reason["reason"].endswith("unreachable")
