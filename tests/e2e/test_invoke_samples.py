"""Every sample event in events/ invoked on a fresh `socialcare local`, as docs/build.md ("Sample
events") tells a developer to: through the Lambda Invoke API, in events/index.toml's order, the
webhook samples re-signed by events/resign.py. Each function takes its sample without an error:
webhooks and the API answer 200, queue and stream consumers report no failed record.
"""

from __future__ import annotations

import importlib.util
import json
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
INDEX: dict[str, list[str]] = tomllib.loads((EVENTS / "index.toml").read_text(encoding="utf-8"))
SAMPLE_CASE = "SC-2026-000001"  # Anna's case as the samples name it
ANNA_X_ID = "2244994945"


def _resign() -> Callable[[dict[str, Any], dict[str, str], float], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("events_resign", EVENTS / "resign.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    resign: Callable[[dict[str, Any], dict[str, str], float], dict[str, Any]] = module.resign
    return resign


resign = _resign()


@pytest.fixture(scope="module")
def stack(local_stack_factory: Callable[..., AbstractContextManager[Any]]) -> Iterator[Any]:
    with local_stack_factory() as local:
        yield local


def anna_s_case(api_url: str) -> str:
    """The id the stack gave Anna's case (SC-<this year>-000001 on a fresh stack)."""
    auth = {"Authorization": "Bearer local-api-token"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = requests.get(f"{api_url}/api/customers", params={"x": ANNA_X_ID}, headers=auth, timeout=10).json()
        opened = [c["open_case_id"] for c in found.get("customers") or [] if c.get("open_case_id")]
        if opened:
            return str(opened[0])
        time.sleep(0.5)
    raise AssertionError("the processor sample opened no case for Anna")


def test_every_function_takes_its_sample(stack: Any) -> None:
    client = stack.lambda_client()
    case_id = SAMPLE_CASE
    problems = []
    for function, names in INDEX.items():
        for name in names:
            text = (EVENTS / name).read_text(encoding="utf-8").replace(SAMPLE_CASE, case_id)
            event = resign(json.loads(text), {}, time.time())
            response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            result = json.loads(response["Payload"].read() or b"null")
            if "FunctionError" in response:
                problems.append(f"{function} {name}: {result}")
            elif isinstance(result, dict) and "statusCode" in result and result["statusCode"] != 200:
                problems.append(f"{function} {name}: HTTP {result['statusCode']} {result.get('body')}")
            elif isinstance(result, dict) and result.get("batchItemFailures"):
                problems.append(f"{function} {name}: failed records {result['batchItemFailures']}")
        if function == "ProcessorFunction":
            case_id = anna_s_case(stack.api_url)  # the later samples act on her case
    assert problems == []
