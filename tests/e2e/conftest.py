"""Start ``socialcare local`` as a user would (a subprocess on free ports) and talk HTTP to it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"
READY = "socialcare local: ready"
START_TIMEOUT_S = 60
FIXTURE_SECRET = "fixture-secret-value-7f3a"
_NAME_LINE = re.compile(r"^\s+(\w+)\s+(\S+)\s+\((AWS::[\w:]+)\)$")


def socialcare_command() -> list[str]:
    script = Path(sys.executable).parent / "socialcare"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "socialcare_infra.cli"]


@dataclass
class LocalProcess:
    """A running ``socialcare local`` and what it printed."""

    proc: subprocess.Popen[str]
    stderr_path: Path | None = None
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def _endpoint(self, label: str) -> str:
        for line in self.lines:
            if line.startswith(label):
                return line.split()[-1]
        raise AssertionError(f"no {label!r} line in the output:\n" + "\n".join(self.lines))

    @property
    def moto_url(self) -> str:
        return self._endpoint("moto ")

    @property
    def api_url(self) -> str:
        return self._endpoint("http api ")

    @property
    def invoke_url(self) -> str:
        return self._endpoint("invoke api ")

    @property
    def platforms_url(self) -> str:
        """The loopback Graph/X stand-in the stack's functions send to."""
        return self._endpoint("platforms ")

    @property
    def log_dir(self) -> Path:
        return Path(self._endpoint("logs "))

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path else ""

    @property
    def names(self) -> dict[str, str]:
        names = {}
        for line in self.lines:
            match = _NAME_LINE.match(line)
            if match:
                names[match.group(1)] = match.group(2)
        return names

    def client(self, service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
        ).client(service, endpoint_url=self.moto_url)

    def lambda_client(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
        ).client("lambda", endpoint_url=self.invoke_url)

    @property
    def secret_values(self) -> dict[str, str]:
        """Secret logical id -> value, read back from moto over HTTP."""
        secrets = self.client("secretsmanager")
        values = {}
        for logical_id, name in self.names.items():
            if self.kind(logical_id) == "AWS::SecretsManager::Secret":
                values[logical_id] = secrets.get_secret_value(SecretId=name)["SecretString"]
        return values

    def kind(self, logical_id: str) -> str:
        for line in self.lines:
            match = _NAME_LINE.match(line)
            if match and match.group(1) == logical_id:
                return match.group(3)
        return ""

    def descendants(self) -> set[int]:
        return descendants(self.proc.pid)

    @staticmethod
    def alive(pid: int) -> bool:
        return alive(pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("socialcare local did not stop within the timeout") from None


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc), whatever its session."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces: fields after the last ")" are fixed
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_local(
    template: Path,
    state_dir: Path,
    stack: str = "fixture",
    env: Mapping[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> LocalProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    environ.update({"SOCIALCARE_LOCAL_STATE_DIR": str(state_dir), "AWS_DEFAULT_REGION": "eu-west-1"})
    environ.update(env or {})
    command = [
        *socialcare_command(), "local", "--template", str(template), "--stack", stack,
        "--moto-port", "0", "--api-port", "0", "--invoke-port", "0", *(extra_args or []),
    ]
    state_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = state_dir / "stderr.log"
    with open(stderr_path, "wb") as stderr:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True)
    local = LocalProcess(proc, stderr_path)

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            local.lines.append(line.rstrip("\n"))
            if line.strip() == READY:
                local.ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not local.ready.wait(0.1):
        if proc.poll() is not None or time.monotonic() > deadline:
            local.stop(signal.SIGKILL)
            raise AssertionError("socialcare local did not become ready:\n" + "\n".join(local.lines)
                                 + "\n" + local.stderr)
    return local


@pytest.fixture
def start_stack() -> Iterator[Callable[..., LocalProcess]]:
    """Factory: ``start_stack(template, state_dir, stack=..., env=...)``; stops what it started."""
    started: list[LocalProcess] = []

    def start(*args: Any, **kwargs: Any) -> LocalProcess:
        local = start_local(*args, **kwargs)
        started.append(local)
        return local

    yield start
    for local in started:
        local.stop(signal.SIGKILL if local.proc.poll() is None else signal.SIGTERM)


@pytest.fixture(scope="session")
def local_stack_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., AbstractContextManager[LocalProcess]]]:
    """``with local_stack_factory({"SOCIALCARE_...": "..."}) as stack:`` - the real template.

    Runs ``socialcare local`` on template.yaml (stack ``socialcare-local``) on free ports with
    the given variables added to its environment; stops it (SIGTERM) when the block ends.
    """

    @contextmanager
    def factory(env: Mapping[str, str] | None = None, stack: str = "socialcare-local") -> Iterator[LocalProcess]:
        local = start_local(ROOT / "template.yaml", tmp_path_factory.mktemp("local-stack"), stack=stack, env=env)
        try:
            yield local
        finally:
            local.stop()

    yield factory


def poll(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3) -> Any:
    """``check()``'s first truthy value within ``timeout`` seconds; a check that fails meanwhile
    (the stack still busy: an HTTP error, a missing key) is tried again. After the deadline one
    last call's value (or error) is the answer."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (AssertionError, requests.RequestException, KeyError, IndexError):
            found = None
        if found:
            return found
        time.sleep(interval)
    return check()


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``wait_for(check, timeout=60.0)``: poll ``check`` until it returns something truthy."""
    return poll


@pytest.fixture(scope="session")
def fixture_secret() -> str:
    """The value fixture_stack seeds into its secret through SOCIALCARE_FIXTURE_SECRET."""
    return FIXTURE_SECRET


@pytest.fixture(scope="session")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcess]:
    """The fixture template's stack, shared by the tests that only talk to it."""
    local = start_local(
        FIXTURE_TEMPLATE,
        tmp_path_factory.mktemp("fixture-stack"),
        env={
            "SOCIALCARE_FIXTURE_SECRET": FIXTURE_SECRET,
            "SOCIALCARE_STAGE": "e2e-override",
            "SOCIALCARE_E2E_EXTRA": "added-by-environment",
            # developer credentials that must never reach a function
            "AWS_SECRET_ACCESS_KEY": "developer-secret-must-not-leak",
            "AWS_PROFILE": "developer",
        },
    )
    yield local
    local.stop()


