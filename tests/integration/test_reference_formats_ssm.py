"""A deployment's reference formats kept in an SSM parameter (SOCIALCARE_REFERENCE_FORMATS_PARAMETER),
read once at cold start through Powertools Parameters, on moto's SSM: a brand's format is
recognised, a broken one fails the cold start naming the parameter."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from socialcare.config.settings import Settings
from socialcare.domain.identity.evidence import extract_refs
from socialcare.errors import ConfigurationError
from socialcare.flows.wiring import Wiring

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

pytestmark = pytest.mark.integration


def put(name: str, value: str) -> None:
    boto3.client("ssm").put_parameter(Name=name, Value=value, Type="String")


def test_formats_in_an_ssm_parameter_are_recognised(aws: AwsStack) -> None:
    put("/socialcare/test/formats-ok", json.dumps([{"name": "booking", "pattern": r"\b(?P<ref>BK\d{7})\b"}]))
    wiring = Wiring(Settings(reference_formats_parameter="/socialcare/test/formats-ok")).check_rules()
    assert extract_refs("Salve, BK1234567 è stata cancellata", wiring.identity_rules) == ["BK1234567"]


def test_an_unsafe_format_in_ssm_fails_the_cold_start_naming_the_parameter(aws: AwsStack) -> None:
    put("/socialcare/test/formats-bad", json.dumps([{"name": "order", "pattern": r"(?P<ref>(\d+)+X)"}]))
    with pytest.raises(ConfigurationError, match=r"SSM parameter /socialcare/test/formats-bad .*unsafe"):
        Wiring(Settings(reference_formats_parameter="/socialcare/test/formats-bad")).check_rules()


def test_a_missing_parameter_fails_the_cold_start(aws: AwsStack) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the reference formats from SSM parameter"):
        Wiring(Settings(reference_formats_parameter="/socialcare/test/absent")).check_rules()
