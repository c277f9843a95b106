"""The one loader of rule files: YAML -> the file's pydantic model, cached per process.

A directory given by ``SOCIALCARE_CONFIG_DIR`` (``Settings.config_dir``) may hold files that
replace the shipped ones of the same name (a stage-specific routing.yaml, say) without a code
change; files it does not hold come from this package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import ValidationError

from socialcare.config.rules import RuleFile
from socialcare.errors import ConfigurationError

CONFIG_DIR = Path(__file__).resolve().parent

R = TypeVar("R", bound=RuleFile)


def rule_path(name: str, config_dir: str = "") -> Path:
    override = Path(config_dir) / name if config_dir else None
    return override if override is not None and override.is_file() else CONFIG_DIR / name


@cache
def load_rules(model: type[R], config_dir: str = "") -> R:
    """``model``'s file, validated; ConfigurationError names the file and what is wrong."""
    path = rule_path(model.FILE, config_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read rule file {path}: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigurationError(f"rule file {path} is invalid: " + "; ".join(problems[:5])) from exc
