"""One warm "execution environment": imports a function's handler once, serves invocations.

Run as ``python -m socialcare_infra.worker <CodeUri dir> <module.function>``. The parent talks
to it over the pipes it was given as stdin/stdout, in length-prefixed JSON frames. Handlers and
Powertools Metrics print to stdout, so before importing the handler the worker moves the
protocol onto private duplicates of those descriptors and points fds 1 and 2 at the log file
the parent passed as stderr: nothing a handler prints can corrupt a frame.

Frames parent -> worker: ``{"event": ..., "context": {...}}``.
Frames worker -> parent: first ``{"ready": true}`` or ``{"init_error": {...}}``, then one
``{"result": ...}`` or ``{"error": {errorMessage, errorType, stackTrace}}`` per invocation.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import struct
import sys
import time
import traceback
from typing import IO, Any

_HEADER = struct.Struct(">I")


def write_frame(stream: IO[bytes], message: Any) -> None:
    data = json.dumps(message).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_exact(stream: IO[bytes], size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)


def read_frame(stream: IO[bytes]) -> Any | None:
    header = read_exact(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    body = read_exact(stream, size)
    if body is None:
        return None
    return json.loads(body)


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields.get("function_version", "$LATEST")
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(fields["memory_limit_in_mb"])
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name: str = fields["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = fields.get("client_context")
        self._deadline_ms: int = int(fields["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's shape for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _isolate_protocol() -> tuple[IO[bytes], IO[bytes]]:
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb")
    # From here on fd 1 (print, C extensions) and fd 2 write to the log file, stdin is empty.
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", closefd=False)
    return proto_in, proto_out


def serve(code_dir: str, handler_spec: str) -> int:
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proto_in, proto_out = _isolate_protocol()
    sys.path.insert(0, code_dir)
    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the function's init error
        traceback.print_exc()
        init_error = error_payload(exc)
        init_error.update(errorType="Runtime.ImportModuleError",
                          errorMessage=f"Unable to import module '{module_name}': {exc}")
        write_frame(proto_out, {"init_error": init_error})
        return 1
    write_frame(proto_out, {"ready": True})
    while True:
        request = read_frame(proto_in)
        if request is None:
            return 0  # parent closed the pipe (stopped or died): leave no orphan behind
        context = LambdaContext(request["context"])
        data = _invoke(handler, request["event"], context)
        encoded = data.encode("utf-8")
        proto_out.write(_HEADER.pack(len(encoded)) + encoded)
        proto_out.flush()


def _invoke(handler: Any, event: Any, context: LambdaContext) -> str:
    """Run the handler once; the reply frame's JSON text."""
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - the runtime reports every handler failure
        traceback.print_exc()
        failure = error_payload(exc)
        failure["requestId"] = context.aws_request_id
        return json.dumps({"error": failure})
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        return json.dumps({"result": result})
    except (TypeError, ValueError) as exc:
        # What the Python runtime answers for a result it cannot serialise.
        return json.dumps({"error": {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }})


def main() -> None:
    if len(sys.argv) != 3:
        print("usage: python -m socialcare_infra.worker <code dir> <module.function>", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(serve(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
