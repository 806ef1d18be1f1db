"""`python -m sandbox fire-schedule NAME`: an EventBridge Scheduler schedule fired now.

The sandbox keeps no clock for schedules (a cron schedule would fire once a day at best):
a schedule fires on demand, and delivers its Target as EventBridge Scheduler does at the
scheduled time. A templated target (a SageMaker pipeline, a Lambda function, a state
machine, an SQS queue, an SNS topic) gets its service's call (sandbox/targets.py) with the
target's Input; a universal target, `arn:aws:scheduler:::aws-sdk:<service>:<action>`,
makes that API call with the Input JSON as its parameters. Scheduler's context attributes
(`<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`,
`<aws.scheduler.execution-id>`, `<aws.scheduler.attempt-number>`) are filled in the Input.
"""

from __future__ import annotations

import datetime
import json
import uuid

from botocore import xform_name
from botocore.exceptions import ClientError

from sandbox import targets
from sandbox.targets import ClientFactory

UNIVERSAL_PREFIX = "arn:aws:scheduler:::aws-sdk:"
# The SDK names a universal target uses where boto3's differ.
BOTO3_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}


class ScheduleError(Exception):
    """The schedule cannot fire (missing, disabled, a target the sandbox cannot reach)."""


def fire(client: ClientFactory, name: str, group: str = "default") -> str:
    """Deliver schedule `name`'s target now; returns what it started (an ARN, an id, or
    the universal call's answer as JSON). Raises ScheduleError, or the call's ClientError."""
    try:
        schedule = client("scheduler").get_schedule(Name=name, GroupName=group)
    except ClientError as err:
        raise ScheduleError(f"schedule {name!r} (group {group!r}): {_message(err)}") from err
    if schedule.get("State") == "DISABLED":
        raise ScheduleError(f"schedule {name!r} (group {group!r}) is DISABLED: it does not fire")
    target = schedule["Target"]
    payload = _with_context(target.get("Input") or "{}", schedule)
    if target["Arn"].startswith(UNIVERSAL_PREFIX):
        return _universal(client, target["Arn"], payload)
    try:
        return targets.deliver(target, payload, client)
    except targets.UnsupportedTarget as err:
        raise ScheduleError(f"schedule {name!r}: {err}") from err


def _with_context(payload: str, schedule: dict) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    context = {
        "aws.scheduler.schedule-arn": schedule["Arn"],
        "aws.scheduler.scheduled-time": now,
        "aws.scheduler.execution-id": str(uuid.uuid4()),
        "aws.scheduler.attempt-number": "1",
    }
    for name, value in context.items():
        payload = payload.replace(f"<{name}>", value)
    return payload


def _universal(client: ClientFactory, arn: str, payload: str) -> str:
    service, _, action = arn[len(UNIVERSAL_PREFIX) :].partition(":")
    boto3_service = BOTO3_NAMES.get(service, service)
    try:
        api = client(boto3_service)
    except Exception as err:  # botocore's UnknownServiceError and kin
        raise ScheduleError(f"target {arn!r}: unknown service {service!r}") from err
    operation = action[:1].upper() + action[1:]
    if operation not in api.meta.service_model.operation_names:
        raise ScheduleError(f"target {arn!r}: {service} has no action {action!r}")
    try:
        parameters = json.loads(payload)
    except ValueError as err:
        raise ScheduleError(f"target {arn!r}: Input is not JSON: {err}") from err
    answer = getattr(api, xform_name(operation))(**parameters)
    answer.pop("ResponseMetadata", None)
    started = [v for k, v in answer.items() if k.endswith("Arn") and isinstance(v, str)]
    return started[0] if len(started) == 1 else json.dumps(answer, default=str)


def _message(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Message") or str(err)
