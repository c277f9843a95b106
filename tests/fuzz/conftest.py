"""Fuzz tier: Hypothesis profiles, and no network (the parsers are pure; nothing may call out).

``ci`` (the default, run by ``make test``) tries a few dozen examples per property so the whole
tier takes seconds; ``long`` (``make fuzz``, or ``HYPOTHESIS_PROFILE=long``) tries 10,000 per
property and target. Neither has a deadline: a slow example is not a failure, a hang is
(pytest-timeout). A failure prints the reproducing example; Hypothesis keeps it in
``.hypothesis/`` and tries it first on the next run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from pytest_socket import disable_socket

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import socialcare.observability  # noqa: E402, F401  (the X-Ray emitter's socket, before sockets are refused)

_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_CHECKS, print_blob=True)
# FUZZ_EXAMPLES overrides the long profile's count (at least 10,000 is what ``make fuzz`` promises)
_LONG = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
settings.register_profile("long", max_examples=_LONG, deadline=None, suppress_health_check=_CHECKS,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_runtest_setup() -> None:
    disable_socket(allow_unix_socket=True)
