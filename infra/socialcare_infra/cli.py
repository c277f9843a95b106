"""``socialcare``: the developer and admin command line (typer).

``local`` and ``demo`` run the embedded stack; ``openapi`` writes the API's document; the admin
commands (``crm reconcile``, ``dlq``, ``replay``, ``webhooks``, ``audit``: ``socialcare_infra.ops_cli``)
work against a deployed stack (``--stack NAME``) or the running ``socialcare local`` (``--local``).

Importing this module imports typer and nothing of the local stack (moto, werkzeug) or of AWS:
each command imports what it needs when it runs, so ``pip install .`` without the ``local`` extra
still gives a working ``socialcare --help`` and the admin commands.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socialcare_infra import ops_cli, ops_customer, ops_report
from socialcare_infra.ops import DEFAULT_LOCAL_STACK

if TYPE_CHECKING:
    from socialcare_infra.stack import LocalStack

READY_LINE = "socialcare local: ready"
LOCAL_EXTRA = ("moto", "werkzeug", "flask")  # what `pip install '.[local]'` adds (pyproject.toml)
DEFAULT_MOTO_PORT, DEFAULT_API_PORT, DEFAULT_INVOKE_PORT = 4566, 3000, 3001  # socialcare_infra.stack's

app = typer.Typer(name="socialcare", help="socialcare developer and admin tools.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def _parameters(values: list[str] | None) -> list[str]:
    for text in values or []:
        key, sep, _ = text.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected Name=Value, got {text!r}")
    return values or []


def parameter_pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    """``["Stage=prod"]`` -> ``[("Stage", "prod")]`` (validated by the option's callback)."""
    return [(key, value) for key, _, value in (text.partition("=") for text in values)]


Stack = Annotated[str, typer.Option("--stack", metavar="NAME", help="stack name, prefix of every physical name")]
TemplatePath = Annotated[Path | None, typer.Option(
    "--template", metavar="PATH", help="SAM template (default: ./template.yaml)")]
Params = Annotated[list[str] | None, typer.Option(
    "--param", metavar="NAME=VALUE", callback=_parameters, help="override a template parameter (repeatable)")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="log every request and invocation")]
Logs = Annotated[bool, typer.Option(
    "--logs", help="also copy every function's log output to stderr, prefixed by its logical id")]


def _port(name: str, what: str) -> Any:
    return typer.Option(f"--{name.lower()}-port", envvar=f"SOCIALCARE_LOCAL_{name}_PORT",
                        metavar="PORT", help=f"port of {what}; 0 = any free port")


@contextmanager
def failures(command: str) -> Iterator[None]:
    """An expected failure is one line on stderr and exit status 1, never a traceback."""
    from socialcare_infra.template import TemplateError

    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in LOCAL_EXTRA:
            raise
        typer.echo(f"socialcare {command}: needs {exc.name}: pip install 'socialcare[local]'", err=True)
        raise typer.Exit(1) from None
    except (TemplateError, OSError, LookupError) as exc:
        typer.echo(f"socialcare {command}: {exc}", err=True)
        raise typer.Exit(1) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


@app.command("openapi")
def openapi_command(
    check: Annotated[bool, typer.Option("--check", help="only fail when the committed document is stale")] = False,
) -> None:
    """Write the API's OpenAPI document (docs/openapi.json)."""
    from socialcare_infra import openapi

    if check:
        problem = openapi.stale()
        typer.echo(problem or f"{openapi.DOCUMENT} is up to date", err=bool(problem))
        raise typer.Exit(1 if problem else 0)
    typer.echo(f"wrote {openapi.write()}")


def follow_logs(stack: LocalStack, stop: threading.Event, interval_s: float = 0.2) -> threading.Thread:
    """Copy new lines of the workers' log files to stderr until ``stop`` is set."""
    offsets: dict[Path, int] = {}
    width = max((len(logical_id) for logical_id in stack.functions), default=0)

    def pump() -> None:
        while not stop.wait(interval_s):
            for logical_id, spec in stack.functions.items():
                try:
                    with open(spec.log_path, "rb") as handle:
                        handle.seek(offsets.get(spec.log_path, 0))
                        chunk = handle.read()
                except OSError:
                    continue
                complete = chunk[: chunk.rfind(b"\n") + 1]  # a partial line waits for its end
                offsets[spec.log_path] = offsets.get(spec.log_path, 0) + len(complete)
                for line in complete.decode("utf-8", "replace").splitlines():
                    print(f"{logical_id:<{width}} | {line}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=pump, name="follow-logs", daemon=True)
    thread.start()
    return thread


@app.command("local")
def local_command(
    stack: Stack = DEFAULT_LOCAL_STACK,
    template: TemplatePath = None,
    param: Params = None,
    verbose: Verbose = False,
    logs: Logs = False,
    reload: Annotated[bool, typer.Option(
        "--reload", help="restart a function's worker when its code (or the shared package) changes")] = False,
    moto_port: Annotated[int, _port("MOTO", "moto (AWS APIs)")] = DEFAULT_MOTO_PORT,
    api_port: Annotated[int, _port("API", "the HTTP API")] = DEFAULT_API_PORT,
    invoke_port: Annotated[int, _port("INVOKE", "the Lambda Invoke API")] = DEFAULT_INVOKE_PORT,
) -> None:
    """Run the embedded local AWS stack in the foreground."""
    _logging(verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before starting so a signal during start-up still stops cleanly.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with failures("local"):
        from socialcare_infra.stack import LocalStack

        local = LocalStack(template_path=template, stack_name=stack, parameters=dict(parameter_pairs(param or [])),
                           moto_port=moto_port, api_port=api_port, invoke_port=invoke_port, reload=reload)
        local.start()
        try:
            for line in local.describe():
                print(line)
            print(READY_LINE, flush=True)
            if logs:
                follow_logs(local, stop)
            while not stop.wait(0.5):
                pass
            print("socialcare local: stopping", flush=True)
        finally:
            local.stop()
    print("socialcare local: stopped", flush=True)


def demo_profiles() -> dict[str, dict[str, str]]:
    """The story's people as the platform stand-in's User Profile API shows them (Graph ids)."""
    from socialcare_infra import scenario

    anna, marco = scenario.ANNA, scenario.MARCO
    first, last = anna["name"].split(" ", 1)
    return {anna["messenger_psid"]: {"first_name": first, "last_name": last, "name": anna["name"]},
            marco["instagram_id"]: {"name": marco["name"], "username": marco["handle"]}}


@app.command("demo")
def demo_command(stack: Stack = DEFAULT_LOCAL_STACK, template: TemplatePath = None, param: Params = None,
                 verbose: Verbose = False, logs: Logs = False) -> None:
    """Start the local stack, play the demo scenario, stop."""
    _logging(verbose)
    with failures("demo"):
        code = _play_demo(stack, template, dict(parameter_pairs(param or [])), logs)
    raise typer.Exit(code)


def _play_demo(stack_name: str, template: Path | None, parameters: dict[str, str], logs: bool) -> int:
    from socialcare_infra import demo
    from socialcare_infra.provision import LOCAL_SECRET_DEFAULTS
    from socialcare_infra.servers import env_port
    from socialcare_infra.stack import LocalStack

    env = dict(os.environ)
    crm = None
    if not env.get("SOCIALCARE_CRM_WEBHOOK_URL"):
        # The demo brings its own loopback CRM so the case sync can be seen end to end.
        secret = env.get("SOCIALCARE_CRM_WEBHOOK_SECRET") or LOCAL_SECRET_DEFAULTS["SOCIALCARE_CRM_WEBHOOK_SECRET"]
        crm = demo.DemoCrm(secret)
        env["SOCIALCARE_CRM_WEBHOOK_URL"] = crm.url
        # Whatever provider the shell names, the demo's cases go to its own loopback CRM only.
        env["SOCIALCARE_CRM_PROVIDER"] = "webhook"
    with LocalStack(
        template_path=template, stack_name=stack_name, parameters=parameters,
        moto_port=env_port(env, "MOTO", DEFAULT_MOTO_PORT), api_port=env_port(env, "API", DEFAULT_API_PORT),
        invoke_port=env_port(env, "INVOKE", DEFAULT_INVOKE_PORT),
        fallback_to_free_ports=True,  # a demo should run even next to a `socialcare local`
        environ=env, platform_profiles=demo_profiles(),
    ) as local:
        print(f"local stack up: http api {local.api_url}, moto {local.moto_url}", flush=True)
        stop = threading.Event()
        if logs:
            follow_logs(local, stop)
        try:
            return demo.play(local, demo.story_steps(crm))
        finally:
            stop.set()
            if crm is not None:
                crm.stop()


ops_cli.register(app)  # after local, demo and openapi: --help lists them first
ops_report.register(app)  # socialcare report (docs/reports.md)
ops_customer.register(app)  # socialcare customer export|erase (docs/privacy.md)


class ArgvParser:
    """``build_parser().parse_args(argv)``, as in the argparse days (tests and scripts call it):
    ``argv`` parsed by the typer app's own options - defaults, environment variables, checks -
    into a Namespace (``command``, each option, ``param`` as (name, value) pairs); nothing runs."""

    def parse_args(self, argv: Sequence[str]) -> argparse.Namespace:
        command: Any = typer.main.get_command(app)
        args, path = list(argv), list[str]()
        context = None
        while hasattr(command, "list_commands"):  # a group (typer may vendor its own click)
            if not args:
                raise typer.BadParameter(f"a command of {' '.join(['socialcare', *path])} is required")
            name = args.pop(0)
            context = typer.Context(command, info_name=name, parent=context)
            found = command.get_command(context, name)
            if found is None:
                raise typer.BadParameter(f"no command {name!r}")
            command, path = found, [*path, name]
        with command.make_context(path[-1], args, parent=context) as ctx:
            params = dict(ctx.params)
        if "param" in params:
            params["param"] = parameter_pairs(params["param"] or [])
        return argparse.Namespace(command=" ".join(path), **params)


def build_parser() -> ArgvParser:
    return ArgvParser()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``socialcare`` entry point: runs a command, returns its exit status."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="socialcare")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
