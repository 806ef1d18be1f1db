"""A change set's Changes as CloudFormation computes them.

AWS: a resource whose Condition is false is not in the change set; a resource is Modify
when its properties, resolved with the change set's parameters, differ from what the stack
holds (a new parameter value alone modifies every resource that uses it, and a replaced
resource modifies every resource that reads its attributes); each Modify says whether the
resource is replaced (`Replacement` True when a create-only property changes, Conditional
when such a property changes only through another resource's new attribute, else False),
with `Scope` and `Details`. moto: compares the raw template JSON with the stack's,
ignoring parameters (a new package ARN alone shows no change) and Conditions (a staging
change set adds prod-only alarms), and reports no Replacement, Scope or Details.

The create-only properties are those of the CloudFormation registry schemas for the
resource types the project's stacks use; for any other type a Modify says Conditional.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

from sandbox.moto_patches import Internals, applied, mark

PATCH = "change_set_changes"
logger = logging.getLogger(__name__)
ALL_BUT_TAGS = "*"
# createOnlyProperties of the registry schemas (a change replaces the resource).
CREATE_ONLY: dict[str, set[str] | str] = {
    "AWS::SageMaker::Model": ALL_BUT_TAGS,
    "AWS::SageMaker::EndpointConfig": ALL_BUT_TAGS,
    "AWS::SageMaker::Endpoint": {"EndpointName"},
    "AWS::CloudWatch::Alarm": {"AlarmName"},
    "AWS::ApplicationAutoScaling::ScalableTarget": {
        "ResourceId",
        "ScalableDimension",
        "ServiceNamespace",
    },
    "AWS::ApplicationAutoScaling::ScalingPolicy": {
        "PolicyName",
        "ResourceId",
        "ScalableDimension",
        "ScalingTargetId",
        "ServiceNamespace",
    },
    "AWS::S3::Bucket": {"BucketName", "ObjectLockEnabled"},
    "AWS::IAM::Role": {"RoleName", "Path"},
    "AWS::SageMaker::ModelPackageGroup": {"ModelPackageGroupName"},
    "AWS::KMS::Key": set(),
}
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass(frozen=True)
class ResourceValue:
    """A value only known once a resource exists: its Ref or one of its attributes."""

    resource: str
    attribute: str | None = None


@dataclass(frozen=True)
class Unresolved:
    """A value this emulation does not compute (an import, a mapping): compared as written."""

    expression: str


class _Resolver:
    """Conditions and property values of one template with one set of parameter values."""

    def __init__(self, template: dict, parameters: dict[str, str], pseudo: dict[str, str]):
        declared = template.get("Parameters") or {}
        defaults = {k: str(v["Default"]) for k, v in declared.items() if "Default" in v}
        self.parameters = {**pseudo, **defaults, **(parameters or {})}
        self.resources = template.get("Resources") or {}
        self.conditions = template.get("Conditions") or {}
        self._evaluated: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._evaluated:
            self._evaluated[name] = bool(self.value(self.conditions.get(name, True)))
        return self._evaluated[name]

    def present(self) -> dict[str, dict]:
        """The resources this template creates with these parameters."""
        return {
            name: resource
            for name, resource in self.resources.items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in _FUNCTIONS:
            ((key, argument),) = node.items()
            return _FUNCTIONS[key](self, argument)
        resolved = ((k, self.value(n)) for k, n in node.items())
        return {k: v for k, v in resolved if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return ResourceValue(name)
        return Unresolved(f"Ref {name}")

    def sub(self, argument: Any) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {k: self.value(v) for k, v in (variables or {}).items()}
        references = []

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if name in self.parameters:
                return self.parameters[name]
            resource = name.split(".", 1)
            references.append(
                ResourceValue(resource[0], resource[1] if len(resource) > 1 else None)
            )
            return match.group(0)

        resolved = _SUB_VARIABLE.sub(replace, text)
        return (resolved, tuple(references)) if references else resolved


_NO_VALUE = object()


def _get_att(resolver: _Resolver, argument: Any) -> ResourceValue:
    name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return ResourceValue(name, attribute)


def _if(resolver: _Resolver, argument: list) -> Any:
    name, when_true, when_false = argument
    return resolver.value(when_true if resolver.condition(name) else when_false)


def _join(resolver: _Resolver, argument: list) -> Any:
    separator, items = argument
    values = resolver.value(items)
    if all(isinstance(v, str | int | float) for v in values):
        return separator.join(str(v) for v in values)
    return ("Fn::Join", separator, tuple(map(repr, values)))


_FUNCTIONS = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::If": _if,
    "Fn::Join": _join,
    "Fn::Equals": lambda r, a: _text(r.value(a[0])) == _text(r.value(a[1])),
    "Fn::Not": lambda r, a: not r.value(a[0]),
    "Fn::And": lambda r, a: all(r.value(x) for x in a),
    "Fn::Or": lambda r, a: any(r.value(x) for x in a),
    "Condition": lambda r, a: r.condition(a),
}


def _present(value: Any) -> Any:
    """A property's value, None when it is absent (unset, or AWS::NoValue)."""
    return None if value is _NO_VALUE else value


def _text(value: Any) -> str:
    """A value as CloudFormation compares it: parameters are strings, YAML true is "true"."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _references(value: Any) -> set[ResourceValue]:
    """The resource values (Refs, attributes) a resolved value reads."""
    if isinstance(value, ResourceValue):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_references(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_references(v) for v in value))
    return set()


def _parameters_read(node: Any, parameters: dict[str, str]) -> set[str]:
    """The template parameters a raw property reads (Ref and ${Name} in Sub)."""
    if isinstance(node, dict):
        found = set().union(*(_parameters_read(v, parameters) for v in node.values()))
        if isinstance(node.get("Ref"), str) and node["Ref"] in parameters:
            found.add(node["Ref"])
        return found
    if isinstance(node, list):
        return set().union(*(_parameters_read(v, parameters) for v in node))
    if isinstance(node, str):
        return {n for n in _SUB_VARIABLE.findall(node) if n in parameters}
    return set()


def _creates_again(resource_type: str, prop: str) -> str:
    """RequiresRecreation of one property: Always, Never, or Conditional (unknown type)."""
    create_only = CREATE_ONLY.get(resource_type)
    if create_only is None:
        return "Conditional"
    if create_only == ALL_BUT_TAGS:
        return "Never" if prop == "Tags" else "Always"
    return "Always" if prop in create_only else "Never"


def resource_changes(
    old_template: dict,
    old_parameters: dict[str, str],
    new_template: dict,
    new_parameters: dict[str, str],
    pseudo: dict[str, str],
    physical_ids: dict[str, str],
) -> list[dict]:
    """The ResourceChange of every resource the update adds, modifies or removes."""
    old = _Resolver(old_template, old_parameters, pseudo)
    new = _Resolver(new_template, new_parameters, pseudo)
    before, after = old.present(), new.present()
    changes = {
        name: {"Action": "Add", "LogicalResourceId": name, "ResourceType": r["Type"]}
        for name, r in after.items()
        if name not in before
    }
    kept = sorted(after.keys() & before.keys())
    details = {name: _static_details(name, before, after, old, new) for name in kept}
    _add_dynamic_details(details, after, new)
    details = {name: found for name, found in details.items() if found}
    for name, found in details.items():
        changes[name] = {
            "Action": "Modify",
            "LogicalResourceId": name,
            "ResourceType": after[name]["Type"],
            "Replacement": _replacement(found),
            "Scope": ["Properties"],
            "Details": found,
        }
    for name in before.keys() - after.keys():
        changes[name] = {
            "Action": "Remove",
            "LogicalResourceId": name,
            "ResourceType": before[name]["Type"],
        }
    for name, change in changes.items():
        if change["Action"] != "Add" and name in physical_ids:
            change["PhysicalResourceId"] = physical_ids[name]
    order = list(new_template.get("Resources") or {}) + list(old_template.get("Resources") or {})
    return sorted(changes.values(), key=lambda c: order.index(c["LogicalResourceId"]))


def _static_details(name: str, before: dict, after: dict, old: _Resolver, new: _Resolver) -> list:
    """What changes in a kept resource's properties with the new template and parameters."""
    found = []
    raw_old = before[name].get("Properties") or {}
    raw_new = after[name].get("Properties") or {}
    for prop in sorted(raw_old.keys() | raw_new.keys()):
        if _present(old.value(raw_old.get(prop))) == _present(new.value(raw_new.get(prop))):
            continue
        recreation = _creates_again(after[name]["Type"], prop)
        read = {
            p
            for p in _parameters_read(raw_new.get(prop), new.parameters)
            if old.parameters.get(p) != new.parameters.get(p)
        }
        if raw_old.get(prop) != raw_new.get(prop) or not read:
            found.append(_detail(prop, recreation, "Static", "DirectModification"))
            continue
        for parameter in sorted(read):  # the template is the same: a parameter changed
            detail = _detail(prop, recreation, "Static", "ParameterReference")
            found.append({**detail, "CausingEntity": parameter})
    return found


def _add_dynamic_details(details: dict[str, list], after: dict, new: _Resolver) -> None:
    """A replaced resource has new attributes: whatever reads them changes too, in turn."""
    replaced: set[str] = set()
    while True:
        now_replaced = {
            n for n, found in details.items() if found and _replacement(found) != "False"
        }
        if now_replaced <= replaced:
            return
        replaced |= now_replaced
        for name, found in details.items():
            for prop, raw in (after[name].get("Properties") or {}).items():
                for value in _references(new.value(raw)):
                    causing = ".".join(filter(None, (value.resource, value.attribute)))
                    seen = {(d["Target"]["Name"], d.get("CausingEntity")) for d in found}
                    if value.resource not in replaced or (prop, causing) in seen:
                        continue
                    source = "ResourceAttribute" if value.attribute else "ResourceReference"
                    detail = _detail(
                        prop, _creates_again(after[name]["Type"], prop), "Dynamic", source
                    )
                    found.append({**detail, "CausingEntity": causing})


def _detail(prop: str, recreation: str, evaluation: str, source: str) -> dict:
    return {
        "Target": {"Attribute": "Properties", "Name": prop, "RequiresRecreation": recreation},
        "Evaluation": evaluation,
        "ChangeSource": source,
    }


def _replacement(details: list[dict]) -> str:
    """True when a create-only property surely changes; Conditional when only through a
    value known at execution (or of an unknown type); else False."""
    recreating = [d for d in details if d["Target"]["RequiresRecreation"] != "Never"]
    if any(
        d["Evaluation"] == "Static" and d["Target"]["RequiresRecreation"] == "Always"
        for d in recreating
    ):
        return "True"
    return "Conditional" if recreating else "False"


def apply() -> None:
    from moto.cloudformation import models
    from moto.cloudformation.models import Change, ChangeSet, Stack

    check = Internals(PATCH)
    original = check.function(ChangeSet, "diff", "self")
    check.calls(ChangeSet.__init__, "self.diff()")
    check.function(Change, "__init__", "action", "logical_resource_id", "resource_type")
    check.instance_attributes(
        ChangeSet, "stack", "template_dict", "parameters", "change_set_type", "change_set_name"
    )
    check.instance_attributes(
        Stack, "template_dict", "parameters", "account_id", "region_name", "name", "resource_map"
    )
    check.attribute(models, "Change")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def diff(self) -> list:
        stack = self.stack
        first = self.change_set_type == "CREATE" or not stack.template_dict
        pseudo = {
            "AWS::Region": stack.region_name,
            "AWS::AccountId": stack.account_id,
            "AWS::StackName": stack.name,
            "AWS::StackId": stack.stack_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        parsed = getattr(stack.resource_map, "_parsed_resources", {}) or {}
        physical = {
            name: resource.physical_resource_id
            for name, resource in parsed.items()
            if isinstance(getattr(resource, "physical_resource_id", None), str)
        }
        try:
            found = resource_changes(
                {} if first else stack.template_dict,
                {} if first else dict(stack.parameters or {}),
                self.template_dict,
                dict(self.parameters or {}),
                pseudo,
                physical,
            )
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            # A template shape this emulation does not read: moto's own list, not a 500.
            logger.warning("change set %s: moto's changes (%r)", self.change_set_name, err)
            return original(self)
        changes = []
        for item in found:
            change = Change(item["Action"], item["LogicalResourceId"], item["ResourceType"])
            # Read by moto's serializer by the API's member names (snake_case).
            change.replacement = item.get("Replacement")
            change.scope = item.get("Scope")
            change.details = item.get("Details")
            change.physical_resource_id = item.get("PhysicalResourceId")
            changes.append(change)
        return changes

    ChangeSet.diff = mark(diff, PATCH)
