"""Powertools Logger, Tracer and Metrics, one of each per execution environment.

Service name and namespace come from POWERTOOLS_* in the template's Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
