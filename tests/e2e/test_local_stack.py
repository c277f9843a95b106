"""The embedded local stack, seen from outside: a `socialcare local` process and HTTP only.

Most tests use the fixture template (tests/e2e/fixtures/) whose throwaway handlers make what a
function receives visible; the last one plays the real template's first user story.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"
# conftest.LocalProcess; not importable by name (conftest modules are not a package here)
LocalProcess = Any
StartStack = Callable[..., Any]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def invoke(stack: LocalProcess, payload: Any, function: str = "EchoFunction", **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = stack.lambda_client().invoke(
        FunctionName=function, Payload=json.dumps(payload).encode(), **kwargs
    )
    response["Body"] = json.loads(response["Payload"].read() or b"null")
    return response


def events_with_prefix(stack: LocalProcess, prefix: str) -> list[dict[str, Any]]:
    table = stack.names["EventsTable"]
    items = stack.client("dynamodb").scan(TableName=table)["Items"]
    deserializer = TypeDeserializer()
    decoded = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]
    return [item for item in decoded if str(item["pk"]).startswith(prefix)]


# ---------------------------------------------------------------------- start-up and resources
def test_ready_output_names_every_resource_with_stack_prefix(fixture_stack: LocalProcess) -> None:
    names = fixture_stack.names
    assert names["EventsTable"] == "fixture-events-table"
    assert names["WorkQueue"] == "fixture-work-queue.fifo"
    assert names["WorkDLQ"] == "fixture-work-dlq.fifo"
    assert names["FixtureSecret"] == "fixture-fixture-secret"
    assert names["EchoFunction"] == "fixture-echo-function"
    # a resource whose Condition is false is not created
    assert "NightlyQueue" not in names
    queues = fixture_stack.client("sqs").list_queues().get("QueueUrls", [])
    assert not [q for q in queues if "nightly" in q]


def test_queues_and_tables_are_created_from_the_template(fixture_stack: LocalProcess) -> None:
    sqs = fixture_stack.client("sqs")
    url = sqs.get_queue_url(QueueName=fixture_stack.names["WorkQueue"])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["VisibilityTimeout"] == "1"  # 30 s x time scale 0.02, at least 1 s
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": f"arn:aws:sqs:eu-west-1:123456789012:{fixture_stack.names['WorkDLQ']}",
        "maxReceiveCount": 5,
    }
    dynamodb = fixture_stack.client("dynamodb")
    table = fixture_stack.names["EventsTable"]
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert dynamodb.describe_table(TableName=table)["Table"]["SSEDescription"]["Status"] == "ENABLED"


def test_handler_output_goes_to_its_log_file_not_the_console(fixture_stack: LocalProcess) -> None:
    invoke(fixture_stack, {"ping": 1})
    log = (fixture_stack.log_dir / "EchoFunction.log").read_text()
    assert "echo: cold start" in log
    assert not [line for line in fixture_stack.lines if "echo:" in line]


# ---------------------------------------------------------------------- HTTP API
def test_request_becomes_an_http_api_v2_event(fixture_stack: LocalProcess) -> None:
    # http.client, because requests cannot send a header twice
    connection = http.client.HTTPConnection(urlsplit(fixture_stack.api_url).netloc, timeout=10)
    connection.putrequest("GET", "/echo/abc?tag=a&tag=b&q=caf%C3%A9")
    for name, value in [("X-Repeated", "one"), ("X-Repeated", "two"), ("Cookie", "s=1; t=2")]:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 200
    event = json.loads(response.read())
    connection.close()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{id}"
    assert event["rawPath"] == "/echo/abc"
    assert event["rawQueryString"] == "tag=a&tag=b&q=caf%C3%A9"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "café"}
    assert event["pathParameters"] == {"id": "abc"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-repeated"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["http"]["method"] == "GET"
    assert context["http"]["path"] == "/echo/abc"
    assert context["stage"] == "$default"
    assert context["routeKey"] == "ANY /echo/{id}"
    assert context["accountId"] == "123456789012"
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 30


def test_static_route_wins_and_greedy_proxy_takes_the_rest(fixture_stack: LocalProcess) -> None:
    static = requests.get(f"{fixture_stack.api_url}/echo/static", timeout=10).json()
    assert static["routeKey"] == "GET /echo/static"
    proxy = requests.get(f"{fixture_stack.api_url}/files/a/b/c.txt", timeout=10).json()
    assert proxy["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_signed_body_bytes_reach_the_handler_unchanged(fixture_stack: LocalProcess) -> None:
    raw = '{"text":"caffè ☕ \\u00e8","n":1}'.encode()
    secret = b"k"
    signature = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    event = requests.post(f"{fixture_stack.api_url}/echo/sig", data=raw,
                          headers={"content-type": "application/json"}, timeout=10).json()
    assert event["isBase64Encoded"] is False
    received = event["body"].encode("utf-8")
    assert received == raw
    assert hmac.new(secret, received, hashlib.sha256).hexdigest() == signature

    binary = bytes(range(256))
    event = requests.post(f"{fixture_stack.api_url}/echo/bin", data=binary,
                          headers={"content-type": "application/octet-stream"}, timeout=10).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == binary


def test_handler_result_is_interpreted_like_http_api(fixture_stack: LocalProcess) -> None:
    response = requests.post(f"{fixture_stack.api_url}/respond", data="x", timeout=10)
    assert response.status_code == 201
    assert response.text == "created"
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"] == "text/plain"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]
    # a result without statusCode is sent as a JSON 200
    plain = requests.get(f"{fixture_stack.api_url}/echo/list", timeout=10)
    assert plain.status_code == 200
    assert plain.json() == ["not", "a", "proxy", "response"]


def test_http_errors_match_api_gateway(fixture_stack: LocalProcess) -> None:
    api = fixture_stack.api_url
    unknown = requests.get(f"{api}/no/such/route", timeout=10)
    assert (unknown.status_code, unknown.json()) == (404, {"message": "Not Found"})
    wrong_method = requests.delete(f"{api}/files/a", timeout=10)
    assert (wrong_method.status_code, wrong_method.json()) == (404, {"message": "Not Found"})
    crash = requests.get(f"{api}/echo/crash", timeout=10)
    assert (crash.status_code, crash.json()) == (500, {"message": "Internal Server Error"})
    too_big = requests.post(f"{api}/echo/big", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30)
    assert too_big.status_code == 413
    chunked = requests.post(f"{api}/echo/big", data=(b"x" * 1024 * 1024 for _ in range(11)), timeout=30)
    assert chunked.status_code == 413  # no Content-Length to go by


# ---------------------------------------------------------------------- Invoke API and workers
def test_boto3_invoke_runs_the_handler_with_a_lambda_context(fixture_stack: LocalProcess) -> None:
    response = invoke(fixture_stack, {"hello": "world"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    body = response["Body"]
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "fixture-echo-function"
    assert body["memory_limit_in_mb"] == 256
    assert body["invoked_function_arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:fixture-echo-function"
    assert 0 < body["remaining_ms"] <= 2000  # the template's Timeout: 2


def test_log_type_tail_returns_this_invocations_output(fixture_stack: LocalProcess) -> None:
    response = invoke(fixture_stack, {"action": "tail-me"}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "echo: invoked with tail-me" in tail
    assert "echo: cold start" not in tail  # only what this invocation wrote


def test_invoke_by_physical_name_and_warm_worker_reuse(fixture_stack: LocalProcess) -> None:
    first = invoke(fixture_stack, {}, function="fixture-echo-function")["Body"]
    second = invoke(fixture_stack, {})["Body"]
    assert first["pid"] == second["pid"]  # one warm execution environment
    assert first["aws_request_id"] != second["aws_request_id"]


def test_handler_exception_is_an_unhandled_function_error(fixture_stack: LocalProcess) -> None:
    response = invoke(fixture_stack, {"action": "raise"})
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "ValueError"
    assert response["Body"]["errorMessage"] == "asked to fail"
    assert response["Body"]["stackTrace"]


def test_unknown_function_is_resource_not_found(fixture_stack: LocalProcess) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(fixture_stack, {}, function="NoSuchFunction")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_dead_worker_is_replaced(fixture_stack: LocalProcess) -> None:
    before = invoke(fixture_stack, {})["Body"]["pid"]
    crashed = invoke(fixture_stack, {"action": "exit"})
    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["Body"]["errorType"] == "Runtime.ExitError"
    after = invoke(fixture_stack, {})["Body"]["pid"]
    assert after != before
    assert not fixture_stack.alive(before)


def test_invocation_over_the_timeout_is_killed(fixture_stack: LocalProcess) -> None:
    started = time.monotonic()
    response = invoke(fixture_stack, {"action": "sleep", "seconds": 30})
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in response["Body"]["errorMessage"]
    assert "FunctionError" not in invoke(fixture_stack, {})  # a fresh environment serves the next one


def test_event_invocation_is_accepted_and_runs_later(fixture_stack: LocalProcess) -> None:
    response = fixture_stack.lambda_client().invoke(
        FunctionName="EchoFunction", InvocationType="Event",
        Payload=json.dumps({"action": "record", "pk": "async#1"}).encode(),
    )
    assert response["StatusCode"] == 202
    wait_for(lambda: events_with_prefix(fixture_stack, "async#1"), 10, what="the async invocation")


# ---------------------------------------------------------------------- environment and secrets
def test_function_environment_follows_the_contract(fixture_stack: LocalProcess, fixture_secret: str) -> None:
    env = invoke(fixture_stack, {"action": "env"})["Body"]
    assert env["FIXTURE_GREETING"] == "hello from fixture in eu-west-1"  # !Sub with pseudo params
    assert env["FIXTURE_EVENTS_TABLE"] == "fixture-events-table"
    assert env["FIXTURE_WORK_QUEUE_URL"].endswith("/123456789012/fixture-work-queue.fifo")
    assert env["SOCIALCARE_STAGE"] == "e2e-override"  # the stack's SOCIALCARE_* wins
    assert env["SOCIALCARE_E2E_EXTRA"] == "added-by-environment"
    assert env["SOCIALCARE_FIXTURE_SECRET_ARN"].startswith(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fixture-fixture-secret-")
    assert env["AWS_ENDPOINT_URL"] == fixture_stack.moto_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fixture-echo-function"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_PROFILE" not in env
    # secret values never travel in plaintext environment variables
    assert "SOCIALCARE_FIXTURE_SECRET" not in env
    assert not [k for k, v in env.items() if fixture_secret in v]


def test_secret_is_seeded_from_its_local_env_variable(fixture_stack: LocalProcess, fixture_secret: str) -> None:
    assert invoke(fixture_stack, {"action": "secret"})["Body"] == fixture_secret


# ---------------------------------------------------------------------- event sources
def test_sqs_partial_batch_failure_and_redrive_to_dlq(fixture_stack: LocalProcess) -> None:
    sqs = fixture_stack.client("sqs")
    queue = sqs.get_queue_url(QueueName=fixture_stack.names["WorkQueue"])["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=fixture_stack.names["WorkDLQ"])["QueueUrl"]
    # an explicit dedupe id, as socialcare sends (moto gives a SequenceNumber only then)
    sqs.send_message(QueueUrl=queue, MessageBody="ok-1", MessageGroupId="a", MessageDeduplicationId="ok-1",
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})
    sqs.send_message(QueueUrl=queue, MessageBody="poison-1", MessageGroupId="p")
    sqs.send_message(QueueUrl=queue, MessageBody="ok-2", MessageGroupId="b")

    records = wait_for(lambda: events_with_prefix(fixture_stack, "sqs#ok-1#1"), 15, what="ok-1 delivered")
    record = records[0]["record"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":fixture-work-queue.fifo")
    assert record["attributes"]["MessageGroupId"] == "a"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SequenceNumber", "MessageDeduplicationId"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["md5OfBody"] == hashlib.md5(b"ok-1").hexdigest()
    wait_for(lambda: events_with_prefix(fixture_stack, "sqs#ok-2#1"), 15, what="ok-2 delivered")

    def in_dlq() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        return got.get("Messages", [])

    moved = wait_for(in_dlq, 30, interval=0.5, what="the poison message in the DLQ")
    assert [m["Body"] for m in moved] == ["poison-1"]
    # tried exactly maxReceiveCount times; successes were deleted after their first delivery
    assert sorted(e["pk"] for e in events_with_prefix(fixture_stack, "sqs#poison-1#")) == [
        f"sqs#poison-1#{n}" for n in range(1, 6)]
    assert [e["pk"] for e in events_with_prefix(fixture_stack, "sqs#ok-1#")] == ["sqs#ok-1#1"]


def test_filter_criteria_drop_unmatched_messages_without_invoking(fixture_stack: LocalProcess) -> None:
    sqs = fixture_stack.client("sqs")
    queue = sqs.get_queue_url(QueueName=fixture_stack.names["FilteredQueue"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody='{"kind":"drop","n":1}')
    sqs.send_message(QueueUrl=queue, MessageBody='{"kind":"keep","n":2}')
    wait_for(lambda: events_with_prefix(fixture_stack, 'sqs#{"kind":"keep"'), 15, what="the matching message")

    def drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

    wait_for(drained, 15, what="the filtered-out message deleted")
    assert not events_with_prefix(fixture_stack, 'sqs#{"kind":"drop"')


def test_rate_schedules_fire_and_disabled_ones_do_not(fixture_stack: LocalProcess) -> None:
    ticks = wait_for(lambda: events_with_prefix(fixture_stack, "tick#Scheduled Event"), 15,
                     what="the rate(1 minute) schedule (scaled)")
    event = json.loads(ticks[0]["event"])
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/fixture-TickFunction-EveryMinute"]
    wait_for(lambda: events_with_prefix(fixture_stack, "tick#schedule-v2"), 15, what="the ScheduleV2 input")
    assert not events_with_prefix(fixture_stack, "tick#disabled")
    assert not events_with_prefix(fixture_stack, "tick#nightly")


# ---------------------------------------------------------------------- shutdown
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_stack_and_leaves_no_processes(start_stack: StartStack, tmp_path: Path, sig: int) -> None:
    local = start_stack(FIXTURE_TEMPLATE, tmp_path, stack="shutdown")
    children = local.descendants()
    assert len(children) >= 3  # one warm worker per function
    api = local.api_url
    assert local.stop(sig) == 0
    assert local.lines[-1] == "socialcare local: stopped"
    assert "Traceback" not in local.stderr
    assert not [pid for pid in children if local.alive(pid)]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api}/echo/x", timeout=2)


def test_reload_picks_up_edited_handler_code(start_stack: StartStack, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_TEMPLATE.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    local = start_stack(project / "template.yaml", tmp_path / "state", stack="reload", extra_args=["--reload"])
    before = invoke(local, {})["Body"]
    assert "edited" not in before
    handler = project / "functions" / "echo" / "app.py"
    handler.write_text(handler.read_text().replace('"pid": os.getpid(),', '"pid": os.getpid(), "edited": True,'))
    after = wait_for(lambda: invoke(local, {})["Body"].get("edited"), 15, what="the edited handler")
    assert after is True


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).parent / "socialcare"), "local", "--template", str(FIXTURE_TEMPLATE),
             "--moto-port", "0", "--api-port", str(port), "--invoke-port", "0"],
            env={**os.environ, "SOCIALCARE_LOCAL_STATE_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "socialcare local: ready" not in result.stdout


# ---------------------------------------------------------------------- the real template
@pytest.mark.skipif(not (ROOT / "functions" / "webhook_x" / "app.py").exists(),
                    reason="functions/webhook_x/app.py has not landed yet")
def test_real_template_x_mention_becomes_a_customer(start_stack: StartStack, tmp_path: Path) -> None:
    from socialcare_infra import demo

    local = start_stack(ROOT / "template.yaml", tmp_path, stack="socialcare-local")
    secrets = local.secret_values
    client = demo.DemoClient(local.api_url, secrets)
    crc = client.request("GET", "/webhooks/x", params={"crc_token": "e2e-token"})
    assert crc.status_code == 200
    assert crc.json()["response_token"] == demo.x_crc_response("local-x-consumer-secret", "e2e-token")

    mention = demo.XMention(user_id="987654321", handle="e2e_customer", name="E2E Customer",
                            text="@socialcare_demo where is my parcel?", tweet_id="1862000000000000999")
    assert client.x_post(mention.payload()).status_code == 200
    unsigned = client.request("POST", "/webhooks/x", body=client.encode(mention.payload()),
                              headers={"content-type": "application/json"})
    assert unsigned.status_code in (401, 403)

    def customer() -> list[dict[str, Any]]:
        response = client.api_get("/api/customers", params={"x": "987654321"})
        return demo._items(response.json()) if response.ok else []

    assert wait_for(customer, 30, interval=0.5, what="the customer behind the X mention")
    assert local.stop() == 0


@pytest.mark.skipif(not (ROOT / "functions" / "webhook_x" / "app.py").exists(),
                    reason="functions/webhook_x/app.py has not landed yet")
def test_socialcare_demo_plays_the_scenario_and_stops(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "socialcare"), "demo"],
        cwd=ROOT, env={**os.environ, "SOCIALCARE_LOCAL_STATE_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=80,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "UNEXPECTED" not in out and "FAILED" not in out, out
    assert "customer" in out and "Anna Bianchi" in out  # one customer, recognised across channels
    for channel in ("x", "facebook", "messenger", "whatsapp"):
        assert f"[{channel}/inbound]" in out, channel  # her timeline shows every channel
    assert "team=callcentre" in out and "[phone]" in out  # the call joined her case
    assert "engage for social" in out  # Marco's praise
    assert "0 badly signed" in out  # the CRM verified every delivery
    assert out.rstrip().endswith("demo finished")
