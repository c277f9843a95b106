"""Reliability tier: the integration tier's moto stack (``aws``, ``wiring``, ``case_versions``
from tests/integration/conftest.py, built from template.yaml), shared here without a copy.

tests/integration/conftest.py is loaded under its own module name (every tier's conftest is
called ``conftest``), and its fixtures are re-exported so they apply to this directory; its
helpers (``webhook_calls``, ``event_source``) are made importable by bare name, as they are
for the integration tests.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import responses

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))


def _integration_conftest() -> ModuleType:
    name = "socialcare_integration_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, INTEGRATION / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_stack = _integration_conftest()
from harness import Stack  # noqa: E402  (tests/reliability/harness.py: needs tests/integration on the path)

AwsStack = _stack.AwsStack
CaseVersions = _stack.CaseVersions
REGION = _stack.REGION

# The fixtures, by the names the integration tests use.
aws = _stack.aws
wiring = _stack.wiring
case_versions = _stack.case_versions


@pytest.fixture
def offline() -> Iterator[responses.RequestsMock]:
    """No request leaves the machine: media CDNs and Graph answer 404 with Graph's "no such
    object" error, which costs an attachment or a name, never the message."""
    gone = json.dumps({"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as internet:
        internet.add_callback(responses.GET, re.compile(r"https?://.*"),
                              callback=lambda _: (404, {"Content-Type": "application/json"}, gone))
        yield internet


@pytest.fixture
def stack(aws: Any, case_versions: Any, offline: responses.RequestsMock) -> Stack:
    """The real functions on the ``aws`` stack, and a count of what they made."""
    return Stack(aws, case_versions)
