"""``socialcare`` command line: ``socialcare local``, ``socialcare demo``, ``crm reconcile``, ``openapi``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from socialcare_infra.stack import (
    DEFAULT_API_PORT,
    DEFAULT_INVOKE_PORT,
    DEFAULT_MOTO_PORT,
    LocalStack,
    env_port,
)
from socialcare_infra.template import DEFAULT_STACK, TemplateError

READY_LINE = "socialcare local: ready"


def _parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialcare", description="socialcare developer and admin tools")
    commands = parser.add_subparsers(dest="command", required=True)

    def stack_options(sub: argparse.ArgumentParser, ports: bool) -> None:
        sub.add_argument("--stack", default=DEFAULT_STACK, help="stack name, prefix of every physical name")
        sub.add_argument("--template", type=Path, default=None, help="SAM template (default: ./template.yaml)")
        sub.add_argument("--param", action="append", type=_parameter, default=[], metavar="NAME=VALUE",
                         help="override a template parameter (repeatable)")
        sub.add_argument("-v", "--verbose", action="store_true", help="log every request and invocation")
        sub.add_argument("--logs", action="store_true",
                         help="also copy every function's log output to stderr, prefixed by its logical id")
        if ports:
            sub.add_argument("--reload", action="store_true",
                             help="restart a function's worker when its code (or the shared package) changes")
            env = os.environ
            for name, default, what in (("MOTO", DEFAULT_MOTO_PORT, "moto (AWS APIs)"),
                                        ("API", DEFAULT_API_PORT, "the HTTP API"),
                                        ("INVOKE", DEFAULT_INVOKE_PORT, "the Lambda Invoke API")):
                sub.add_argument(f"--{name.lower()}-port", type=int, default=env_port(env, name, default),
                                 help=f"port of {what}; 0 = any free port "
                                      f"(default: $SOCIALCARE_LOCAL_{name}_PORT or {default})")

    stack_options(commands.add_parser("local", help="run the embedded local AWS stack in the foreground"), True)
    stack_options(commands.add_parser("demo", help="start the local stack, play the demo scenario, stop"), False)

    crm = commands.add_parser("crm", help="CRM sync operations").add_subparsers(dest="crm_command", required=True)
    reconcile = crm.add_parser("reconcile", help="list cases whose CRM version lags ours and re-enqueue them")
    reconcile.add_argument("--dry-run", action="store_true", help="only list the lagging cases")
    reconcile.add_argument("--limit", type=int, default=None, help="at most this many cases")
    target = reconcile.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="a deployed CloudFormation stack (uses the default AWS credentials)")
    target.add_argument("--local", action="store_true",
                        help="the running `socialcare local` (moto on $SOCIALCARE_LOCAL_MOTO_PORT or 4566)")
    openapi = commands.add_parser("openapi", help="write the API's OpenAPI document (docs/openapi.json)")
    openapi.add_argument("--check", action="store_true", help="only fail when the committed document is stale")
    return parser


def run_openapi(args: argparse.Namespace) -> int:
    from socialcare_infra import openapi

    if args.check:
        problem = openapi.stale()
        print(problem or f"{openapi.DOCUMENT} is up to date", file=sys.stderr if problem else sys.stdout)
        return 1 if problem else 0
    print(f"wrote {openapi.write()}")
    return 0


def run_crm(args: argparse.Namespace) -> int:
    from socialcare_infra import ops

    needed = ("CasesTable", "CrmSyncQueue")
    if args.local:
        ops.point_at_local(needed, moto_port=env_port(os.environ, "MOTO", DEFAULT_MOTO_PORT))
    else:
        ops.point_at_stack(needed, stack=args.stack)
    lines, code = ops.crm_reconcile(dry_run=args.dry_run, limit=args.limit)
    print("\n".join(lines))
    return code


def _stack(args: argparse.Namespace, moto_port: int, api_port: int, invoke_port: int, reload: bool) -> LocalStack:
    return LocalStack(
        template_path=args.template,
        stack_name=args.stack,
        parameters=dict(args.param),
        moto_port=moto_port,
        api_port=api_port,
        invoke_port=invoke_port,
        reload=reload,
    )


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


def run_local(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before starting so a signal during start-up still stops cleanly.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = _stack(args, moto_port=args.moto_port, api_port=args.api_port, invoke_port=args.invoke_port,
                   reload=args.reload)
    stack.start()
    try:
        for line in stack.describe():
            print(line)
        print(READY_LINE, flush=True)
        if args.logs:
            follow_logs(stack, stop)
        while not stop.wait(0.5):
            pass
        print("socialcare local: stopping", flush=True)
    finally:
        stack.stop()
    print("socialcare local: stopped", flush=True)
    return 0


def demo_profiles() -> dict[str, dict[str, str]]:
    """The story's people as the platform stand-in's User Profile API shows them (Graph ids)."""
    from socialcare_infra import scenario

    anna, marco = scenario.ANNA, scenario.MARCO
    first, last = anna["name"].split(" ", 1)
    return {anna["messenger_psid"]: {"first_name": first, "last_name": last, "name": anna["name"]},
            marco["instagram_id"]: {"name": marco["name"], "username": marco["handle"]}}


def run_demo(args: argparse.Namespace) -> int:
    from socialcare_infra import demo
    from socialcare_infra.provision import LOCAL_SECRET_DEFAULTS

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
        template_path=args.template,
        stack_name=args.stack,
        parameters=dict(args.param),
        moto_port=env_port(env, "MOTO", DEFAULT_MOTO_PORT),
        api_port=env_port(env, "API", DEFAULT_API_PORT),
        invoke_port=env_port(env, "INVOKE", DEFAULT_INVOKE_PORT),
        fallback_to_free_ports=True,  # a demo should run even next to a `socialcare local`
        environ=env,
        platform_profiles=demo_profiles(),
    ) as stack:
        print(f"local stack up: http api {stack.api_url}, moto {stack.moto_url}", flush=True)
        stop = threading.Event()
        if args.logs:
            follow_logs(stack, stop)
        try:
            return demo.play(stack, demo.story_steps(crm))
        finally:
            stop.set()
            if crm is not None:
                crm.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "local":
            return run_local(args)
        if args.command == "crm":
            return run_crm(args)
        if args.command == "openapi":
            return run_openapi(args)
        return run_demo(args)
    except (TemplateError, OSError, LookupError) as exc:
        print(f"socialcare {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
