"""Unit tier: no network at all (pytest-socket), and no accidental AWS endpoint."""

from __future__ import annotations

import os

import pytest
from pytest_socket import disable_socket

# No X-Ray in unit tests: the SDK's UDP emitter would open a socket whenever a Tracer is built.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

# The X-Ray SDK creates its UDP emitter's socket when first imported, as a Lambda's init phase
# would: import the shared Tracer here, at collection, before sockets are refused per test.
import socialcare.observability  # noqa: E402, F401


def pytest_runtest_setup() -> None:
    # Unix sockets stay allowed: some libraries probe them at import; TCP/UDP are refused.
    disable_socket(allow_unix_socket=True)


@pytest.fixture(autouse=True)
def _no_aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # With AWS_ENDPOINT_URL set, moto.mock_aws does not intercept (machine ground truth).
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
