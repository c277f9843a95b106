"""The lock files (docs/build.md, "Lock files") still say what the requirements ask for.

``shared/requirements.lock`` (the Lambda layer, manylinux2014_aarch64 / CPython 3.13) and
``requirements-dev.lock`` (development, every platform) pin every distribution with hashes;
``make lock`` regenerates them. These tests fail when a requirement changed and ``make lock`` was
not run, when a pin lost its hashes, when the development lock drifts from the layer's pins (tests
would run other versions than the layer ships), and when this venv is not what the lock says.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER_LOCK = ROOT / "shared" / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
# markers as the layer's runtime evaluates them (python3.13 on arm64 Linux)
HERE_ENV: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
LAMBDA_ENV = {**HERE_ENV, "python_version": "3.13", "python_full_version": "3.13.0",
              "implementation_name": "cpython", "platform_python_implementation": "CPython",
              "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    requirement: Requirement
    hashes: tuple[str, ...]

    def applies(self, env: dict[str, str]) -> bool:
        return self.requirement.marker is None or self.requirement.marker.evaluate(env)


def pins(path: Path) -> list[Pin]:
    """Each ``name==version [; marker]`` entry of a pip requirements file with its ``--hash``es."""
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = re.split(r"\s+--hash=", line)
        requirement = Requirement(spec)
        (pinned,) = [s.version for s in requirement.specifier if s.operator == "=="]
        found.append(Pin(canonicalize_name(requirement.name), pinned, requirement, tuple(hashes)))
    return found


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line]


def unmet(wanted: list[Requirement], locked: list[Pin], env: dict[str, str]) -> list[str]:
    """The requirements (for ``env``) that no applicable pin satisfies."""
    versions = {p.name: p.version for p in locked if p.applies(env)}
    problems = []
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        got = versions.get(canonicalize_name(req.name))
        if got is None or not req.specifier.contains(got, prereleases=True):
            problems.append(f"{req} (locked: {got})")
    return problems


def runtime_provided() -> set[str]:
    """RUNTIME_PROVIDED of shared/Makefile: what the layer takes from the Lambda runtime."""
    match = re.search(r"^RUNTIME_PROVIDED := (.+)$", (ROOT / "shared" / "Makefile").read_text(), re.MULTILINE)
    assert match, "shared/Makefile defines RUNTIME_PROVIDED"
    return {canonicalize_name(n) for n in match.group(1).split()}


def test_the_layer_lock_meets_the_layer_requirements() -> None:
    wanted = requirements(ROOT / "shared" / "requirements.txt")
    assert unmet(wanted, pins(LAYER_LOCK), LAMBDA_ENV) == [], "shared/requirements.txt changed: run `make lock`"


def test_every_pin_carries_hashes() -> None:
    for path in (LAYER_LOCK, DEV_LOCK):
        bare = [p.name for p in pins(path) if not p.hashes]
        assert bare == [], f"{path.name}: pins without --hash (pip --require-hashes refuses them)"


def test_the_layer_lock_leaves_out_what_the_runtime_provides() -> None:
    assert {p.name for p in pins(LAYER_LOCK)} & runtime_provided() == set()


def test_the_dev_lock_meets_the_package_and_its_dev_extra_on_this_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = requirements(ROOT / "shared" / "requirements.txt") + requirements(ROOT / "infra" / "requirements.txt")
    for spec in extras["dev"]:
        req = Requirement(spec)
        if canonicalize_name(req.name) == "socialcare":  # the self-reference "socialcare[local]"
            wanted += [Requirement(s) for extra in sorted(req.extras) for s in extras[extra]]
        else:
            wanted.append(req)
    env = {**HERE_ENV, "extra": ""}
    assert unmet(wanted, pins(DEV_LOCK), env) == [], "pyproject.toml or a requirements file changed: run `make lock`"


def test_tests_run_the_versions_the_layer_ships() -> None:
    layer = {p.name: p.version for p in pins(LAYER_LOCK)}
    dev = {p.name: p.version for p in pins(DEV_LOCK) if p.applies(LAMBDA_ENV)}
    assert {n: (v, dev[n]) for n, v in layer.items() if n in dev and dev[n] != v} == {}
    assert sorted(set(layer) - set(dev)) == [], "layer dependencies the development lock lacks"


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(), reason="not the `make install` venv")
def test_this_environment_is_what_the_dev_lock_says() -> None:
    env = HERE_ENV
    wrong = {}
    for pin in pins(DEV_LOCK):
        if not pin.applies(env):
            continue
        try:
            installed = version(pin.name)
        except PackageNotFoundError:
            installed = None
        if installed != pin.version:
            wrong[pin.name] = (installed, pin.version)
    assert wrong == {}, "installed vs locked: run `make install`"
