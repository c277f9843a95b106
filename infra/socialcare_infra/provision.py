"""Create the template's tables, queues, buckets, topics and secrets in moto, over HTTP.

Only the resource types below are emulated; everything else in the template (functions, which
our own runners execute, layers, the HTTP API, alarms, bucket policies, subscriptions) is
skipped. CloudFormation property shapes are translated to the service APIs' shapes here.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session

from socialcare_infra.template import Resolver, TemplateError

log = logging.getLogger(__name__)

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
BUCKET = "AWS::S3::Bucket"
TOPIC = "AWS::SNS::Topic"
SECRET = "AWS::SecretsManager::Secret"
EMULATED_TYPES = (TABLE, QUEUE, BUCKET, TOPIC, SECRET)

DEFAULT_TIME_SCALE = 0.02

# Values seeded into each secret when the variable named by its Metadata.LocalEnv is not set.
# They are public on purpose: they only ever protect a stack bound to 127.0.0.1.
LOCAL_SECRET_DEFAULTS: dict[str, str] = {
    "SOCIALCARE_X_CONSUMER_SECRET": "local-x-consumer-secret",
    # OAuth 1.0a user context as well as the bearer token: replies post as the brand account
    "SOCIALCARE_X_API_CREDENTIALS": ('{"default": {"bearer_token": "local-x-bearer", "consumer_key": "local-x-key", '
                                     '"consumer_secret": "local-x-consumer-secret", "access_token": "local-x-token", '
                                     '"access_token_secret": "local-x-token-secret"}}'),
    "SOCIALCARE_META_APP_SECRET": "local-meta-app-secret",
    "SOCIALCARE_META_VERIFY_TOKEN": "local-meta-verify-token",
    "SOCIALCARE_META_ACCESS_TOKENS": '{"default": "local-meta-access-token"}',
    "SOCIALCARE_INBOUND_SECRET": "local-inbound-secret",
    "SOCIALCARE_API_TOKEN": "local-api-token",
    # named tokens with roles, standing in for the JWT authorizer (ApiToken's token is an admin's)
    "SOCIALCARE_API_TOKENS": ('{"local-agent-token": {"role": "agent", "name": "local-agent"}, '
                              '"local-supervisor-token": {"role": "supervisor", "name": "local-supervisor"}, '
                              '"local-admin-token": {"role": "admin", "name": "local-admin"}}'),
    "SOCIALCARE_CRM_WEBHOOK_SECRET": "local-crm-webhook-secret",
    "SOCIALCARE_CRM_CREDENTIALS": "{}",
    # no team chat locally unless configured: work items are held for pull
    "SOCIALCARE_TEAM_CHAT_WEBHOOKS": "{}",
}

# SQS attributes that CloudFormation exposes as queue properties of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def time_scale_from_env(environ: Mapping[str, str], name: str = "SOCIALCARE_LOCAL_TIME_SCALE",
                        default: float = DEFAULT_TIME_SCALE) -> float:
    raw = environ.get(name, "")
    if not raw:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be > 0")
    return value


def scale_seconds(seconds: float, time_scale: float, minimum: int = 1) -> int:
    """Scale a template duration for local runs, rounding up and never below ``minimum``."""
    return max(minimum, math.ceil(float(seconds) * time_scale))


def local_env_of(resource: Mapping[str, Any]) -> str | None:
    metadata = resource.get("Metadata") or {}
    value = metadata.get("LocalEnv")
    return str(value) if value else None


def secret_env_names(resolver: Resolver) -> set[str]:
    """Variables that hold secret values locally; they must never reach a function's env."""
    return {
        env
        for resource in resolver.resources.values()
        if resource.get("Type") == SECRET and (env := local_env_of(resource))
    }


def local_session(region: str) -> boto3.session.Session:
    """A boto3 session for moto that ignores the developer's AWS_PROFILE and credentials."""
    # Not reading AWS_PROFILE: the profile a developer works with may not even exist here,
    # and moto needs none. (instance var, env var, default, converter)
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
        botocore_session=core,
    )


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Provisioned:
    """What was created: logical id -> physical name, and the seeded secret values."""

    names: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)  # tables with a stream
    secret_arns: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)


class Provisioner:
    """Creates every emulated resource of a template in a running moto server."""

    def __init__(
        self,
        resolver: Resolver,
        endpoint_url: str,
        environ: Mapping[str, str] | None = None,
        time_scale: float = DEFAULT_TIME_SCALE,
    ) -> None:
        self.resolver = resolver
        self.environ = dict(os.environ if environ is None else environ)
        self.time_scale = time_scale
        session = local_session(resolver.region)
        # Typed as Any: the request shapes come from the template, not from literals here.
        self.dynamodb: Any = session.client("dynamodb", endpoint_url=endpoint_url)
        self.sqs: Any = session.client("sqs", endpoint_url=endpoint_url)
        self.s3: Any = session.client("s3", endpoint_url=endpoint_url)
        self.sns: Any = session.client("sns", endpoint_url=endpoint_url)
        self.secrets: Any = session.client("secretsmanager", endpoint_url=endpoint_url)

    def emulated(self) -> list[str]:
        """Logical ids to create, in dependency order, without false-condition resources."""
        ids = [
            logical_id
            for logical_id, resource in self.resolver.resources.items()
            if resource.get("Type") in EMULATED_TYPES and self.resolver.included(logical_id)
        ]
        return self.resolver.creation_order(ids)

    def provision(self) -> Provisioned:
        result = Provisioned()
        creators = {
            TABLE: self._table,
            QUEUE: self._queue,
            BUCKET: self._bucket,
            TOPIC: self._topic,
            SECRET: self._secret,
        }
        ordered = self.emulated()

        def create(logical_id: str) -> None:
            resource = self.resolver.resource(logical_id)
            rtype = resource["Type"]
            props = self.resolver.resolve(resource.get("Properties") or {})
            creators[rtype](logical_id, self.resolver.name(logical_id), props, resource, result)

        # Start-up time is mostly these round trips: create each wave of mutually independent
        # resources side by side (wave 0: tables, DLQs, bucket, topic, secrets; wave 1: queues
        # redriving to a DLQ ...), one thread per resource type: moto's backends iterate their
        # dicts unlocked (two secrets created at once raised "dictionary changed size").
        def create_all(ids: list[str]) -> None:
            for logical_id in ids:
                create(logical_id)

        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="provision") as pool:
            for wave in self.resolver.creation_waves(ordered):
                by_type: dict[str, list[str]] = {}
                for logical_id in wave:
                    by_type.setdefault(self.resolver.resource(logical_id)["Type"], []).append(logical_id)
                list(pool.map(create_all, by_type.values()))
        for logical_id in ordered:  # report in template order, whatever finished first
            result.names[logical_id] = self.resolver.name(logical_id)
            result.types[logical_id] = self.resolver.resource(logical_id)["Type"]
        return result

    # ------------------------------------------------------------------ DynamoDB
    def _table(
        self, logical_id: str, name: str, props: dict[str, Any], resource: Mapping[str, Any], out: Provisioned
    ) -> None:
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "TableClass",
                    "DeletionProtectionEnabled", "Tags"):
            if key in props:
                args[key] = props[key]
        if args["BillingMode"] == "PAY_PER_REQUEST":
            args.pop("ProvisionedThroughput", None)
        sse = props.get("SSESpecification")
        if sse:
            # CloudFormation says SSEEnabled, the API says Enabled.
            args["SSESpecification"] = {"Enabled": _bool(sse.get("SSEEnabled", False))}
            for key in ("SSEType", "KMSMasterKeyId"):
                if key in sse:
                    args["SSESpecification"][key] = sse[key]
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        created = self.dynamodb.create_table(**args)["TableDescription"]
        self.resolver.set_attr(logical_id, "Arn", created["TableArn"])
        if created.get("LatestStreamArn"):
            self.resolver.set_attr(logical_id, "StreamArn", created["LatestStreamArn"])
            out.stream_arns[logical_id] = created["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _bool(ttl.get("Enabled", False)):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and _bool(pitr.get("PointInTimeRecoveryEnabled", False)):
            self.dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )

    # ------------------------------------------------------------------ SQS
    def queue_attributes(self, props: Mapping[str, Any]) -> dict[str, str]:
        """SQS CreateQueue attributes for CloudFormation queue properties, timeouts scaled."""
        attributes = {key: _str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(scale_seconds(props["VisibilityTimeout"], self.time_scale))
        if "DelaySeconds" in props:
            attributes["DelaySeconds"] = str(scale_seconds(props["DelaySeconds"], self.time_scale, minimum=0))
        if attributes.get("FifoQueue") == "false":
            del attributes["FifoQueue"]  # SQS rejects FifoQueue=false on a standard queue
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        return attributes

    def _queue(
        self, logical_id: str, name: str, props: dict[str, Any], resource: Mapping[str, Any], out: Provisioned
    ) -> None:
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": self.queue_attributes(props)}
        tags = props.get("Tags")
        if tags:
            kwargs["tags"] = {t["Key"]: str(t["Value"]) for t in tags}
        url = self.sqs.create_queue(**kwargs)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.resolver.set_ref(logical_id, url)
        self.resolver.set_attr(logical_id, "QueueUrl", url)
        self.resolver.set_attr(logical_id, "Arn", arn)
        out.queue_urls[logical_id] = url

    # ------------------------------------------------------------------ S3
    def _bucket(
        self, logical_id: str, name: str, props: dict[str, Any], resource: Mapping[str, Any], out: Provisioned
    ) -> None:
        create: dict[str, Any] = {"Bucket": name}
        if self.resolver.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.resolver.region}
        self.s3.create_bucket(**create)
        encryption = props.get("BucketEncryption")
        if encryption:
            self.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                "Rules": [_encryption_rule(r) for r in encryption["ServerSideEncryptionConfiguration"]],
            })
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration={k: _bool(v) for k, v in block.items()}
            )
        ownership = props.get("OwnershipControls")
        if ownership:
            self.s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership)
        versioning = props.get("VersioningConfiguration")
        if versioning:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle["Rules"]]}
            )
        tags = props.get("Tags")
        if tags:
            self.s3.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": [{"Key": t["Key"], "Value": str(t["Value"])} for t in tags]}
            )

    # ------------------------------------------------------------------ SNS
    def _topic(
        self, logical_id: str, name: str, props: dict[str, Any], resource: Mapping[str, Any], out: Provisioned
    ) -> None:
        attributes = {
            key: _str(props[key])
            for key in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication")
            if key in props
        }
        arn = self.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.resolver.set_ref(logical_id, arn)
        self.resolver.set_attr(logical_id, "TopicArn", arn)

    # ------------------------------------------------------------------ Secrets Manager
    def secret_value(self, logical_id: str, resource: Mapping[str, Any], props: Mapping[str, Any]) -> str:
        env = local_env_of(resource)
        if env and self.environ.get(env) is not None:
            return self.environ[env]
        if env and env in LOCAL_SECRET_DEFAULTS:
            return LOCAL_SECRET_DEFAULTS[env]
        if "SecretString" in props:
            return str(props["SecretString"])
        # A secret without a local source gets a recognisable placeholder, never a real value.
        return f"local-{self.resolver.name(logical_id)}"

    def _secret(
        self, logical_id: str, name: str, props: dict[str, Any], resource: Mapping[str, Any], out: Provisioned
    ) -> None:
        value = self.secret_value(logical_id, resource, props)
        # Secrets Manager refuses an empty SecretString: an empty secret has no value (reads fail closed).
        kwargs: dict[str, Any] = {"Name": name, "SecretString": value} if value else {"Name": name}
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        arn = self.secrets.create_secret(**kwargs)["ARN"]
        self.resolver.set_ref(logical_id, arn)
        out.secret_arns[logical_id] = arn
        out.secret_values[logical_id] = value


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": dict(rule["ServerSideEncryptionByDefault"])}
    if "BucketKeyEnabled" in rule:
        out["BucketKeyEnabled"] = _bool(rule["BucketKeyEnabled"])
    return out


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's flattened lifecycle rule -> the S3 API's nested shape."""
    out: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    prefix = rule.get("Prefix")
    out["Filter"] = {"Prefix": prefix} if prefix is not None else {"Prefix": ""}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    transitions = rule.get("Transitions")
    if transitions:
        out["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in transitions
        ]
    return out


__all__ = [
    "EMULATED_TYPES", "LOCAL_SECRET_DEFAULTS", "Provisioned", "Provisioner", "TemplateError", "local_env_of",
    "scale_seconds", "local_session", "secret_env_names", "time_scale_from_env",
]
