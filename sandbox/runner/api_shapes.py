"""Answers in the types the SageMaker API gives them.

A step's request is resolved from the definition with typed pipeline parameters, so a
value can be an int or a float where the API has a string: HyperParameters above all,
which AWS returns as a map of strings. `conform` walks an answer along botocore's model of
the operation's output and gives every scalar its modelled type; what the model does not
name is left as it is (the runner keeps extra properties for expressions).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import Shape


@functools.cache
def _output_shape(operation: str) -> Shape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model(operation).output_shape


def conform(operation: str, answer: dict) -> dict:
    """`answer` with the types of `operation`'s output (e.g. "DescribeTrainingJob")."""
    return _conform(_output_shape(operation), answer)


def _conform(shape: Shape, value: Any) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _conform(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_conform(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {str(k): _conform(shape.value, v) for k, v in value.items()}
    if kind == "string":
        return _string(value)
    if kind in ("integer", "long") and isinstance(value, int | float | str):
        return int(value)
    if kind in ("float", "double") and isinstance(value, int | float | str):
        return float(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    return value


def as_text(value: Any) -> str:
    """A value as the API writes it in a string field: a Boolean as a pipeline renders a
    Boolean parameter ("true"/"false"), nothing as ""."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _string(value: Any) -> Any:
    return as_text(value) if isinstance(value, bool | int | float) else value
