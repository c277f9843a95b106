"""Run functions in warm worker processes, and serve the Lambda Invoke API on top of them.

``FunctionRunner`` owns one function's worker (see ``worker.py``): it starts it, sends it one
invocation at a time, kills it when an invocation outlives the template ``Timeout`` (as Lambda
does) and starts a fresh one on the next invocation after it died.

``invoke_app`` is a WSGI app answering ``POST /2015-03-31/functions/{name}/invocations`` the
way botocore expects, so ``boto3.client("lambda", endpoint_url=...).invoke(...)`` works
against the local stack like ``sam local start-lambda``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from socialcare_infra.worker import _HEADER

log = logging.getLogger(__name__)

# Lambda's synchronous payload limit (request and response).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# How long a worker may take to import its handler (the local "cold start").
INIT_TIMEOUT_S = 60.0


@dataclass
class FunctionSpec:
    """Everything needed to run one AWS::Serverless::Function locally."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    log_path: Path
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class InvokeResult:
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    log_tail: bytes = b""

    @property
    def failed(self) -> bool:
        return self.error is not None


class WorkerGone(Exception):
    """The worker exited or stopped answering."""


class FunctionRunner:
    """One function's warm execution environment (a persistent worker subprocess)."""

    def __init__(self, spec: FunctionSpec, python: str = sys.executable) -> None:
        self.spec = spec
        self.python = python
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._buffer = bytearray()
        self._init_error: dict[str, Any] | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._stopped:
            raise WorkerGone(f"{self.spec.logical_id} is stopped")
        if self._proc is not None and self._proc.poll() is None:
            return
        self._discard()
        self._init_error = None
        if not self.spec.code_dir.is_dir():
            # Until its code lands the function exists but every invocation fails, as a
            # deployment with a broken package would.
            self._init_error = _runtime_error(f"CodeUri {self.spec.code_dir} does not exist",
                                              "Runtime.ImportModuleError")
            return
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.spec.log_path, "ab")  # noqa: SIM115 - lives as long as the worker
        self._buffer.clear()
        self._init_error = None
        self._proc = subprocess.Popen(
            [self.python, "-m", "socialcare_infra.worker", str(self.spec.code_dir), self.spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=str(self.spec.code_dir),
            env=self.spec.environment,
            # Its own session: a terminal's Ctrl-C goes to `socialcare local`, which stops
            # workers in order; a worker whose parent vanished exits on EOF of its stdin.
            start_new_session=True,
        )
        try:
            first = self._read_frame(self._proc, time.monotonic() + INIT_TIMEOUT_S)
        except (WorkerGone, TimeoutError, OSError, ValueError):
            self._init_error = {
                "errorMessage": f"worker for {self.spec.logical_id} exited during init; see {self.spec.log_path}",
                "errorType": "Runtime.ExitError",
                "stackTrace": [],
            }
            self._discard()
            return
        if "init_error" in first:
            self._init_error = first["init_error"]
            self._discard()
        if self._stopped:
            # stop() ran (without the lock) while this worker was starting: do not outlive it.
            self._discard()
            raise WorkerGone(f"{self.spec.logical_id} is stopped")

    def _discard(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def recycle(self) -> None:
        """Drop the warm worker (after its current invocation); the next one cold-starts."""
        with self._lock:
            self._discard()

    def stop(self) -> None:
        self._stopped = True
        # Not under the lock: a hung invocation must not keep the stack from stopping.
        self._discard()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------ invocation
    def invoke(self, event: Any, client_context: Any = None) -> InvokeResult:
        request_id = str(uuid.uuid4())
        with self._lock:
            try:
                self._ensure_started()
            except WorkerGone as exc:
                return InvokeResult(request_id, error=_runtime_error(str(exc), "Runtime.Stopped"))
            if self._proc is None:
                error = dict(self._init_error or _runtime_error("init failed", "Runtime.InitError"))
                return InvokeResult(request_id, error=error)
            log_start = self._log_size()
            result = self._invoke_locked(request_id, event, client_context)
            result.log_tail = self._log_since(log_start)
            return result

    def _invoke_locked(self, request_id: str, event: Any, client_context: Any) -> InvokeResult:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        spec = self.spec
        started = time.time()
        deadline_ms = int((started + spec.timeout_s) * 1000)
        context = {
            "function_name": spec.name,
            "function_version": "$LATEST",
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_mb,
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{spec.name}",
            "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "deadline_ms": deadline_ms,
            "client_context": client_context,
        }
        data = json.dumps({"event": event, "context": context}).encode("utf-8")
        try:
            proc.stdin.write(_HEADER.pack(len(data)) + data)
            proc.stdin.flush()
            reply = self._read_frame(proc, time.monotonic() + spec.timeout_s + 0.5)
        except TimeoutError:
            # Lambda throws the environment away after a timeout; so do we.
            self._discard()
            message = f"{request_id} Task timed out after {spec.timeout_s:.2f} seconds"
            return InvokeResult(request_id, error=_runtime_error(message, "Sandbox.Timedout"))
        except (WorkerGone, OSError, ValueError):
            # OSError/ValueError: the pipe broke or was closed under us by stop().
            self._discard()
            message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
            return InvokeResult(request_id, error=_runtime_error(message, "Runtime.ExitError"))
        if "error" in reply:
            return InvokeResult(request_id, error=reply["error"])
        return InvokeResult(request_id, payload=reply.get("result"))

    def _read_frame(self, proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack(self._buffer[: _HEADER.size])
                end = _HEADER.size + size
                if len(self._buffer) >= end:
                    frame = bytes(self._buffer[_HEADER.size:end])
                    del self._buffer[:end]
                    message: dict[str, Any] = json.loads(frame)
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise WorkerGone(self.spec.logical_id)
            self._buffer.extend(chunk)

    def _log_size(self) -> int:
        try:
            return self.spec.log_path.stat().st_size
        except OSError:
            return 0

    def _log_since(self, offset: int) -> bytes:
        try:
            with open(self.spec.log_path, "rb") as handle:
                handle.seek(offset)
                return handle.read()
        except OSError:
            return b""


def _terminate(proc: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
    """Close the pipe (the worker's cue to exit), then SIGTERM, then SIGKILL."""
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        proc.wait(timeout=grace_s / 2)
        return
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _runtime_error(message: str, error_type: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


# ---------------------------------------------------------------------- async invocations
class AsyncInvoker:
    """Lambda's asynchronous invocation: queued, run later, retried twice on error."""

    def __init__(self, retry_delays_s: tuple[float, ...] = (60.0, 120.0), max_workers: int = 4) -> None:
        self.retry_delays_s = retry_delays_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="async-invoke")
        self._stop = threading.Event()

    def submit(self, runner: FunctionRunner, event: Any) -> None:
        self._pool.submit(self._run, runner, event)

    def _run(self, runner: FunctionRunner, event: Any) -> None:
        for attempt, delay in enumerate((0.0, *self.retry_delays_s)):
            if self._stop.wait(delay):
                return
            result = runner.invoke(event)
            if not result.failed:
                return
            log.warning(
                "async invocation of %s failed (attempt %d): %s",
                runner.spec.logical_id, attempt + 1, (result.error or {}).get("errorMessage"),
            )

    def cancel(self) -> None:
        """Drop queued invocations and retries; one already running ends when its worker stops."""
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------- Invoke API
def _aws_error(status: int, error_type: str, message: str) -> Response:
    # botocore's rest-json parser reads the code from x-amzn-ErrorType, the text from "message".
    body = json.dumps({"Type": "User", "message": message, "Message": message})
    return Response(body, status=status, headers={"x-amzn-ErrorType": error_type},
                    content_type="application/json")


def invoke_app(
    lookup: Callable[[str], FunctionRunner | None],
    async_invoker: AsyncInvoker,
    region: str,
    account_id: str,
) -> Callable[..., Any]:
    """The WSGI app of the Lambda Invoke API for the functions ``lookup`` knows."""
    url_map = Map([
        Rule("/2015-03-31/functions/<name>/invocations", methods=["POST"], endpoint="invoke"),
    ])

    def invoke(request: Request, name: str) -> Response:
        runner = lookup(_function_name(name))
        if runner is None:
            arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
            return _aws_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        raw = request.get_data()
        if len(raw) > MAX_PAYLOAD_BYTES:
            return _aws_error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _aws_error(400, "InvalidRequestContentException", "Could not parse request body into json")
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return Response(status=204)
        if invocation_type == "Event":
            async_invoker.submit(runner, event)
            return Response(status=202, headers={"X-Amzn-RequestId": str(uuid.uuid4())})
        return _sync_invoke(request, runner, event)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        adapter = url_map.bind_to_environ(environ)
        try:
            _, args = adapter.match()
            response = invoke(request, **args)
        except NotFound:
            response = _aws_error(404, "UnknownOperationException", f"no such operation: {request.path}")
        except HTTPException as exc:
            response = _aws_error(exc.code or 400, "UnknownOperationException", exc.description or "")
        return response(environ, start_response)

    return app


def _sync_invoke(request: Request, runner: FunctionRunner, event: Any) -> Response:
    client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
    result = runner.invoke(event, client_context)
    headers = {"X-Amzn-RequestId": result.request_id, "X-Amz-Executed-Version": "$LATEST"}
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail[-4096:]).decode()
    if result.error is not None:
        headers["X-Amz-Function-Error"] = "Unhandled"
        return Response(json.dumps(result.error), status=200, headers=headers,
                        content_type="application/json")
    body = json.dumps(result.payload)
    if len(body) > MAX_PAYLOAD_BYTES:
        headers["X-Amz-Function-Error"] = "Unhandled"
        error = _runtime_error("Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                               "Function.ResponseSizeTooLarge")
        return Response(json.dumps(error), status=200, headers=headers, content_type="application/json")
    return Response(body, status=200, headers=headers, content_type="application/json")


def _function_name(name: str) -> str:
    """Accept a name, ``name:qualifier`` or a full/partial ARN, as Lambda does."""
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:aws:lambda:region:account:function:name[:qualifier]
        return parts[6] if len(parts) > 6 else name
    if ":" in name:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":
            return parts[2]  # account:function:name
        return parts[0]
    return name


def _client_context(header: str | None) -> Mapping[str, Any] | None:
    if not header:
        return None
    try:
        decoded: Mapping[str, Any] = json.loads(base64.b64decode(header))
        return decoded
    except ValueError:
        return None
