"""A CloudFormation template read as CloudFormation would resolve it, for the demo.

The demo drives what `codepipeline/*.yml` declares (stages, CodeBuild projects, the
EventBridge rule) instead of a copy of it, so it needs the values those templates compute:
`Ref` to a parameter, pseudo parameter or resource, `Fn::Sub`, `Fn::GetAtt`, `Fn::If` (on
the template's Conditions, `AWS::NoValue` dropping what it is the value of) and
`Fn::ImportValue` (answered by the sandbox's CloudFormation
exports, as on AWS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from sandbox.constants import ACCOUNT_ID, REGION

PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}
_NO_VALUE = object()  # Ref AWS::NoValue: the key or list item is removed
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template cannot be read, or uses something the demo cannot resolve."""


class Template:
    """One template with its parameter values; `resolve` evaluates intrinsic functions."""

    def __init__(self, path: Path, parameters: dict[str, str], imports: Callable[[str], str]):
        body, problems = decode(str(path))
        if problems or body is None:
            raise TemplateError(f"{path}: {problems[0].message if problems else 'unreadable'}")
        self.path = path
        self.body = body
        self.parameters = {**self._defaults(), **parameters}
        self._imports = imports

    def _defaults(self) -> dict[str, str]:
        declared = self.body.get("Parameters", {})
        return {name: p["Default"] for name, p in declared.items() if "Default" in p}

    def resource(self, logical_id: str) -> dict:
        try:
            return self.body["Resources"][logical_id]
        except KeyError:
            raise TemplateError(f"{self.path}: no resource {logical_id!r}") from None

    def resource_of_type(self, resource_type: str) -> tuple[str, dict]:
        """The one resource of `resource_type` (logical id, resource)."""
        found = [(k, r) for k, r in self.body["Resources"].items() if r["Type"] == resource_type]
        if len(found) != 1:
            raise TemplateError(f"{self.path}: expected one {resource_type}, found {len(found)}")
        return found[0]

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic function evaluated."""
        if isinstance(node, list):
            return [r for r in (self.resolve(item) for item in node) if r is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return _NO_VALUE if value == "AWS::NoValue" else self._ref(value)
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::GetAtt":
                return self._get_att(value)
            if key == "Fn::ImportValue":
                return self._imports(self.resolve(value))
            if key == "Fn::If":
                condition, when_true, when_false = value
                return self.resolve(when_true if self.condition(condition) else when_false)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def condition(self, name: str) -> bool:
        """The template's condition `name` (Fn::Equals, Fn::Not, Fn::And, Fn::Or)."""
        conditions = self.body.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"{self.path}: no condition {name!r}")
        return self._truth(conditions[name])

    def _truth(self, node: Any) -> bool:
        ((key, value),) = node.items()
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::Equals":
            left, right = (self.resolve(v) for v in value)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(value[0])
        if key == "Fn::And":
            return all(self._truth(v) for v in value)
        if key == "Fn::Or":
            return any(self._truth(v) for v in value)
        raise TemplateError(f"{self.path}: cannot evaluate condition function {key}")

    def _ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return str(self.parameters[name])
        resource = self.resource(name)
        # A Ref to a named resource is its name (CodeBuild projects, pipelines, roles...).
        properties = resource.get("Properties", {})
        return str(self.resolve(properties.get("Name", properties.get("RoleName", name))))

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def lookup(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(name.split(".", 1)))
            return self._ref(name)

        return _SUB_VARIABLE.sub(lookup, text)

    def _get_att(self, value: Any) -> str:
        logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
        resource = self.resource(logical_id)
        if attribute == "Arn" and resource["Type"] == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{self._ref(logical_id)}"
        raise TemplateError(f"{self.path}: cannot resolve Fn::GetAtt {logical_id}.{attribute}")
