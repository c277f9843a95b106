"""schemathesis against the committed OpenAPI document (docs/openapi.json), on the embedded stack.

The real template runs under ``socialcare local`` (conftest's ``local_stack_factory``) with a
known API token; schemathesis's CLI generates requests for every operation of the document, a
bounded number per operation, and sends them over HTTP with the token: valid and invalid ones
with any identifiers, then valid ones (boundary values included) on a real customer and case.
Checks: no 5xx (``not_a_server_error``), the auth the document declares is enforced
(``ignored_auth``), and what a documented response says it is, it is (content type and schema).
A failure prints schemathesis's report: each failing request as a reproducing curl command.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
TOKEN = "schemathesis-api-token-3c9e"
INBOUND_SECRET = "schemathesis-inbound-secret-51b0"
CHECKS = "not_a_server_error,ignored_auth,content_type_conformance,response_schema_conformance"
EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def api(local_stack_factory: Callable[..., AbstractContextManager[Any]]) -> Iterator[str]:
    with local_stack_factory({"SOCIALCARE_API_TOKEN": TOKEN, "SOCIALCARE_INBOUND_SECRET": INBOUND_SECRET}) as stack:
        yield stack.api_url


@pytest.fixture(scope="module")
def customer(api: str) -> dict[str, Any]:
    """A customer with an open case, made as a user would: a signed chat message to the gateway."""
    body = json.dumps({
        "channel": "chat", "message_id": "schemathesis-1", "occurred_at": datetime.now(UTC).isoformat(),
        "sender": {"id": "visitor-st", "name": "Ada Lovelace", "email": "ada.st@example.com"},
        "text": "Il mio ordine ORD-123456 non è arrivato, voglio un rimborso",
    }).encode()
    ts = str(int(time.time()))
    signature = hmac.new(INBOUND_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    sent = requests.post(f"{api}/webhooks/inbound", data=body, timeout=15, headers={
        "X-Socialcare-Timestamp": ts, "X-Socialcare-Signature": f"sha256={signature}"})
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = requests.get(f"{api}/api/customers", params={"email": "ada.st@example.com"}, timeout=15,
                             headers={"Authorization": f"Bearer {TOKEN}"}).json().get("customers") or []
        if found and found[0].get("open_case_id"):
            return dict(found[0])
        time.sleep(0.5)
    raise AssertionError("the processor did not make the customer and its case within 60 s")


def schemathesis(*args: str, config: Path | None = None, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    st = str(Path(sys.executable).parent / "st")
    command = [st, *(["--config-file", str(config)] if config else []), "run", str(DOCUMENT), "--no-color",
               "--generation-database", "none", "--request-timeout", "15", *args]
    env = dict(os.environ)
    # run outside the work tree: schemathesis keeps replay files under ./.schemathesis
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as cwd:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def run_and_check(api: str, *, phases: str, mode: str = "all", config: Path | None = None) -> None:
    run = schemathesis(
        "--url", api, "--header", f"Authorization: Bearer {TOKEN}", "--checks", CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "11", "--workers", "1",
        "--phases", phases, "--mode", mode, config=config,
    )
    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout[-20000:]}\n{run.stderr[-4000:]}"
    operations = len([m for ops in json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"].values() for m in ops])
    assert f"Tested: {operations}" in run.stdout, run.stdout[-4000:]  # every operation was reached
    print(run.stdout[-1500:])  # the summary: cases generated, phases, warnings


def test_no_operation_answers_a_server_error(api: str) -> None:
    """Any identifiers (mostly 404s): generated valid and invalid paths, queries and bodies."""
    run_and_check(api, phases="fuzzing")


def test_no_operation_answers_a_server_error_on_a_real_customer_and_case(
    api: str, customer: dict[str, Any], tmp_path: Path
) -> None:
    """The identifiers of a real customer and its open case, so every action reaches the domain
    (resolve, reopen, hand-off, release, merge, unmerge, timeline pages) with valid generated
    bodies (invalid ones stop at validation, which the test above covers)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.customer_id" = "{customer["id"]}"\n'
        f'"path.case_id" = "{customer["open_case_id"]}"\n'
        '"path.team" = "social"\n',
        encoding="utf-8",
    )
    run_and_check(api, phases="coverage,fuzzing", mode="positive", config=config)


# ------------------------------------------------------------------ what it found, kept as regressions
# The first two raised inside Powertools' request validation (a non-UTF-8 body; a multipart body
# with no boundary) and the third turned a 409 into a 500 (a conflict detail named "status").
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_body_that_is_not_utf8_is_a_400(api: str) -> None:
    response = requests.post(f"{api}/api/customers/merge", data=b"TR\xff", timeout=15,
                             headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"


def test_a_multipart_body_without_boundary_is_a_4xx(api: str) -> None:
    response = requests.post(f"{api}/api/customers/merge", data=b'{"source": "a", "target": "b"}', timeout=15,
                             headers={**AUTH, "Content-Type": "multipart/form-data"})
    assert response.status_code in {400, 415}, response.text
    assert "error" in response.json()


def test_an_action_on_a_resolved_case_is_a_409(api: str, customer: dict[str, Any]) -> None:
    case_url = f"{api}/api/cases/{customer['open_case_id']}"
    resolved = requests.post(f"{case_url}/resolve", json={"agent": "a-1"}, headers=AUTH, timeout=15)
    assert resolved.status_code in {200, 409}, resolved.text  # 409: a schemathesis run resolved it already
    response = requests.post(f"{case_url}/handoff", json={"to": "callcentre", "agent": "a-1"}, headers=AUTH,
                             timeout=15)
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "conflict"
