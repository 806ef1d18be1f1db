"""Checks of pipeline parameter values by what they mean, for a pipeline to opt into.

A pipeline module declares one rule per parameter and exports, next to `get_pipeline`,

    PARAMETER_RULES = {"MinRocAuc": between(0, 1), "InputDataUri": s3_uri(), ...}

    def validate_parameters(values: dict) -> None:
        validate(PARAMETER_RULES, values)

`run-pipeline` calls `validate_parameters` with the effective values (the defaults and the
overrides) before it upserts or starts anything, and reports a ParameterError as one line.
A rule returns None for a good value, or what is wrong with it, phrased to follow the
parameter's name: "must be between 0 and 1, got -0.5". The config loader reuses the rules.

Value lists SageMaker itself defines (instance types, approval statuses) come from botocore's
SageMaker service model, so they follow the installed botocore rather than a hand-typed copy.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping

import botocore.session

Rule = Callable[[object], str | None]

# s3://bucket/key: a bucket name as S3 names them (3-63 lower-case letters, digits, dots
# and hyphens, a letter or digit at each end) and a key that is not empty.
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")


class ParameterError(ValueError):
    """A parameter value breaks its rule; the message names the parameter and the value."""


@functools.cache
def sagemaker_enum(shape: str) -> tuple[str, ...]:
    """The values of enum `shape` in botocore's SageMaker service model, e.g.
    `sagemaker_enum("ModelApprovalStatus")`. Raises ValueError if the shape has no enum."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    values = model.shape_for(shape).enum
    if not values:
        raise ValueError(f"botocore's SageMaker model has no enum {shape!r}")
    return tuple(values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def between(low: float, high: float) -> Rule:
    """A number in [low, high], both ends included."""

    def rule(value: object) -> str | None:
        if _is_number(value) and low <= value <= high:
            return None
        return f"must be between {low:g} and {high:g}, got {value!r}"

    return rule


def one_of(values: Iterable[str]) -> Rule:
    """One of a short list of strings, all named in the message."""
    allowed = tuple(values)

    def rule(value: object) -> str | None:
        if value in allowed:
            return None
        return f"must be one of {', '.join(allowed)}, got {value!r}"

    return rule


def sagemaker_value(shape: str) -> Rule:
    """One of the values of SageMaker enum `shape` (too many to list: the message names the
    enum and the closest value)."""

    def rule(value: object) -> str | None:
        allowed = sagemaker_enum(shape)
        if value in allowed:
            return None
        problem = f"must be one of SageMaker's {shape} values, got {value!r}"
        guess = str(value) if str(value).startswith("ml.") else f"ml.{value}"
        close = difflib.get_close_matches(guess, allowed, n=1)
        return f"{problem} (did you mean {close[0]!r}?)" if close else problem

    return rule


def approval_status() -> Rule:
    """A model package approval status, as the registry spells them."""

    def rule(value: object) -> str | None:
        return one_of(sagemaker_enum("ModelApprovalStatus"))(value)

    return rule


def processing_instance_type() -> Rule:
    return sagemaker_value("ProcessingInstanceType")


def training_instance_type() -> Rule:
    return sagemaker_value("TrainingInstanceType")


def s3_uri() -> Rule:
    """s3://bucket/key, with a valid bucket name and a non-empty key."""

    def rule(value: object) -> str | None:
        if isinstance(value, str) and S3_URI.match(value):
            return None
        return f"must be an S3 URI s3://bucket/key, got {value!r}"

    return rule


def validate(rules: Mapping[str, Rule], values: Mapping[str, object]) -> None:
    """Check each value that has a rule; raises ParameterError naming the first bad one."""
    for name, rule in rules.items():
        if name in values:
            problem = rule(values[name])
            if problem:
                raise ParameterError(f"parameter {name!r} {problem}")
