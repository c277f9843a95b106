"""Re-sign a webhook sample event for the local stack's secrets, and stamp it with the time now.

The webhook samples in this directory carry each platform's signature computed with the local
stack's default secrets. X and Meta sign the body only, so their samples verify as they are.
The inbound gateway and the CRM webhooks also sign a timestamp and refuse one older than five
minutes (replay protection), so their samples must be signed again just before each invocation:

    .venv/bin/python events/resign.py events/inbound_email.json > /tmp/event.json

The secret of each scheme is read from the same ``SOCIALCARE_*`` variable that seeds the local
stack (README, "Local secrets"), else its local default. Other events are printed unchanged.
Hand-written because it is the inverse of what the functions verify (``socialcare.signing``,
``domain.channels``, ``crm.inbound_events``): a sample must be signed exactly that way.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from socialcare.signing import hmac_sha256, socialcare_signature

# the local stack's defaults (socialcare_infra.provision.LOCAL_SECRET_DEFAULTS)
DEFAULTS = {
    "SOCIALCARE_X_CONSUMER_SECRET": "local-x-consumer-secret",
    "SOCIALCARE_META_APP_SECRET": "local-meta-app-secret",
    "SOCIALCARE_INBOUND_SECRET": "local-inbound-secret",
    "SOCIALCARE_CRM_WEBHOOK_SECRET": "local-crm-webhook-secret",
}


def secret(name: str, env: dict[str, str]) -> str:
    return env.get(name) or DEFAULTS[name]


def resign(event: dict[str, Any], env: dict[str, str], now: float) -> dict[str, Any]:
    """``event`` (an HTTP API 2.0 event) with its signature headers recomputed at ``now``."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not headers or event.get("isBase64Encoded"):
        return event
    body = (event.get("body") or "").encode("utf-8")
    stamp = str(int(now))
    if "x-twitter-webhooks-signature" in headers:
        digest = hmac_sha256(secret("SOCIALCARE_X_CONSUMER_SECRET", env), body)
        headers["x-twitter-webhooks-signature"] = "sha256=" + base64.b64encode(digest).decode()
    if "x-hub-signature-256" in headers:
        headers["x-hub-signature-256"] = "sha256=" + hmac_sha256(secret("SOCIALCARE_META_APP_SECRET", env), body).hex()
    if "x-socialcare-signature" in headers:
        # the inbound gateway, or the generic CRM `webhook` provider (POST /webhooks/crm/webhook)
        crm = "/webhooks/crm/" in str(event.get("rawPath"))
        name = "SOCIALCARE_CRM_WEBHOOK_SECRET" if crm else "SOCIALCARE_INBOUND_SECRET"
        headers["x-socialcare-timestamp"] = stamp
        headers["x-socialcare-signature"] = socialcare_signature(secret(name, env), stamp, body)
    context = event.get("requestContext")
    if isinstance(context, dict):
        context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        context["timeEpoch"] = int(now * 1000)
    return {**event, "headers": headers}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: resign.py EVENT.json  (writes the re-signed event to stdout)", file=sys.stderr)
        return 2
    event = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(resign(event, dict(os.environ), time.time()), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
