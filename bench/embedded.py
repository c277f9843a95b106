"""The embedded AWS the bench measures against: moto in server mode (the local stack's own moto
app, on a loopback port), every resource of template.yaml provisioned into it, and the real
functions' handlers loaded in this process, each under the environment the local stack gives it.

The functions run in process (not in the local stack's worker processes) so the botocore hooks
of ``bench.calls`` see their requests and the bench can attribute each to a stage; event source
mappings are the local stack's own pollers (``esm.SqsPoller``, ``streams.StreamPoller``) driven
one round at a time.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.calls import Recorder
from bench.recognition.fastmoto import cheap_transactions
from socialcare_infra import esm, streams
from socialcare_infra.handlers import load_app
from socialcare_infra.invoke import FunctionSpec, InvokeResult
from socialcare_infra.provision import Provisioner, local_session
from socialcare_infra.stack import LocalStack

REGION = "eu-west-1"
# What Lambda itself writes to CloudWatch Logs per invocation (START, END and REPORT lines),
# counted for the measured path and its floor alike.
PLATFORM_LOG_BYTES = 300


class CountingStream(io.TextIOBase):
    """A write-only text stream that keeps only the number of bytes written to it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8", "surrogatepass"))
        return len(text)


class Context:
    """The LambdaContext a handler is given."""

    function_version = "$LATEST"

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.memory_limit_in_mb = spec.memory_mb
        self.invoked_function_arn = spec.arn
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Embedded:
    """moto + the template's resources + in-process handlers; a context manager."""

    def __init__(self, recorder: Recorder, parameters: dict[str, str] | None = None) -> None:
        self.recorder = recorder
        self._state = tempfile.TemporaryDirectory(prefix="socialcare-bench-")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
        environ["AWS_DEFAULT_REGION"] = REGION
        self.stack = LocalStack(moto_port=0, api_port=0, invoke_port=0, parameters=parameters or {},
                                environ=environ, state_dir=self._state.name)
        self.modules: dict[str, ModuleType] = {}
        self.durations_ms: dict[str, list[float]] = {}
        self.log_bytes: dict[str, int] = {}
        self.invocations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self.first_events: dict[str, Any] = {}  # each function's first event (the cold-start bench's)
        self._exit = contextlib.ExitStack()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Embedded:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        stack = self.stack
        # moto deep-copies every table a transaction names, per transaction: on the tables a
        # run grows that is most of the time measured, and DynamoDB does nothing like it. The
        # recognition bench's ``cheap_transactions`` (same all-or-nothing outcome) applies to
        # this process's moto backend, for the measured path and the floors alike.
        self._exit.enter_context(cheap_transactions())
        stack._start_moto()  # the local stack's own steps, without its worker processes
        stack._start_platforms()
        stack.provisioned = Provisioner(stack.resolver, stack.moto_url, stack.environ, stack.time_scale).provision()
        stack._build_functions()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop()
        self._exit.close()
        self._state.cleanup()

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return self.stack.functions

    def client(self, service: str) -> Any:
        """One client per service for the bench's own requests (the event source mappings', the
        floors'), created once like a Lambda environment's."""
        if service not in self._clients:
            self._clients[service] = local_session(REGION).client(service, endpoint_url=self.stack.moto_url)
        return self._clients[service]

    def discard(self, queue_url: str) -> None:
        """Empty a queue, unrecorded (PurgeQueue may run once a minute only)."""
        sqs = self.client("sqs")
        with self.recorder.paused():
            while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def env(self, logical_id: str) -> dict[str, str]:
        return dict(self.functions[logical_id].environment)

    # ------------------------------------------------------------------ functions
    def module(self, logical_id: str) -> ModuleType:
        if logical_id not in self.modules:
            spec = self.functions[logical_id]
            with environment(spec.environment):
                self.modules[logical_id] = load_app(spec.code_dir.name)
        return self.modules[logical_id]

    def invoke(self, logical_id: str, event: Any) -> Any:
        """The handler's answer; its duration, log bytes and AWS requests are recorded."""
        module = self.module(logical_id)
        spec = self.functions[logical_id]
        self.first_events.setdefault(logical_id, copy.deepcopy(event))
        counter = CountingStream()
        previous = self.recorder.stage
        self.recorder.stage = logical_id
        try:
            with environment(spec.environment), capture_logs(counter):
                started = time.perf_counter()
                result = module.handler(event, Context(spec))
                elapsed = (time.perf_counter() - started) * 1000
        finally:
            self.recorder.stage = previous
        with self._lock:
            self.durations_ms.setdefault(logical_id, []).append(elapsed)
            self.log_bytes[logical_id] = self.log_bytes.get(logical_id, 0) + counter.bytes + PLATFORM_LOG_BYTES
            self.invocations[logical_id] = self.invocations.get(logical_id, 0) + 1
        return result

    def take_runtime(self) -> dict[str, dict[str, Any]]:
        """Durations, log bytes and invocations per function since the last call; then reset."""
        with self._lock:
            taken: dict[str, dict[str, Any]] = {"durations_ms": self.durations_ms, "log_bytes": self.log_bytes,
                                                "invocations": self.invocations}
            self.durations_ms, self.log_bytes, self.invocations = {}, {}, {}
        return taken

    def runner(self, logical_id: str) -> InProcessRunner:
        return InProcessRunner(self, logical_id)

    # ------------------------------------------------------------------ event sources
    def sqs_poller(self, logical_id: str) -> esm.SqsPoller:
        spec = self.functions[logical_id]
        urls = {self.stack.resolver.get_att(lid, "Arn"): url for lid, url in self.stack.provisioned.queue_urls.items()}
        event_name, props = next((n, e.get("Properties") or {}) for n, e in spec.events.items()
                                 if e.get("Type") == "SQS")
        source = esm.sqs_source(logical_id, event_name, props, urls)
        return esm.SqsPoller(source, self.runner(logical_id), self.client("sqs"), REGION, threading.Event())

    def stream_poller(self, logical_id: str) -> streams.StreamPoller:
        return self.stream_pollers(logical_id)[0]

    def stream_pollers(self, logical_id: str) -> list[streams.StreamPoller]:
        """One poller per DynamoDB stream event of the function (ReportAggregatorFunction reads two)."""
        spec = self.functions[logical_id]
        return [self._stream_poller(logical_id, name, e.get("Properties") or {})
                for name, e in spec.events.items() if e.get("Type") == "DynamoDB"]

    def _stream_poller(self, logical_id: str, event_name: str, props: dict[str, Any]) -> streams.StreamPoller:
        source = streams.stream_source(logical_id, event_name, props, self.stack.provisioned.stream_arns.values())
        source.batching_window_s = 0.0  # the bench drains the stream after each batch; nothing to wait for
        return streams.StreamPoller(source, self.runner(logical_id), self.client("dynamodbstreams"), REGION,
                                    threading.Event())


class InProcessRunner:
    """What the local stack's pollers call (``invoke(event) -> InvokeResult``), in this process."""

    def __init__(self, embedded: Embedded, logical_id: str) -> None:
        self.embedded = embedded
        self.logical_id = logical_id

    def invoke(self, event: Any, client_context: Any = None) -> InvokeResult:
        request_id = str(uuid.uuid4())
        try:
            return InvokeResult(request_id, payload=self.embedded.invoke(self.logical_id, event))
        except Exception as exc:  # noqa: BLE001 - Lambda reports a handler's exception as an error
            return InvokeResult(request_id, error={"errorMessage": str(exc), "errorType": type(exc).__name__})


@contextlib.contextmanager
def capture_logs(counter: CountingStream) -> Iterator[None]:
    """Everything the handler writes to stdout (Powertools' JSON logs and EMF metrics) goes to
    ``counter``: the logging handlers keep the stream they were built with, so they are pointed
    at it too (``StreamHandler.setStream``, the logging API), and set back afterwards."""
    handlers = [h for lg in _loggers() for h in lg.handlers if isinstance(h, logging.StreamHandler)]
    saved = [h.setStream(counter) for h in handlers]
    try:
        with contextlib.redirect_stdout(counter):
            yield
    finally:
        for handler, stream in zip(handlers, saved, strict=True):
            if stream is not None:
                handler.setStream(stream)


def _loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    found = [logging.getLogger()]
    found += [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger) and lg.handlers]
    return found


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
