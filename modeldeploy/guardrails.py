"""The deployment-guardrail rules that join several stage-config parameters.

The template's own rules (AllowedValues, MinValue, ...) check one parameter at a time; a
SageMaker blue/green update also refuses combinations (and some are legal but pointless).
`check_guardrails` applies those to a stage config's parameters, the template's defaults
filling what the config leaves out, and raises ConfigError with one line naming the file
and parameters.
"""

from __future__ import annotations

import math

from modeldeploy.errors import ConfigError

SHIFTING = ("CANARY", "LINEAR")
# SageMaker's limit for a linear step (a canary may be smaller: 1 % upward).
LINEAR_STEP_MIN_PERCENT = 10


def effective(parameters: dict[str, str], rules: dict[str, dict]) -> dict[str, str]:
    """The parameters as CloudFormation resolves them: the template's defaults, then the
    config's values."""
    defaults = {n: str(r["Default"]) for n, r in rules.items() if "Default" in r}
    return {**defaults, **parameters}


def deployment_seconds(values: dict[str, str]) -> float:
    """How long a healthy update takes at most: every shift's baking period, then the wait
    before the old fleet is terminated."""
    kind = values["TrafficRoutingType"]
    wait = float(values["WaitIntervalInSeconds"])
    step = float(values["TrafficShiftPercent"])
    shifts = {"ALL_AT_ONCE": 1, "CANARY": 2, "LINEAR": math.ceil(100 / step)}[kind]
    return shifts * wait + float(values["TerminationWaitInSeconds"])


def check_guardrails(parameters: dict[str, str], rules: dict[str, dict], source: str) -> None:
    """Raise ConfigError when the deployment settings cannot work together. A template
    without the guardrail parameters (another stack deployed by deploy.py) passes."""
    if "TrafficRoutingType" not in rules:
        return
    values = effective(parameters, rules)
    kind = values["TrafficRoutingType"]
    if kind == "LINEAR" and float(values["TrafficShiftPercent"]) < LINEAR_STEP_MIN_PERCENT:
        raise ConfigError(
            f"{source}: parameter TrafficShiftPercent={values['TrafficShiftPercent']} is below "
            f"{LINEAR_STEP_MIN_PERCENT}, the smallest LINEAR step SageMaker takes"
        )
    if kind in SHIFTING and values["RollbackAlarmsEnabled"] != "true":
        raise ConfigError(
            f"{source}: parameter TrafficRoutingType={kind} needs RollbackAlarmsEnabled=true "
            "(a shifted share that no alarm watches can never roll back)"
        )
    needed = deployment_seconds(values)
    timeout = values["MaximumExecutionTimeoutInSeconds"]
    if needed >= float(timeout):
        raise ConfigError(
            f"{source}: parameter MaximumExecutionTimeoutInSeconds={timeout} is not above "
            f"the {needed:.0f} s a {kind} deployment bakes for (WaitIntervalInSeconds per "
            "shift + TerminationWaitInSeconds): every deployment would roll back"
        )


def rolled_back(sagemaker, endpoint: str, already_said: str = "") -> str | None:
    """When the last update of `endpoint` was rolled back by its deployment guardrails, a
    sentence saying so (and why, unless `already_said` has the reason) and what it serves
    now; None otherwise, or when the endpoint cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    from modeldeploy.smoke import served_package

    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        reason = described.get("FailureReason")
        if described["EndpointStatus"] != "InService" or not reason:
            return None
        serving = served_package(sagemaker, described)
    except (ClientError, BotoCoreError, KeyError, IndexError):
        return None
    why = "" if reason in already_said else f" ({reason})"
    return (
        f"endpoint {endpoint} was rolled back by its deployment guardrails{why}; it serves "
        f"{described['EndpointConfigName']} ({serving or 'no model package'}) again"
    )
