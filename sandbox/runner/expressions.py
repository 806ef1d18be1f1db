"""Resolve the expressions of a pipeline definition: Get, Std:Join, Std:JsonGet, conditions.

A value in the definition is either a literal or one of these JSON forms, exactly as SDK v3
emits them:

    {"Get": "Parameters.Name" | "Execution.Var" | "Steps.Step.Path" | "Steps.S.PropertyFiles.F"}
    {"Std:Join": {"On": sep, "Values": [...]}}
    {"Std:JsonGet": {"PropertyFile": {"Get": ...}, "Path": "a.b[0].c"}}   (or "S3Uri")
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ExpressionError(ValueError):
    """A reference that does not resolve; the message names it."""


@dataclass
class Context:
    """What expressions resolve against during one execution."""

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    # Step name -> its properties (the Describe*Job-shaped dict the step produced).
    properties: dict[str, dict] = field(default_factory=dict)
    # Step name -> property file name -> parsed JSON.
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    read_s3_json: Callable[[str], Any] | None = None


_TOKEN = re.compile(r"([A-Za-z0-9_]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[(\d+)\]")


def _tokens(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    for name, single, double, index in _TOKEN.findall(path):
        if index:
            tokens.append(int(index))
        else:
            tokens.append(name or single or double)
    return tokens


def walk(value: Any, path: str, what: str) -> Any:
    """Follow `A.B['key'][0].C` into nested dicts/lists.

    A string key into a list picks the element whose *Name field equals it, which is how
    SageMaker properties address e.g. `Outputs['train']` (by OutputName).
    """
    for token in _tokens(path):
        if isinstance(value, list) and isinstance(token, str):
            matches = [
                item
                for item in value
                if isinstance(item, dict)
                and token in {v for k, v in item.items() if k.endswith("Name")}
            ]
            if not matches:
                raise ExpressionError(f"{what}: no element named {token!r}")
            value = matches[0]
        elif isinstance(value, list) and isinstance(token, int):
            if token >= len(value):
                raise ExpressionError(f"{what}: index {token} out of range")
            value = value[token]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        else:
            raise ExpressionError(f"{what}: {token!r} not found")
    return value


def _get(reference: str, context: Context) -> Any:
    kind, _, rest = reference.partition(".")
    if kind == "Parameters":
        if rest not in context.parameters:
            raise ExpressionError(f"unknown parameter in Get {reference!r}")
        return context.parameters[rest]
    if kind == "Execution":
        if rest not in context.execution:
            raise ExpressionError(f"unknown execution variable in Get {reference!r}")
        return context.execution[rest]
    if kind == "Steps":
        step, _, path = rest.partition(".")
        if path.startswith("PropertyFiles."):
            name = path.split(".", 1)[1]
            try:
                return context.property_files[step][name]
            except KeyError:
                raise ExpressionError(f"property file {reference!r} is not available") from None
        if step not in context.properties:
            raise ExpressionError(f"step {step!r} in Get {reference!r} has not run")
        return walk(context.properties[step], path, f"Get {reference!r}")
    raise ExpressionError(f"unsupported Get {reference!r}")


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def resolve(value: Any, context: Context) -> Any:
    """Return `value` with every expression in it replaced by its value."""
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return _get(value["Get"], context)
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return join["On"].join(_to_text(resolve(v, context)) for v in join["Values"])
    if set(value) == {"Std:JsonGet"}:
        return _json_get(value["Std:JsonGet"], context)
    return {key: resolve(item, context) for key, item in value.items()}


def _json_get(spec: dict, context: Context) -> Any:
    path = spec["Path"]
    if "PropertyFile" in spec:
        source = spec["PropertyFile"]
        document = resolve(source, context) if isinstance(source, dict) else source
    elif "S3Uri" in spec:
        if context.read_s3_json is None:
            raise ExpressionError("Std:JsonGet on an S3Uri needs S3 access")
        document = context.read_s3_json(resolve(spec["S3Uri"], context))
    else:
        raise ExpressionError(f"Std:JsonGet needs PropertyFile or S3Uri: {json.dumps(spec)}")
    return walk(document, path, f"JsonGet {path!r}")


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Compare numbers as numbers even when one side arrived as text (JsonGet, parameters)."""
    if isinstance(left, int | float) != isinstance(right, int | float):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            pass
    return left, right


def evaluate_condition(condition: dict, context: Context) -> bool:
    """Evaluate one condition of a ConditionStep (every type SDK v3 emits)."""
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left, right = _comparable(
            resolve(condition["LeftValue"], context), resolve(condition["RightValue"], context)
        )
        return _COMPARISONS[kind](left, right)
    if kind == "In":
        query = resolve(condition["QueryValue"], context)
        values = [resolve(v, context) for v in condition["Values"]]
        return any(_COMPARISONS["Equals"](*_comparable(query, v)) for v in values)
    if kind == "Not":
        return not evaluate_condition(condition["Condition"], context)
    if kind == "Or":
        return any(evaluate_condition(c, context) for c in condition["Conditions"])
    raise ExpressionError(f"unsupported condition type {kind!r}")


def evaluate_conditions(conditions: list[dict], context: Context) -> bool:
    """A ConditionStep's conditions are ANDed."""
    return all(evaluate_condition(c, context) for c in conditions)
