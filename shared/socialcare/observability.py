"""Powertools Logger, Tracer and Metrics, one of each per execution environment.

Service name and namespace come from POWERTOOLS_* in the template's Globals. Every log record is
scrubbed of credentials as it is written (``ScrubbingFormatter``), whatever code logs it: an
error text that carries a URL with ``?access_token=…`` or an ``Authorization`` header never
reaches a log line.

Customer data stays out of log lines: where a log carries a payload or a third party's free text
(a CRM's 422 quoting the record, a platform's error), ``erase_for_log`` erases it with Powertools
data masking first, field by field, so the line still says what happened.

Tracing costs nothing at import where it is off (tests, the local stack: POWERTOOLS_TRACE_DISABLED,
or outside Lambda): the X-Ray SDK's recorder is then never loaded. On Lambda it is on as before: boto3
calls are traced from the cold start, and ``requests`` (the CRM clients, chat webhooks, tweepy
and facebook-sdk) is patched the moment a code path first imports it, not imported up front.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from socialcare.redact import scrub


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log record, with every credential value replaced by ``[REDACTED]``.

    Scrubbed after serialisation, so the message, every extra key, the exception and its stack
    trace are all covered; the replacement holds no quote, so the line stays valid JSON.
    """

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 - the logging API's name
        return scrub(super().format(record))


class _NoSegment(BaseSegment):
    """What a disabled tracer's decorators write to: nothing."""

    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class _NoTracing(BaseProvider):
    """The provider of a tracer that is off. Powertools has none of its own: a disabled Tracer
    still imports the X-Ray SDK (~150 ms) to get its recorder, only to switch it off."""

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError("socialcare has no async handlers")

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Sequence[str]) -> None: ...
    def patch_all(self) -> None: ...


# Imported by code paths that call a third party, never at cold start (tweepy and facebook-sdk
# send through requests); traced from their first import on.
LAZILY_TRACED = ("requests",)


def _tracer() -> Tracer:
    # Powertools' own rule for "off" (the env variable, outside Lambda, SAM local), not a copy of it.
    if Tracer._is_tracer_disabled():
        return Tracer(provider=_NoTracing())
    # On: X-Ray's patch_all would import every library it can patch (requests among them) at
    # cold start. boto3 is on every function's path, so botocore is patched now; the others when
    # first imported, through wrapt's post-import hooks (wrapt is the X-Ray SDK's own patcher).
    import wrapt

    traced = Tracer(patch_modules=("botocore",))

    def patch_on_import(module: Any) -> None:
        traced.patch((module.__name__,))

    for name in LAZILY_TRACED:
        wrapt.register_post_import_hook(patch_on_import, name)
    return traced


logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = _tracer()
metrics = Metrics()

DEFAULT_NAMESPACE = "SocialCare"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """One EMF metric with its own dimensions (channel, reason), flushed immediately, so a
    metric per channel does not fight the function-wide dimension set of ``metrics``."""
    # The template sets POWERTOOLS_METRICS_NAMESPACE; without it a metric must still not turn an
    # accepted webhook into a 500 (and a platform retry), so fall back to the project's namespace.
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


# E-mail addresses and phone numbers (8 to 15 digits, optionally "+" and separated) inside free
# text. An id with letters or an ISO timestamp is left alone; a bare date may be taken for a number
# (erring on the customer's side). Each match may start only where a run of such characters
# starts, so the cost stays linear in the text's length, whatever the third party wrote.
PERSONAL_IN_TEXT = (r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
                    r"|(?<![\w.+-])\+?\d(?:[ ().-]{0,2}\d){7,14}(?![\w.-])")
ERASED = "*****"  # Powertools' own mask, so an erased value reads the same everywhere


@functools.cache
def _masker() -> Any:
    # Imported on first use: data masking loads jsonpath-ng (~150 ms), paid only by a log line
    # that needs it (error paths), never by a cold start.
    from aws_lambda_powertools.utilities.data_masking import DataMasking
    from aws_lambda_powertools.utilities.data_masking.provider import BaseProvider

    # default=str: a log line must never fail on a value JSON cannot hold (a pydantic error's ctx)
    provider = BaseProvider(json_serializer=functools.partial(json.dumps, ensure_ascii=False, default=str))
    return DataMasking(provider=provider, raise_on_missing_field=False)


def erase_for_log(extra: Mapping[str, Any], *, values: Sequence[str] = (),
                  personal: Sequence[str] = ()) -> dict[str, Any]:
    """``extra`` made fit for a log line (a copy; ``extra`` is not changed).

    ``values``: JSONPath expressions (``errors[*].input``) whose values are erased whole: a
    payload, or what a validation error quotes of one. ``personal``: texts in which only e-mail
    addresses and phone numbers are erased (``reason``), so the rest still says what failed.
    A path that matches nothing is skipped."""
    data: dict[str, Any] = dict(extra)
    present = [path for path in (*values, *personal) if re.split(r"[.\[]", path, maxsplit=1)[0] in data]
    if not present:
        return data
    masker = _masker()
    wanted = [path for path in values if path in present]
    if wanted:
        data = masker.erase(data, fields=wanted)
    wanted = [path for path in personal if path in present]
    if wanted:
        data = masker.erase(data, fields=wanted, regex_pattern=PERSONAL_IN_TEXT, mask_format=ERASED)
    return data
