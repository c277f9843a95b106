"""Configuration of cases, triage, SLA, routing, FAQ and listening.

The rules are YAML files shipped in this package (versioned with the code, reviewed like code);
the knobs an operator tunes per stage are ``SOCIALCARE_*`` environment variables read by
``CaseSettings``. ``SOCIALCARE_CONFIG_DIR`` points at a directory whose files replace the
shipped ones of the same name (a stage-specific routing.yaml, say) without a code change.
"""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent


class CaseSettings(BaseSettings):
    """Environment knobs of the cases domain (prefix SOCIALCARE_)."""

    model_config = SettingsConfigDict(env_prefix="SOCIALCARE_", extra="ignore")

    config_dir: str = ""
    sentiment_provider: str = Field(default="offline", description="offline | comprehend")
    # Ids reserved per StateTable round trip. Larger blocks mean fewer writes and bigger gaps
    # in the sequence when execution environments are recycled; 50 balances both.
    case_id_block: int = Field(default=50, ge=1, le=10_000)
    reopen_window_hours: float = Field(default=72.0, ge=0)
    claim_lease_seconds: int = Field(default=900, ge=30, le=86_400)
    # Per team: where TeamDispatcher delivers items (pull | chat | crm) and the chat format. The
    # chat webhook URLs are credentials: they live in the TeamChatWebhooks secret.
    social_destination: str = "pull"
    callcentre_destination: str = "pull"
    social_chat_format: str = "slack"
    callcentre_chat_format: str = "slack"
    # Team the dispatcher serves (one dispatcher function per queue).
    team: str = ""
    # Console link put in chat messages so agents land on the case.
    console_url: str = ""
    # SlaMonitor: most breaches handled per run (the rest wait one minute, never lost).
    sla_monitor_max_escalations: int = 200


@lru_cache(maxsize=1)
def case_settings() -> CaseSettings:
    return CaseSettings()


@cache
def load(name: str) -> dict[str, Any]:
    """A config file by name (``routing.yaml``), from SOCIALCARE_CONFIG_DIR if it has one."""
    override = os.environ.get("SOCIALCARE_CONFIG_DIR", "")
    path = Path(override) / name if override else None
    if path is None or not path.is_file():
        path = CONFIG_DIR / name
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"config {name} is not a mapping")
    return data


def reset() -> None:
    """Forget cached config and settings (tests that change the environment)."""
    load.cache_clear()
    case_settings.cache_clear()
