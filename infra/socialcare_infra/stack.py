"""The embedded local stack: moto, the template's resources, workers, HTTP API, Invoke API, pollers.

Usage from Python (tests, the demo)::

    with LocalStack(api_port=0, invoke_port=0, moto_port=0) as stack:
        requests.get(f"{stack.api_url}/webhooks/x", params={"crc_token": "t"})

Everything binds to 127.0.0.1. Port 0 picks a free port; the bound ports are on the object.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

from socialcare_infra import esm, streams
from socialcare_infra.environment import function_environment
from socialcare_infra.gateway import Gateway, Route, api_id_for, routes_from_events
from socialcare_infra.invoke import AsyncInvoker, FunctionRunner, FunctionSpec, invoke_app
from socialcare_infra.moto_app import moto_app
from socialcare_infra.platform_standin import PlatformStandIn
from socialcare_infra.provision import (
    Provisioned,
    Provisioner,
    local_session,
    scale_seconds,
    secret_env_names,
    time_scale_from_env,
)
from socialcare_infra.servers import HOST, Server, bind, env_port
from socialcare_infra.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK,
    Resolver,
    load_template,
)
from socialcare_infra.watch import CodeWatcher

log = logging.getLogger(__name__)

DEFAULT_MOTO_PORT = 4566
DEFAULT_API_PORT = 3000
DEFAULT_INVOKE_PORT = 3001
FUNCTION_TYPES = ("AWS::Serverless::Function",)
# SAM's defaults when neither the function nor Globals say otherwise.
SAM_DEFAULT_TIMEOUT_S = 3
SAM_DEFAULT_MEMORY_MB = 128
# Template parameters the local stack points at its loopback platform stand-in (unless given),
# with the variable that, set in the stack's environment, overrides them for every function.
PLATFORM_PARAMETERS = {"GraphApiUrl": "SOCIALCARE_GRAPH_API_URL", "XApiUrl": "SOCIALCARE_X_API_URL"}


def project_template() -> Path:
    """template.yaml of the project: the current directory's, else the repository's."""
    here = Path.cwd() / "template.yaml"
    if here.exists():
        return here
    return Path(__file__).resolve().parents[2] / "template.yaml"


class LocalStack:
    """The whole local stack; a context manager that starts on enter and stops on exit."""

    def __init__(
        self,
        template_path: str | Path | None = None,
        stack_name: str = DEFAULT_STACK,
        moto_port: int = DEFAULT_MOTO_PORT,
        api_port: int = DEFAULT_API_PORT,
        invoke_port: int = DEFAULT_INVOKE_PORT,
        parameters: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        state_dir: str | Path | None = None,
        fallback_to_free_ports: bool = False,
        time_scale: float | None = None,
        reload: bool = False,
        platform_profiles: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.template_path = Path(template_path or project_template()).resolve()
        self.stack_name = stack_name
        self.environ: dict[str, str] = dict(os.environ if environ is None else environ)
        self.region = self.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self.account_id = DEFAULT_ACCOUNT_ID
        self.time_scale = time_scale if time_scale is not None else time_scale_from_env(self.environ)
        # Schedules have their own knob: a poller of a real external API (X) must not be
        # scaled into hammering it, while the rest of the stack stays fast.
        self.schedule_scale = time_scale_from_env(self.environ, "SOCIALCARE_LOCAL_SCHEDULE_SCALE", self.time_scale)
        self.state_dir = Path(
            state_dir or self.environ.get("SOCIALCARE_LOCAL_STATE_DIR")
            or self.template_path.parent / ".socialcare-local"
        ).resolve()
        self._ports = {"moto": moto_port, "api": api_port, "invoke": invoke_port}
        self._fallback = fallback_to_free_ports
        self.reload = reload
        self.resolver = Resolver(
            load_template(self.template_path),
            stack_name=stack_name,
            region=self.region,
            account_id=self.account_id,
            parameters=dict(parameters or {}),
        )
        self.platforms = PlatformStandIn(platform_profiles)
        self.provisioned = Provisioned()
        self.functions: dict[str, FunctionSpec] = {}
        self.runners: dict[str, FunctionRunner] = {}
        self.routes: list[Route] = []
        self.sqs_sources: list[esm.SqsSource] = []
        self.schedules: list[esm.Schedule] = []
        self.stream_sources: list[streams.StreamSource] = []
        self._servers: dict[str, Server] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._async = AsyncInvoker(
            retry_delays_s=(scale_seconds(60, self.time_scale), scale_seconds(120, self.time_scale))
        )
        self._started = False

    # ------------------------------------------------------------------ public surface
    @property
    def moto_url(self) -> str:
        return f"http://{HOST}:{self._servers['moto'].port}"

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self._servers['api'].port}"

    @property
    def invoke_url(self) -> str:
        return f"http://{HOST}:{self._servers['invoke'].port}"

    @property
    def names(self) -> dict[str, str]:
        """Logical id -> physical name of every emulated resource and function."""
        names = dict(self.provisioned.names)
        names.update({logical_id: spec.name for logical_id, spec in self.functions.items()})
        return names

    @property
    def secret_values(self) -> dict[str, str]:
        """Secret logical id -> the value seeded into moto (e.g. ``["XConsumerSecret"]``)."""
        return dict(self.provisioned.secret_values)

    @property
    def secret_arns(self) -> dict[str, str]:
        return dict(self.provisioned.secret_arns)

    @property
    def queue_urls(self) -> dict[str, str]:
        return dict(self.provisioned.queue_urls)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` pointed at this stack's moto."""
        return local_session(self.region).client(service, endpoint_url=self.moto_url)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines from servers
        try:
            self._start_moto()
            self._start_platforms()
            provisioner = Provisioner(self.resolver, self.moto_url, self.environ, self.time_scale)
            self.provisioned = provisioner.provision()
            self._build_functions()
            self._bind_http()
            self._start_workers()
            self._servers["api"].serve("local-http-api")
            self._servers["invoke"].serve("local-invoke-api")
            self._start_event_sources()
            if self.reload:
                self._spawn(CodeWatcher(self, self._stop))
            self._started = True
        except BaseException:
            self.stop()
            raise

    def _start_moto(self) -> None:
        # moto runs in this process and builds plain boto3 Sessions internally, which fail on
        # an AWS_PROFILE that does not exist here; a local stack has no use for a profile.
        for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            if os.environ.pop(variable, None) is not None:
                log.info("%s is ignored (and unset) in the local stack's process", variable)
        app = moto_app()
        self._servers["moto"] = bind(app, self._ports["moto"], self._fallback, request_handler=MotoRequestHandler)
        self._servers["moto"].serve("local-moto")

    def _start_platforms(self) -> None:
        """Serve the Graph/X stand-in and point the template's API URLs at it, unless the user
        chose them (``--param GraphApiUrl=…`` or ``SOCIALCARE_GRAPH_API_URL``): locally, nothing
        reaches graph.facebook.com or api.x.com by default."""
        given = self.resolver.parameters
        declared = self.resolver.template.get("Parameters") or {}  # a template without them calls nobody
        wanted = [p for p, variable in PLATFORM_PARAMETERS.items()
                  if p in declared and p not in given and not self.environ.get(variable)]
        if not wanted:
            return
        self.platforms.serve(env_port(self.environ, "PLATFORMS", 0), self._fallback)
        r = self.resolver
        self.resolver = Resolver(r.template, stack_name=r.stack_name, region=r.region, account_id=r.account_id,
                                 parameters={**given, **{p: self.platforms.url for p in wanted}})

    def _bind_http(self) -> None:
        self.routes = [
            route for logical_id, spec in self.functions.items()
            for route in routes_from_events(logical_id, spec.events)
        ]
        gateway = Gateway(self.routes, self.runners, self.account_id, api_id_for(self.stack_name))
        self._servers["api"] = bind(gateway, self._ports["api"], self._fallback)
        self._servers["invoke"] = bind(
            invoke_app(self._lookup, self._async, self.region, self.account_id),
            self._ports["invoke"], self._fallback,
        )
        # The environment needs the Invoke API's port, known only now.
        invoke_url = f"http://{HOST}:{self._servers['invoke'].port}"
        for spec in self.functions.values():
            spec.environment["AWS_ENDPOINT_URL_LAMBDA"] = invoke_url

    def _lookup(self, name: str) -> FunctionRunner | None:
        if name in self.runners:
            return self.runners[name]
        for logical_id, spec in self.functions.items():
            if spec.name == name:
                return self.runners[logical_id]
        return None

    def _start_workers(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for logical_id, spec in self.functions.items():
            spec.log_path.write_bytes(b"")  # one run per log file: what you read is this run's
            self.runners[logical_id] = FunctionRunner(spec)
        # Imports are the slow part of a start; do them side by side.
        with ThreadPoolExecutor(max_workers=max(1, len(self.runners))) as pool:
            list(pool.map(lambda runner: runner.start(), self.runners.values()))

    # ------------------------------------------------------------------ functions
    def _build_functions(self) -> None:
        globals_fn = (self.resolver.template.get("Globals") or {}).get("Function") or {}
        hidden = secret_env_names(self.resolver)
        for logical_id, resource in self.resolver.resources.items():
            if resource.get("Type") not in FUNCTION_TYPES or not self.resolver.included(logical_id):
                continue
            props = resource.get("Properties") or {}
            merged = {**globals_fn, **props}
            name = self.resolver.name(logical_id)
            code_dir = self._code_dir(merged)
            if code_dir is None:
                log.warning("%s: CodeUri is not a local directory; skipped", logical_id)
                continue
            events = self.resolver.resolve(props.get("Events") or {})
            self.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=name,
                arn=self.resolver.get_att(logical_id, "Arn"),
                code_dir=code_dir,
                handler=str(merged.get("Handler", "app.handler")),
                timeout_s=float(self.resolver.resolve(merged.get("Timeout", SAM_DEFAULT_TIMEOUT_S))),
                memory_mb=int(self.resolver.resolve(merged.get("MemorySize", SAM_DEFAULT_MEMORY_MB))),
                environment=self._environment(name, globals_fn, props, merged, hidden),
                log_path=self.log_dir / f"{logical_id}.log",
                events=events,
            )

    def _code_dir(self, merged: Mapping[str, Any]) -> Path | None:
        code_uri = self.resolver.resolve(merged.get("CodeUri", "."))
        # An S3 location ({Bucket, Key}) is a deployed artifact, not code we can run.
        return (self.template_path.parent / code_uri).resolve() if isinstance(code_uri, str) else None

    def _environment(self, name: str, globals_fn: Mapping[str, Any], props: Mapping[str, Any],
                     merged: Mapping[str, Any], hidden: set[str]) -> dict[str, str]:
        variables: dict[str, Any] = {}
        for source in (globals_fn, props):
            variables.update(((source.get("Environment") or {}).get("Variables")) or {})
        return function_environment(
            declared=self.resolver.resolve(variables), environ=self.environ, hidden=hidden, name=name,
            memory=str(self.resolver.resolve(merged.get("MemorySize", SAM_DEFAULT_MEMORY_MB))),
            code_dir=self._code_dir(merged), moto_url=self.moto_url, region=self.region,
        )

    # ------------------------------------------------------------------ event sources
    def _start_event_sources(self) -> None:
        urls_by_arn = {
            self.resolver.get_att(logical_id, "Arn"): url for logical_id, url in self.provisioned.queue_urls.items()
        }
        sqs = self.client("sqs")
        for logical_id, spec in self.functions.items():
            for event_name, event in spec.events.items():
                kind = event.get("Type")
                props = event.get("Properties") or {}
                if kind == "SQS":
                    source = esm.sqs_source(logical_id, event_name, props, urls_by_arn)
                    self.sqs_sources.append(source)
                    if source.enabled:
                        self._spawn(esm.SqsPoller(source, self.runners[logical_id], sqs, self.region, self._stop))
                elif kind == "DynamoDB":
                    self._add_stream(logical_id, event_name, props)
                elif kind in ("Schedule", "ScheduleV2"):
                    self._add_schedule(logical_id, event_name, kind, props)
                elif kind not in ("HttpApi", None):
                    log.warning("%s.%s: event type %s is not emulated locally", logical_id, event_name, kind)

    def _add_stream(self, logical_id: str, event_name: str, props: Mapping[str, Any]) -> None:
        source = streams.stream_source(logical_id, event_name, props, self.provisioned.stream_arns.values())
        self.stream_sources.append(source)
        if source.enabled:
            client = self.client("dynamodbstreams")
            self._spawn(streams.StreamPoller(source, self.runners[logical_id], client, self.region, self._stop,
                                             self.time_scale))

    def _add_schedule(self, logical_id: str, event_name: str, kind: str, props: Mapping[str, Any]) -> None:
        expression = str(props.get("Schedule") or props.get("ScheduleExpression") or "")
        period = esm.rate_seconds(expression)
        schedule = esm.Schedule(
            function=logical_id,
            event_name=event_name,
            expression=expression,
            period_s=float(scale_seconds(period, self.schedule_scale)) if period else None,
            enabled=esm.schedule_enabled(props),
            payload=esm.schedule_payload(props),
        )
        self.schedules.append(schedule)
        if not schedule.enabled:
            return
        if schedule.period_s is None:
            log.warning("%s.%s: %s is not supported locally (only rate(...)); not scheduled",
                        logical_id, event_name, expression)
            return
        rule = f"{self.stack_name}-{logical_id}-{event_name}"
        service = "scheduler" if kind == "ScheduleV2" else "events"
        resource = f"schedule/default/{rule}" if kind == "ScheduleV2" else f"rule/{rule}"
        arn = f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"
        self._spawn(esm.Scheduler(schedule, self.runners[logical_id], self._stop, self.region,
                                  self.account_id, arn))

    def _spawn(self, thread: threading.Thread) -> None:
        self._threads.append(thread)
        thread.start()

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Stop pollers, HTTP servers, workers (killed if they do not exit) and moto."""
        self._stop.set()
        for key in ("api", "invoke"):
            if key in self._servers:
                self._servers.pop(key).stop()
        self._async.cancel()
        with ThreadPoolExecutor(max_workers=max(1, len(self.runners))) as pool:
            list(pool.map(lambda runner: runner.stop(), self.runners.values()))
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if "moto" in self._servers:
            self._servers.pop("moto").stop()
        self.platforms.stop()
        self._started = False

    # ------------------------------------------------------------------ reporting
    def describe(self) -> list[str]:
        """Human-readable lines: endpoints, then every physical name."""
        lines = [
            f"stack      {self.stack_name} (region {self.region}, time scale {self.time_scale:g}, "
            f"schedule scale {self.schedule_scale:g})",
            f"moto       {self.moto_url}",
            f"http api   {self.api_url}",
            f"invoke api {self.invoke_url}",
            *([f"platforms  {self.platforms.url}"] if self.platforms.server else []),  # Graph/X stand-in
            f"logs       {self.log_dir}",
        ]
        width = max((len(k) for k in self.names), default=0)
        for logical_id, name in self.names.items():
            kind = self.provisioned.types.get(logical_id, "AWS::Serverless::Function")
            lines.append(f"  {logical_id:<{width}}  {name}  ({kind})")
        for route in self.routes:
            lines.append(f"  route {route.route_key} -> {route.function}")
        for source in self.stream_sources:
            state = "" if source.enabled else " (disabled)"
            lines.append(f"  stream {source.stream_arn} -> {source.function}.{source.event_name}{state}")
        return lines


__all__ = ["LocalStack", "env_port", "project_template"]
