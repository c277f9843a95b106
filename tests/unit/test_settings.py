"""One validated configuration: each function's settings model against the environment the
template gives it, failures at cold start that name the missing variable, and the rule files."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from socialcare.config import settings as config
from socialcare.config.loader import CONFIG_DIR, load_rules
from socialcare.config.rules import RULE_FILES, IdentityRules, RoutingRules
from socialcare.errors import ConfigurationError
from socialcare_infra.handlers import load_app
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# Which settings model each function of the template validates at cold start.
FUNCTION_SETTINGS: dict[str, type[config.Settings]] = {
    "WebhookXFunction": config.WebhookXSettings,
    "WebhookMetaFunction": config.WebhookMetaSettings,
    "WebhookInboundFunction": config.WebhookInboundSettings,
    "ProcessorFunction": config.ProcessorSettings,
    "ApiFunction": config.ApiSettings,
    "CallerLookupFunction": config.CallerLookupSettings,
    "XPollerFunction": config.XPollerSettings,
    "ListeningFunction": config.ListeningSettings,
    "SlaMonitorFunction": config.SlaMonitorSettings,
    "ReportAggregatorFunction": config.ReportAggregatorSettings,
    "WeeklyReportFunction": config.WeeklyReportSettings,
    "SocialTeamDispatcherFunction": config.TeamDispatcherSettings,
    "CallcentreTeamDispatcherFunction": config.TeamDispatcherSettings,
    "CrmSyncFunction": config.CrmSyncSettings,
    "CrmWebhookFunction": config.CrmWebhookSettings,
    "CaseStreamFunction": config.CaseStreamSettings,
    "CrmRetryFunction": config.CrmRetrySettings,
    "CrmReconcileFunction": config.ReconcileSettings,
    "ResponderFunction": config.ResponderSettings,
    "ErasureFunction": config.ErasureSettings,
    "RetentionSweepFunction": config.RetentionSweepSettings,
}
CODE_DIRS = {"SocialTeamDispatcherFunction": "team_dispatcher", "CallcentreTeamDispatcherFunction": "team_dispatcher"}


def template_environment(function: str) -> dict[str, str]:
    """The SOCIALCARE_* variables the template gives ``function`` (Globals + its own)."""
    return dict(_template_environment(function))


@cache
def _template_environment(function: str) -> dict[str, str]:
    resolver = Resolver(load_template(TEMPLATE), stack_name="settings-test")
    template = resolver.template
    variables: dict[str, Any] = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][function]["Properties"].get("Environment") or {}
    variables.update(own.get("Variables") or {})
    resolved = resolver.resolve(variables)
    # a deployed stack's parameters have values; the CRM webhook URL is one (no default)
    resolved.setdefault("SOCIALCARE_CRM_WEBHOOK_URL", "")
    if not resolved["SOCIALCARE_CRM_WEBHOOK_URL"]:
        resolved["SOCIALCARE_CRM_WEBHOOK_URL"] = "https://crm.example.com/hooks/socialcare"
    return {k: str(v) for k, v in resolved.items() if k.startswith("SOCIALCARE_")}


def use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("SOCIALCARE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def required_variables(model: type[config.Settings]) -> list[str]:
    return [f"SOCIALCARE_{name.upper()}" for name, field in model.model_fields.items() if field.is_required()]


def test_every_function_of_the_template_has_a_settings_model() -> None:
    functions = {lid for lid, r in load_template(TEMPLATE)["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_the_template_gives_every_function_what_its_settings_require(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_environment(monkeypatch, template_environment(function))
    settings = config.load(FUNCTION_SETTINGS[function])
    for variable in required_variables(FUNCTION_SETTINGS[function]):
        assert getattr(settings, variable.removeprefix("SOCIALCARE_").lower())


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_a_missing_variable_fails_the_cold_start_and_names_the_variable(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = FUNCTION_SETTINGS[function]
    env = template_environment(function)
    for variable in required_variables(model):
        use_environment(monkeypatch, {k: v for k, v in env.items() if k != variable})
        with pytest.raises(ConfigurationError, match=f"{variable} is required"):
            config.load(model)
        use_environment(monkeypatch, {**env, variable: "  "})  # set but blank is missing too
        with pytest.raises(ConfigurationError, match=f"{variable} is required"):
            config.load(model)


def test_a_function_without_its_queue_url_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    env = template_environment("ProcessorFunction")
    env.pop("SOCIALCARE_SOCIAL_TEAM_QUEUE_URL")
    use_environment(monkeypatch, env)
    with pytest.raises(ConfigurationError, match="SOCIALCARE_SOCIAL_TEAM_QUEUE_URL is required"):
        load_app("processor")


def test_a_broken_rule_override_fails_the_cold_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text("rules:\n  - name: x\n    when: {priority: [nonsense]}\n")
    use_environment(monkeypatch, {**template_environment("ProcessorFunction"), "SOCIALCARE_CONFIG_DIR": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="routing.yaml"):
        load_app("processor")


def test_the_generic_crm_webhook_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, {**template_environment("CrmSyncFunction"), "SOCIALCARE_CRM_PROVIDER": "webhook",
                                  "SOCIALCARE_CRM_WEBHOOK_URL": ""})
    with pytest.raises(ConfigurationError, match=r"^CrmSyncSettings: SOCIALCARE_CRM_WEBHOOK_URL is required when"):
        config.load(config.CrmSyncSettings)
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "zendesk")  # a vendor adapter has no such URL
    assert config.load(config.CrmSyncSettings).crm_provider == "zendesk"
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "none")  # no CRM yet: the function still starts
    assert not config.load(config.CrmSyncSettings).crm_configured


def test_a_bad_value_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, {**template_environment("ProcessorFunction"), "SOCIALCARE_CASE_ID_BLOCK": "0"})
    with pytest.raises(ConfigurationError, match="SOCIALCARE_CASE_ID_BLOCK"):
        config.load(config.ProcessorSettings)



@pytest.mark.parametrize("team", ["sales", ""])
def test_a_dispatcher_for_a_team_that_does_not_exist_does_not_start(
    team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = template_environment("SocialTeamDispatcherFunction")
    use_environment(monkeypatch, {**env, "SOCIALCARE_TEAM": team})
    with pytest.raises(ConfigurationError, match="SOCIALCARE_TEAM"):
        config.load(config.TeamDispatcherSettings)


# ---------------------------------------------------------------------------- rule files
@pytest.mark.parametrize("model", RULE_FILES, ids=lambda m: m.FILE)
def test_every_shipped_rule_file_is_valid(model: type[Any]) -> None:
    assert load_rules(model).version >= 1


@pytest.mark.parametrize("model", RULE_FILES, ids=lambda m: m.FILE)
def test_the_config_directory_replaces_every_rule_file(model: type[Any], tmp_path: Path) -> None:
    shipped = (CONFIG_DIR / model.FILE).read_text(encoding="utf-8")
    (tmp_path / model.FILE).write_text(re.sub(r"^version: \d+$", "version: 41", shipped, count=1, flags=re.M),
                                       encoding="utf-8")
    assert load_rules(model, str(tmp_path)).version == 41
    assert load_rules(model).version != 41


def test_a_stage_may_replace_only_some_rule_files(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(
        "version: 7\ndefault: {team: callcentre, reason: every message to the call centre}\n", encoding="utf-8")
    assert load_rules(RoutingRules, str(tmp_path)).default.reason == "every message to the call centre"
    assert load_rules(IdentityRules, str(tmp_path)) == load_rules(IdentityRules)  # not there: the shipped one


def test_a_broken_rule_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text("version: 2\nemail: '(['\nreferences: []\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"identity.yaml is invalid: email: .*regular expression"):
        load_rules(IdentityRules, str(tmp_path))
    (tmp_path / "routing.yaml").write_text("version: 2\nrules: [{name: x, when: {chanel: [x]}, team: social}]\n",
                                           encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"routing.yaml is invalid: rules.0.when.chanel"):
        load_rules(RoutingRules, str(tmp_path))
