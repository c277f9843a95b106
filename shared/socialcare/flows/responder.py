"""ResponderFunction: send each reply waiting on outbound.fifo, once, and record what became of it.

Per message (an ``OutboundMessage``, one message group per case):

1. parse it; a body that is no ``OutboundMessage`` goes to OutboundDLQ with its ``reason`` and is
   acknowledged (never retried in a loop);
2. the text: the reply's own, plus the disclosure when the system wrote it by itself
   (``automated``: EU AI Act art. 50), in the reply's language;
3. send it through ``platforms.senders`` inside ``guard.once("reply:<interaction id>")``: the
   platform's answer (``SendResult``) is kept, so a redelivered message never posts twice;
4. record it (``domain.replies.sent``): the customer's timeline, the case (state ``sent``, the
   first response). A crash between 3 and 4 is finished by the redelivery, which skips the send.

Failures never sleep. A ``RetryableSendError`` (429, 5xx, timeout) fails the record and makes it
visible again after the platform's reset (``retry_after_s``) or a backoff, bounded to 5 s .. 15
min; on the queue's last allowed receive it is treated as permanent. A ``PermanentSendError``
sends the body to OutboundDLQ (group = case, dedupe = reply id) with ``reason`` and ``code``,
records state ``failed`` with the reason, publishes a ``reply_failed`` work item to the case's
team and acknowledges; a ``CredentialsError`` (expired or revoked token) also alerts on the
alerts topic and counts ``PlatformAuthFailures`` (its alarm): an operator must act. Replies'
texts and tokens are never logged, and e-mails or phone numbers a platform's refusal quotes are
erased from the log line.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from socialcare.config.settings import ResponderSettings, load
from socialcare.domain.replies.sent import Recorded, SentReplies
from socialcare.errors import Busy, PublishFailed
from socialcare.flows.wiring import Wiring, required
from socialcare.models.reply import (
    CredentialsError,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendResult,
)
from socialcare.observability import DEFAULT_NAMESPACE, count, erase_for_log, logger
from socialcare.publish import RecordQueue

MIN_RETRY_SECONDS = 5
MAX_RETRY_SECONDS = 900  # a platform's reset later than this is retried at 15 minutes (and again)
BACKOFF_BASE_SECONDS = 10  # our own backoff when the platform gave no reset: doubles per receive
DEFAULT_MAX_RECEIVES = 5  # the template's maxReceiveCount, when the queue cannot be asked


class OutboundRecords(RecordQueue):
    """outbound.fifo as the responder sees it: RecordQueue's retry delays, the queue's own
    maxReceiveCount, and OutboundDLQ (``SOCIALCARE_OUTBOUND_DLQ_URL``) for what cannot be sent.

    The dead letter is written here rather than by ``RecordQueue.dead_letter`` because it carries
    the platform's error ``code`` too and is deduplicated by the reply's id, so a redelivered
    failure is one message in the DLQ."""

    def __init__(self, sqs: Any, url: str, dlq_url: str) -> None:
        super().__init__(sqs, url)
        self._dlq_url = dlq_url

    def dlq_url(self) -> str:
        return self._dlq_url

    def max_receives(self) -> int:
        try:
            return int(json.loads(self.attributes()["RedrivePolicy"])["maxReceiveCount"])
        except Exception:  # no permission, no policy: the template's value
            return DEFAULT_MAX_RECEIVES

    def dead_letter_reply(self, body: str, *, group_id: str, dedupe_key: str, reason: str, code: str,
                          source_message_id: str) -> None:
        attributes = {"reason": reason[:1000] or "unknown", "code": code[:256] or "unknown",
                      "source_message_id": source_message_id}
        try:
            self.sqs.send_message(
                QueueUrl=self._dlq_url, MessageBody=body, MessageGroupId=group_id[:128] or "outbound",
                MessageDeduplicationId=hashlib.sha256(dedupe_key.encode()).hexdigest(),
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except Exception as exc:
            raise PublishFailed(f"OutboundDLQ refused message {source_message_id}") from exc


def retry_delay(retry_after: float | None, receives: int, cap: float | None = None) -> int:
    """Seconds until the next try: the platform's reset when it gave one, else our backoff
    (never longer than the queue's own visibility timeout ``cap``); 5 s .. 15 min either way."""
    if retry_after is not None:
        delay = float(retry_after)
    else:
        delay = BACKOFF_BASE_SECONDS * 2 ** max(0, receives - 1)
        if cap is not None and cap > 0:
            delay = min(delay, cap)
    return int(min(MAX_RETRY_SECONDS, max(MIN_RETRY_SECONDS, delay)))


class Responder:
    def __init__(self, wiring: Wiring, queue: OutboundRecords) -> None:
        self.w = wiring
        self.queue = queue
        self.replies = SentReplies(wiring.profiles, wiring.cases_repo, wiring.publisher)
        # skip_group_on_error: a failing reply holds back only its own case's later replies.
        self.batch = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A platform outage fails every record, each with its own delay: item failures, not a
        # function error per invocation.
        self.batch.raise_on_entire_batch_failure = False
        self._put_off: set[str] = set()  # message groups (cases) whose reply waits for the platform
        self._retried: set[str] = set()  # records given their own delay

    def handle_batch(self, event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        # an in-progress send of a crashed invocation expires with that invocation
        self.w.guard.register(context)
        self._put_off, self._retried = set(), set()
        response = process_partial_response(event=event, record_handler=self.handle_record, processor=self.batch,
                                            context=context)
        self._release_held_back(event, {str(f["itemIdentifier"]) for f in response["batchItemFailures"]})
        return response

    def _release_held_back(self, event: dict[str, Any], failed: set[str]) -> None:
        """A case's later replies, failed unprocessed to keep its order, are made visible at once:
        SQS serves nothing of a message group while one of its messages is in flight, so they come
        back right behind the put-off reply, in order. Left in flight for the queue's timeout
        (360 s) they would instead hold the case's retry back that long."""
        held: list[tuple[str, int]] = []
        for raw in event.get("Records", []):
            group = (raw.get("attributes") or {}).get("MessageGroupId", "")
            if raw["messageId"] in failed and group in self._put_off and raw["messageId"] not in self._retried:
                held.append((raw["receiptHandle"], 0))
        if held:
            self.queue.defer(held)

    def handle_record(self, record: SQSRecord) -> str:
        message = self.parse(record)
        if message is None:
            return "dead-lettered"
        logger.append_keys(case_id=message.case_id, reply_id=message.interaction_id)
        text = self.compose(message)
        try:
            result = self.send_once(message, text)
        except CredentialsError as exc:
            return self.give_up(record, message, exc.reason, exc.code or "credentials", alert=True)
        except PermanentSendError as exc:
            return self.give_up(record, message, exc.reason, exc.code or "permanent")
        except RetryableSendError as exc:
            return self.retry(record, message, exc, exc.reason, exc.retry_after_s, exc.code)
        except Busy as exc:  # another invocation is sending this reply right now
            return self.retry(record, message, exc, exc.reason, exc.retry_after, "busy")
        recorded = self.replies.record(message, result, text)
        self._count_sent(message, recorded)
        return "sent"

    def parse(self, record: SQSRecord) -> OutboundMessage | None:
        try:
            return OutboundMessage.model_validate_json(record.body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            reason = f"not an outbound message: {where}: {first['msg']}"
            logger.error("outbound message dead-lettered", extra={"reason": reason, "message_id": record.message_id})
            self.queue.dead_letter_reply(record.body, group_id=record.attributes.message_group_id or "malformed",
                                         dedupe_key=record.message_id, reason=reason, code="malformed",
                                         source_message_id=record.message_id)
            count("RepliesFailed", reason="malformed")
            return None

    def compose(self, message: OutboundMessage) -> str | None:
        """The text to send: an automated reply carries the disclosure, in the reply's language."""
        if not message.automated or message.text is None:
            return message.text  # a template is sent as approved: nothing can be appended to it
        from socialcare.domain.replies.policy import disclosure
        from socialcare.domain.sentiment.analyser import guess_language

        return f"{message.text}\n\n{disclosure(self.w.reply_rules, guess_language(message.text))}"

    def send_once(self, message: OutboundMessage, text: str | None) -> SendResult:
        """At most one post per reply id: a redelivery gets the platform's first answer back."""

        def post() -> str:
            return self.w.senders.send(message, text).model_dump_json()

        return SendResult.model_validate_json(self.w.guard.once(f"reply:{message.interaction_id}", post))

    def retry(self, record: SQSRecord, message: OutboundMessage, exc: Exception, reason: str,
              retry_after: float | None, code: str | None) -> str:
        """Fail the record, visible again when the platform allows; on the last receive, give up."""
        receives = int(record.attributes.approximate_receive_count or 1)
        if receives >= self.queue.max_receives():
            return self.give_up(record, message, f"still failing after {receives} tries: {reason}",
                                code or "retries_exhausted")
        delay = retry_delay(retry_after, receives, self.queue.visibility_timeout())
        self._put_off.add(record.attributes.message_group_id or "")
        self._retried.add(record.message_id)
        self.queue.defer([(record.receipt_handle, delay)])
        count("RepliesRetried", channel=message.channel.value)
        logged = {"reason": reason, "code": code, "retry_in": delay, "receive_count": receives}
        logger.warning("reply send put off", extra=erase_for_log(logged, personal=["reason"]))
        raise exc

    def give_up(self, record: SQSRecord, message: OutboundMessage, reason: str, code: str, *,
                alert: bool = False) -> str:
        """OutboundDLQ (the body, kept for a redrive), state ``failed`` and a ``reply_failed`` item
        for the team, and for a credentials failure an alert; then the record is acknowledged."""
        # A platform's refusal may name the recipient (an e-mail, a phone number): erased from the
        # log line; the DLQ message keeps the whole reason.
        logged = {"reason": reason, "code": code, "channel": message.channel.value}
        logger.error("reply failed", extra=erase_for_log(logged, personal=["reason"]))
        self.queue.dead_letter_reply(record.body, group_id=message.group_id, dedupe_key=message.dedupe_key,
                                     reason=reason, code=code, source_message_id=record.message_id)
        self.replies.record_failure(message, reason, now=datetime.now(UTC))
        if alert:
            # no dimension: one metric for every platform, the one the PlatformAuthFailures alarm watches
            count("PlatformAuthFailures")
            self.w.publisher.alert(f"socialcare: {message.channel.value} refused our credentials", {
                "kind": "reply_credentials", "channel": message.channel.value, "account_id": message.to.account_id,
                "case_id": message.case_id, "reply_id": message.interaction_id, "code": code, "reason": reason,
                "action": "renew or re-authorise the account's token in its secret, then redrive OutboundDLQ",
            })
        count("RepliesFailed", channel=message.channel.value, reason=code)
        return "failed"

    @staticmethod
    def _count_sent(message: OutboundMessage, recorded: Recorded) -> None:
        count("RepliesSent", channel=message.channel.value)
        if recorded.first_response_seconds is not None:
            namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
            with single_metric(name="FirstResponseSeconds", unit=MetricUnit.Seconds,
                               value=recorded.first_response_seconds, namespace=namespace) as metric:
                metric.add_dimension(name="channel", value=message.channel.value)
        logger.info("reply sent", extra={"route": message.route.value, "channel": message.channel.value,
                                         "first_response": recorded.first_response_seconds is not None})


def build(wiring: Wiring | None = None) -> Responder:
    """ResponderFunction's flow, its settings validated at cold start."""
    w = wiring or Wiring(load(ResponderSettings))
    s = w.settings
    queue = OutboundRecords(w.client("sqs"), required(s, "outbound_queue_url"), required(s, "outbound_dlq_url"))
    return Responder(w, queue)
