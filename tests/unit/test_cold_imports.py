"""Cold starts: each function imports only what it uses (issue 11, checked without timing).

Every check imports a function's ``app.py`` in a fresh interpreter, as Lambda's init phase does,
with the function's own environment, and looks at ``sys.modules``: a webhook loads its own
platform's parser only, and no function loads ``requests``, tweepy or facebook-sdk before a
code path calls a third party. Each module kept out is time a cold start does not spend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ROOT / "shared" / "socialcare" / "domain" / "channels"
SHARED_CHANNEL_MODULES = {"__init__", "common", "accounts"}  # not a platform's parser

# The parser modules a function may load, by file-name prefix (x_events, whatsapp_calls...).
OWN_PARSERS: dict[str, tuple[str, ...]] = {
    "webhook_x": ("x",),
    "webhook_meta": ("meta", "messenger", "whatsapp"),
    "webhook_inbound": ("gateway",),
    "caller_lookup": ("connect",),
    "api": (),
    "processor": (),
    "responder": (),  # tweepy, facebook-sdk and requests only when a reply is sent
}
HTTP_CLIENTS = ("requests", "tweepy", "facebook")

_QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"


def function_env(**extra: str) -> dict[str, str]:
    """Every SOCIALCARE_* name a function may require, as the template sets them (names only:
    nothing is called at import), and the local stack's tracing switch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALCARE_", "POWERTOOLS_", "LAMBDA_"))}
    env.update({
        "PYTHONPATH": str(ROOT / "shared"), "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "socialcare", "POWERTOOLS_METRICS_NAMESPACE": "SocialCare",
        "POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": str(ROOT),
        "SOCIALCARE_MEDIA_BUCKET": "media", "SOCIALCARE_TEAM": "social",
        "SOCIALCARE_ALERTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
    })
    for table in ("PROFILES", "CASES", "STATE", "IDEMPOTENCY", "AUDIT"):
        env[f"SOCIALCARE_{table}_TABLE"] = table.lower()
    for queue in ("INBOUND", "SOCIAL_TEAM", "CALLCENTRE_TEAM", "CRM_SYNC", "CRM_RETRY", "OUTBOUND"):
        env[f"SOCIALCARE_{queue}_QUEUE_URL"] = _QUEUE + queue.lower()
    env["SOCIALCARE_OUTBOUND_DLQ_URL"] = _QUEUE + "outbound-dlq"
    for secret in ("X_CONSUMER_SECRET", "X_API_CREDENTIALS", "META_APP_SECRET", "META_VERIFY_TOKEN",
                   "META_ACCESS_TOKENS", "INBOUND_SECRET", "API_TOKEN", "CRM_WEBHOOK_SECRET",
                   "CRM_CREDENTIALS", "TEAM_CHAT_WEBHOOKS"):
        env[f"SOCIALCARE_{secret}_ARN"] = _SECRET + secret.lower()
    env.update(extra)
    return env


@cache
def loaded_by(function: str) -> tuple[str, ...]:
    """The modules a cold start of ``function`` loads (one interpreter per function and session)."""
    return tuple(cold_start(function)["loaded"])


def cold_start(function: str, then: str = "", **env: str) -> dict[str, list[str]]:
    """The modules loaded by importing ``functions/<function>/app.py`` in a new interpreter
    (``loaded``), and after running ``then`` there (``after``)."""
    script = (
        "import json, sys\n"
        "import app\n"
        "loaded = sorted(sys.modules)\n"
        f"{then}\n"
        "print(json.dumps({'loaded': loaded, 'after': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "functions" / function,
                          env=function_env(**env), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parser_modules() -> set[str]:
    return {p.stem for p in CHANNELS.glob("*.py")} - SHARED_CHANNEL_MODULES


def loaded_parsers(modules: Iterable[str]) -> set[str]:
    prefix = "socialcare.domain.channels."
    return {m.removeprefix(prefix) for m in modules if m.startswith(prefix) and m.count(".") == 3} \
        - SHARED_CHANNEL_MODULES


def top_level(modules: Iterable[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("function", sorted(OWN_PARSERS))
def test_a_cold_start_loads_no_other_platforms_parser_and_no_http_client(function: str) -> None:
    loaded = loaded_by(function)

    others = {m for m in parser_modules() if not m.startswith(OWN_PARSERS[function])}
    assert loaded_parsers(loaded) & others == set()
    assert top_level(loaded) & set(HTTP_CLIENTS) == set()


def test_each_webhook_loads_its_own_platforms_parser() -> None:
    # the check above would pass for a function that loaded nothing at all: each loads its own
    loaded = loaded_by("webhook_meta")
    assert {"meta", "messenger", "whatsapp"} <= loaded_parsers(loaded)


def test_the_x_ray_sdk_is_not_loaded_where_tracing_is_off() -> None:
    loaded = loaded_by("webhook_x")
    assert "aws_xray_sdk.core" not in loaded


def test_on_lambda_requests_is_traced_from_its_first_import_not_imported_at_cold_start() -> None:
    # Tracing on, as on Lambda (the template sets Tracing: Active; nothing is sent at import).
    probe = (
        "import requests\n"
        "from aws_xray_sdk.core.patcher import _PATCHED_MODULES\n"
        "assert {'botocore', 'requests'} <= _PATCHED_MODULES, _PATCHED_MODULES\n"
        "assert hasattr(requests.Session.request, '__wrapped__')  # X-Ray's subsegment wrapper"
    )
    result = cold_start("webhook_inbound", probe, POWERTOOLS_TRACE_DISABLED="false")

    assert "aws_xray_sdk.core" in result["loaded"]
    assert "requests" not in top_level(result["loaded"])
    assert "requests" in result["after"]


# What a webhook does on its first call besides parsing: its publisher and its claim-check store
# (the media bucket, for an event too large for SQS). Clients are recorded through botocore's own
# built-in handler list, as bench/coldstart_child.py records them; creating one calls nothing.
FIRST_CALL_OF_A_WEBHOOK = """
from botocore import handlers
made = []
handlers.BUILTIN_HANDLERS.append(("creating-client-class.*", lambda event_name, **_: made.append(event_name)))
from socialcare.config.settings import {settings}, load
from socialcare.flows.wiring import Wiring
w = Wiring(load({settings}))
w.publisher, w.media_store
assert made == ["creating-client-class.sqs"], made
"""
CASE_AND_CRM_MODELS = ("socialcare.models.case", "socialcare.models.crm", "socialcare.models.reply",
                       "socialcare.models.workitem")


@pytest.mark.parametrize(("function", "settings"), [("webhook_x", "WebhookXSettings"),
                                                    ("webhook_meta", "WebhookMetaSettings"),
                                                    ("webhook_inbound", "WebhookInboundSettings")])
def test_a_webhook_builds_no_case_or_crm_models_and_no_s3_client_until_an_event_needs_one(
        function: str, settings: str) -> None:
    result = cold_start(function, FIRST_CALL_OF_A_WEBHOOK.format(settings=settings))

    assert "socialcare.publish" in result["after"]  # the check below saw the publisher loaded
    assert set(CASE_AND_CRM_MODELS) & set(result["after"]) == set()


def test_the_rule_files_read_the_same_through_libyaml_as_through_the_pure_python_loader() -> None:
    # The loader uses libyaml's safe loader where PyYAML has it (its wheels, the layer's too, do):
    # ~8x faster on the rule files every case-handling function reads at cold start, same rules.
    import yaml

    from socialcare.config.loader import load_rules, rule_path
    from socialcare.config.rules import RULE_FILES

    assert yaml.__with_libyaml__
    for model in RULE_FILES:
        plain = yaml.safe_load(rule_path(model.FILE).read_text(encoding="utf-8"))
        assert load_rules.__wrapped__(model) == model.model_validate(plain, context={"probe": False}), model.FILE
