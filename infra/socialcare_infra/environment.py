"""A function worker's environment, as Lambda would give it, pointed at the local stack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from socialcare_infra.watch import import_roots

# Parent variables a Python process needs to run at all; every other variable is dropped so
# developer credentials (AWS_PROFILE, AWS_SECRET_ACCESS_KEY ...) never reach a handler.
_PASSTHROUGH = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)



def function_environment(*, declared: Mapping[str, Any], environ: Mapping[str, str], hidden: set[str], name: str,
                         memory: str, code_dir: Path | None, moto_url: str, region: str) -> dict[str, str]:
    """The template's variables (``declared``, resolved), every SOCIALCARE_* of the local stack's
    own environment, and what Lambda and the local stack add."""
    resolved = {k: _env_str(v) for k, v in declared.items()}
    # The contract: every SOCIALCARE_* of the local stack's environment reaches every function,
    # except secret values, which functions read from Secrets Manager as in AWS.
    for key, value in environ.items():
        if key.startswith("SOCIALCARE_") and key not in hidden:
            resolved[key] = value
    env = {key: environ[key] for key in _PASSTHROUGH if key in environ}
    env.update(resolved)
    env.update({
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        "PYTHONUNBUFFERED": "1",  # handler output reaches the log file as it happens
        "PYTHONPATH": os.pathsep.join(import_roots()),
    })
    no_proxy = [v for v in (env.get("NO_PROXY"), "127.0.0.1", "localhost") if v]
    env["NO_PROXY"] = env["no_proxy"] = ",".join(no_proxy)
    return env
