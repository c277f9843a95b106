"""One cold start in a fresh interpreter, run by bench/coldstart.py (not imported by anything).

    python coldstart_child.py function|floor <job.json>

``function``: import the function's app.py (the layer on sys.path, as Lambda has it) and make its
first call with the job's event; the clients it creates and the AWS calls it makes are recorded
with botocore hooks (installed before anything else, so their cost is in both modes).
``floor``: import boto3, create the same clients and make the same first AWS call, nothing else.
Prints one JSON line: the milliseconds from the first line of this script to the call's return.
"""

import sys
import time

STARTED = time.perf_counter()

import contextlib  # noqa: E402
import importlib.util  # noqa: E402 - timed from the first line on purpose
import json  # noqa: E402

from botocore import handlers  # noqa: E402 - both modes pay for botocore (boto3 imports it)


class Context:
    function_version = "$LATEST"

    def __init__(self, job: dict) -> None:
        self.function_name = job["name"]
        self.memory_limit_in_mb = job["memory_mb"]
        self.invoked_function_arn = job["arn"]
        self.aws_request_id = "cold-start"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def run_function(job: dict) -> dict:
    clients: list[str] = []
    calls: list[list[object]] = []

    def creating(event_name: str, **_: object) -> None:
        clients.append(event_name.rsplit(".", 1)[-1].replace("-", ""))

    def provide(params: dict, model: object, **_: object) -> None:
        service = model.service_model.service_name  # type: ignore[attr-defined]
        calls.append([service, model.name, json.loads(json.dumps(params, default=str))])  # type: ignore[attr-defined]

    handlers.BUILTIN_HANDLERS.append(("creating-client-class.*", creating))
    handlers.BUILTIN_HANDLERS.append(("provide-client-params.*.*", provide))
    spec = importlib.util.spec_from_file_location("app", job["app"])
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    imported = time.perf_counter()
    module.handler(job["event"], Context(job))
    done = time.perf_counter()
    return {"ms": (done - STARTED) * 1000, "import_ms": (imported - STARTED) * 1000, "clients": clients,
            "calls": [[c[0], c[1]] for c in calls], "first_call": calls[0] if calls else None}


def run_floor(job: dict) -> dict:
    import boto3
    from botocore.exceptions import ClientError

    session = boto3.session.Session()
    clients = {name: session.client(name) for name in job["clients"]}
    if job.get("first_call"):
        service, operation, params = job["first_call"]
        client = clients.get(service) or session.client(service)
        method = client.meta.method_to_api_mapping
        name = next(py for py, api in method.items() if api == operation)
        # a replayed conditional write may be refused: the round trip is what counts
        with contextlib.suppress(ClientError):
            getattr(client, name)(**params)
    return {"ms": (time.perf_counter() - STARTED) * 1000}


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as handle:
        job = json.load(handle)
    result = run_function(job) if mode == "function" else run_floor(job)
    sys.stdout.flush()
    print("\nCOLDSTART " + json.dumps(result))
