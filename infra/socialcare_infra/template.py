"""Read template.yaml and resolve CloudFormation intrinsics for the local stack.

The local stack has no CloudFormation engine: this module is the small part of one that we
need. It loads the SAM template with CloudFormation's short tags (``!Ref``, ``!GetAtt``,
``!Sub`` ...), names every resource ``<stack>-<kebab logical id>`` and resolves intrinsic
functions, parameters, pseudo parameters and conditions against those names.

Reference values that only exist once a resource is created (a secret's ARN carries a random
suffix; a queue URL carries moto's host) are handed back through ``Resolver.set_ref`` /
``Resolver.set_attr`` by the provisioner; until then the resolver derives the value AWS would
give from the physical name, which is what unit tests exercise.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml

from socialcare_infra.ordering import SUB_VARIABLE, CircularReference, references, topological_order

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "eu-west-1"
DEFAULT_STACK = "socialcare-local"

# Marker for AWS::NoValue: the key or list item that resolves to it disappears.
NO_VALUE: Any = object()

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve."""


def kebab(logical_id: str) -> str:
    """``CrmSyncQueue`` -> ``crm-sync-queue``; acronyms stay one word: ``InboundDLQ`` -> ``inbound-dlq``."""
    text = _ACRONYM_BOUNDARY.sub(r"\1-\2", logical_id)
    text = _WORD_BOUNDARY.sub(r"\1-\2", text)
    return text.replace("_", "-").lower()


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a (SAM) CloudFormation template, short tags included, into plain dicts."""
    text = Path(path).read_text(encoding="utf-8")
    loaded = load_yaml(text)
    if not isinstance(loaded, dict):
        raise TemplateError(f"{path} is not a CloudFormation template")
    return _plain(loaded)


def _plain(value: Any) -> Any:
    # cfn_flip returns its own ODict type; plain containers keep copies and equality simple.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def is_fifo_queue(resource: Mapping[str, Any]) -> bool:
    props = resource.get("Properties") or {}
    return resource.get("Type") == "AWS::SQS::Queue" and str(props.get("FifoQueue", "")).lower() == "true"


def is_fifo_topic(resource: Mapping[str, Any]) -> bool:
    props = resource.get("Properties") or {}
    return resource.get("Type") == "AWS::SNS::Topic" and str(props.get("FifoTopic", "")).lower() == "true"


def physical_name(stack_name: str, logical_id: str, resource: Mapping[str, Any] | None = None) -> str:
    """The name the local stack gives a resource: ``<stack>-<kebab logical id>`` (+ ``.fifo``)."""
    name = f"{stack_name}-{kebab(logical_id)}"
    if resource is not None and (is_fifo_queue(resource) or is_fifo_topic(resource)):
        # SQS and SNS refuse FIFO names that do not end in ".fifo".
        name += ".fifo"
    return name


@dataclass
class Resolver:
    """Resolves intrinsic functions of one template for one local stack."""

    template: Mapping[str, Any]
    stack_name: str = DEFAULT_STACK
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    parameters: Mapping[str, str] = field(default_factory=dict)
    _refs: dict[str, Any] = field(default_factory=dict, init=False)
    _attrs: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)
    _conditions: dict[str, bool] = field(default_factory=dict, init=False)
    _param_values: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._param_values = self._parameter_values()

    # ------------------------------------------------------------------ template parts
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources") or {})

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return dict(self.resources[logical_id])
        except KeyError:
            raise TemplateError(f"no resource {logical_id!r} in the template") from None

    def name(self, logical_id: str) -> str:
        return physical_name(self.stack_name, logical_id, self.resources.get(logical_id))

    def included(self, logical_id: str) -> bool:
        """False when the resource carries a ``Condition`` that is false for this stack."""
        condition = self.resource(logical_id).get("Condition")
        return condition is None or self.condition(str(condition))

    @property
    def parameter_values(self) -> dict[str, str]:
        return dict(self._param_values)

    def _parameter_values(self) -> dict[str, str]:
        declared = self.template.get("Parameters") or {}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.parameters:
                value = self.parameters[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default: pass it as an override")
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            values[name] = str(value)
        return values

    # ------------------------------------------------------------------ provisioned values
    def set_ref(self, logical_id: str, value: Any) -> None:
        """Record what ``!Ref`` returns once the resource exists (e.g. a secret's real ARN)."""
        self._refs[logical_id] = value

    def set_attr(self, logical_id: str, attribute: str, value: Any) -> None:
        self._attrs[(logical_id, attribute)] = value

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no condition {name!r} in the template")
            self._conditions[name] = bool(self._condition_value(conditions[name]))
        return self._conditions[name]

    def _condition_value(self, expr: Any) -> Any:
        if isinstance(expr, Mapping) and len(expr) == 1:
            ((fn, args),) = expr.items()
            if fn == "Condition":
                return self.condition(str(args))
        return self.resolve(expr)

    # ------------------------------------------------------------------ refs and attributes
    def pseudo(self, name: str) -> Any:
        pseudo: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in pseudo:
            raise TemplateError(f"unsupported pseudo parameter {name}")
        return pseudo[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self._param_values:
            return self._param_values[name]
        if name in self._refs:
            return self._refs[name]
        rtype = self.resource(name).get("Type", "")
        physical = self.name(name)
        arn = self._arn(rtype, physical)
        if rtype == "AWS::SQS::Queue":
            # moto's queue URL; the provisioner replaces it with the URL moto returned.
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{physical}"
        if rtype in ("AWS::SNS::Topic", "AWS::SecretsManager::Secret"):
            return arn
        if rtype in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Serverless::Function",
                     "AWS::Lambda::Function"):
            return physical
        # Everything we do not emulate (HttpApi, layers, alarms ...) refers to itself.
        return name

    def _arn(self, rtype: str, physical: str) -> str:
        region, account = self.region, self.account_id
        arns = {
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{physical}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{physical}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{physical}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{region}:{account}:secret:{physical}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{region}:{account}:function:{physical}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{physical}",
        }
        return arns.get(rtype, f"arn:aws:local:{region}:{account}:{physical}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self._attrs:
            return self._attrs[(logical_id, attribute)]
        rtype = self.resource(logical_id).get("Type", "")
        physical = self.name(logical_id)
        arn = self._arn(rtype, physical)
        by_type: dict[str, dict[str, Any]] = {
            "AWS::SQS::Queue": {"Arn": arn, "QueueName": physical, "QueueUrl": self.ref(logical_id)},
            "AWS::DynamoDB::Table": {"Arn": arn, "StreamArn": f"{arn}/stream/local"},
            "AWS::S3::Bucket": {
                "Arn": arn,
                "DomainName": f"{physical}.s3.amazonaws.com",
                "RegionalDomainName": f"{physical}.s3.{self.region}.amazonaws.com",
                "WebsiteURL": f"http://{physical}.s3-website-{self.region}.amazonaws.com",
            },
            "AWS::SNS::Topic": {"TopicArn": arn, "TopicName": physical},
            "AWS::SecretsManager::Secret": {"Id": self.ref(logical_id)},
            "AWS::Serverless::Function": {"Arn": arn},
            "AWS::Lambda::Function": {"Arn": arn},
            "AWS::IAM::Role": {"Arn": arn, "RoleId": physical},
        }
        try:
            return by_type[rtype][attribute]
        except KeyError:
            raise TemplateError(f"unsupported !GetAtt {logical_id}.{attribute} ({rtype})") from None

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``; AWS::NoValue removes keys and items."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, args),) = value.items()
                handler = self._intrinsics().get(key)
                if handler is not None:
                    return handler(args)
            out: dict[str, Any] = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        return value

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda a: self.ref(str(self.resolve(a))),
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": self._fn_join,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::If": self._fn_if,
            "Fn::Equals": lambda a: _scalar(self.resolve(a[0])) == _scalar(self.resolve(a[1])),
            "Fn::Not": lambda a: not self._condition_value(a[0]),
            "Fn::And": lambda a: all(self._condition_value(c) for c in a),
            "Fn::Or": lambda a: any(self._condition_value(c) for c in a),
            "Condition": lambda a: self.condition(str(a)),
            "Fn::Base64": lambda a: base64.b64encode(str(self.resolve(a)).encode()).decode(),
            "Fn::GetAZs": lambda a: [f"{self.resolve(a) or self.region}{z}" for z in "abc"],
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::ToJsonString": self._fn_to_json,
            "Fn::ImportValue": self._unsupported("Fn::ImportValue"),
            "Fn::Cidr": self._unsupported("Fn::Cidr"),
        }

    @staticmethod
    def _unsupported(name: str) -> Callable[[Any], Any]:
        def fail(_: Any) -> Any:
            raise TemplateError(f"{name} is not supported by the local stack")

        return fail

    def _fn_get_att(self, args: Any) -> Any:
        if isinstance(args, str):
            logical_id, _, attribute = args.partition(".")
        else:
            logical_id, attribute = str(args[0]), str(self.resolve(args[1]))
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, args: Any) -> str:
        if isinstance(args, list):
            text, variables = str(args[0]), {k: self.resolve(v) for k, v in (args[1] or {}).items()}
        else:
            text, variables = str(args), {}

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"  # ${!Literal} is an escaped literal
            if expr in variables:
                return str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical_id, _, attribute = expr.partition(".")
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(expr))

        return SUB_VARIABLE.sub(replace, text)

    def _fn_join(self, args: Any) -> str:
        delimiter, items = args
        resolved = self.resolve(items)
        return str(delimiter).join(str(_scalar(i)) for i in resolved)

    def _fn_select(self, args: Any) -> Any:
        index, items = int(self.resolve(args[0])), self.resolve(args[1])
        return items[index]

    def _fn_split(self, args: Any) -> list[str]:
        delimiter, source = args
        return str(self.resolve(source)).split(str(delimiter))

    def _fn_if(self, args: Any) -> Any:
        name, when_true, when_false = args
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _fn_find_in_map(self, args: Any) -> Any:
        map_name, top, second = (str(self.resolve(a)) for a in args[:3])
        try:
            return self.template["Mappings"][map_name][top][second]
        except KeyError:
            raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second} not found") from None

    def _fn_to_json(self, args: Any) -> str:
        import json

        return json.dumps(self.resolve(args), separators=(",", ":"))

    # ------------------------------------------------------------------ dependencies
    def dependencies(self, logical_id: str) -> set[str]:
        """Logical ids of resources that ``logical_id`` refers to (for creation order)."""
        resource = self.resource(logical_id)
        return {r for r in references(resource) if r in self.resources and r != logical_id}

    def creation_order(self, logical_ids: Iterable[str]) -> list[str]:
        """Topological order of ``logical_ids`` (a DLQ before the queue that redrives to it)."""
        try:
            return topological_order(list(logical_ids), self.dependencies)
        except CircularReference as exc:
            raise TemplateError(str(exc)) from exc

    def creation_waves(self, ordered: list[str]) -> list[list[str]]:
        """``ordered`` (a creation order) cut into waves of mutually independent resources."""
        level: dict[str, int] = {}
        for logical_id in ordered:  # dependencies come first in ``ordered``
            deps = [d for d in self.dependencies(logical_id) if d in level]
            level[logical_id] = 1 + max((level[d] for d in deps), default=-1)
        waves: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for logical_id in ordered:
            waves[level[logical_id]].append(logical_id)
        return waves


def _scalar(value: Any) -> Any:
    # CloudFormation compares and joins strings: YAML's true/1 are "true"/"1" to it.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
