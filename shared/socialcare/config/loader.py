"""The one loader of rule files: YAML -> the file's pydantic model, cached per process.

A directory given by ``SOCIALCARE_CONFIG_DIR`` (``Settings.config_dir``) may hold files that
replace the shipped ones of the same name (a stage-specific routing.yaml, say) without a code
change; files it does not hold come from this package.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from socialcare.config.rules import ReferenceRule, RuleFile
from socialcare.errors import ConfigurationError

CONFIG_DIR = Path(__file__).resolve().parent

R = TypeVar("R", bound=RuleFile)

# libyaml's loader where PyYAML was built with it (its wheels are): the same safe YAML, parsed
# ~8x faster than the pure-Python SafeLoader (~25 ms of a cold start that loads every rule file).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def rule_path(name: str, config_dir: str = "") -> Path:
    override = Path(config_dir) / name if config_dir else None
    return override if override is not None and override.is_file() else CONFIG_DIR / name


@cache
def load_rules(model: type[R], config_dir: str = "") -> R:
    """``model``'s file, validated; ConfigurationError names the file and what is wrong."""
    path = rule_path(model.FILE, config_dir)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read rule file {path}: {exc}") from exc
    try:
        # A deployment's own file has its patterns probed on adversarial text (config/patterns.py);
        # the shipped ones are proven by the unit tests.
        return model.model_validate(data, context={"probe": path != CONFIG_DIR / model.FILE})
    except ValidationError as exc:
        raise ConfigurationError(f"rule file {path} is invalid: " + _problems(exc)) from exc


def _problems(exc: ValidationError) -> str:
    found = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".removeprefix(": ") for e in exc.errors()]
    return "; ".join(found[:5])


_FORMATS = TypeAdapter(list[ReferenceRule])


def reference_formats(raw: str, source: str) -> list[ReferenceRule]:
    """A deployment's reference formats: a JSON list of ``{"name", "pattern", "canonical"?}``
    (or ``{"formats": [...]}``), validated like identity.yaml's; ConfigurationError names the
    source (the variable or the SSM parameter) and what is wrong."""
    if not raw.strip():
        return []
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"reference formats in {source} are not JSON: {exc}") from exc
    if isinstance(data, dict) and "formats" in data:
        data = data["formats"]
    try:
        return _FORMATS.validate_python(data)
    except ValidationError as exc:
        raise ConfigurationError(f"reference formats in {source} are invalid: " + _problems(exc)) from exc
