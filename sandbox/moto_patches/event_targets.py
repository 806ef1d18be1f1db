"""EventBridge rules deliver to Lambda, Step Functions, SageMaker pipeline and SNS targets.

AWS: an event that matches an enabled rule goes to each of its targets, shaped by the
target's `Input` (a constant), `InputPath` or `InputTransformer`, else the event itself:
a Lambda function is invoked asynchronously with it, a state machine starts an execution
with it as input, a SageMaker pipeline starts an execution with the target's
`SageMakerPipelineParameters`, an SNS topic gets the event published. A disabled rule
delivers nothing. moto delivers to log groups, archives, SQS queues and event buses only,
raises NotImplementedError for any other target (PutEvents then fails, and the rule's other
targets get nothing; S3's events are silently lost), and ignores the rule's state. The
patch delivers those four kinds (through sandbox/targets.py, after the call
that caused the event has returned, as AWS does) and leaves moto's own kinds to moto.
Events S3 sends (a bucket with EventBridge notifications on) and those the sandbox sends
(registry_events) take the same path.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import re
import uuid

from sandbox import orchestration_services, targets
from sandbox.moto_patches import Internals, applied, mark

PATCH = "event_targets"
DELIVERED_HERE = ("lambda", "states", "sagemaker", "sns")  # the services moto cannot deliver to
PLACEHOLDER = re.compile(r"<([^<>\s]+)>")


def apply() -> None:
    from moto.events.models import Rule

    check = Internals(PATCH)
    original = check.function(Rule, "send_to_targets", "self", "original_event", "transform_input")
    check.instance_attributes(Rule, "targets", "state", "event_pattern", "name", "arn")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def send_to_targets(self, original_event, transform_input=True):
        if self.state == "DISABLED":
            return
        ours = [t for t in self.targets if _delivered_here(t)]
        if len(ours) < len(self.targets):
            theirs = copy.copy(self)  # moto's delivery, without the targets it cannot reach
            theirs.targets = [t for t in self.targets if not _delivered_here(t)]
            original(theirs, original_event, transform_input)
        running = orchestration_services.current()
        if not ours or running is None or not self.event_pattern.matches_event(original_event):
            return
        event = _as_delivered(original_event)
        for target in ours:

            def deliver(target=target, rule=self):
                targets.deliver(target, _target_payload(target, event, rule), running.client)

            running.background(deliver, f"rule {self.name} -> {target['Arn']}")

    Rule.send_to_targets = mark(send_to_targets, PATCH)


def _delivered_here(target: dict) -> bool:
    parts = target.get("Arn", "").split(":")
    return len(parts) > 2 and parts[2] in DELIVERED_HERE


def _as_delivered(event: dict) -> dict:
    """The event as a target receives it: an id, an ISO time, no moto bookkeeping."""
    delivered = {k: v for k, v in event.items() if k != "ingestion-time"}
    delivered["id"] = delivered.get("id") or str(uuid.uuid4())
    when = delivered.get("time")
    if isinstance(when, int | float):
        delivered["time"] = datetime.datetime.fromtimestamp(when, tz=datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return delivered


def _target_payload(target: dict, event: dict, rule) -> str:
    """What the target receives (JSON text): Input, InputPath, InputTransformer, else the
    event."""
    if target.get("Input"):
        return target["Input"]
    if target.get("InputPath"):
        found = _path(target["InputPath"], event)
        return json.dumps(found[0] if found else None)
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, event, rule)
    return json.dumps(event)


def _path(expression: str, event: dict) -> list:
    from jsonpath_ng.ext import parse

    return [match.value for match in parse(expression).find(event)]


def _transform(transformer: dict, event: dict, rule) -> str:
    """An InputTransformer's template, filled as EventBridge fills it: a placeholder inside
    a JSON string takes the value's text, one outside any string its JSON; a path that
    matches nothing gives null (nothing, inside a string)."""
    values = {"aws.events.event": event, "aws.events.event.json": event}
    values["aws.events.rule-name"] = rule.name
    values["aws.events.rule-arn"] = rule.arn
    values["aws.events.event.ingestion-time"] = event.get("time")
    for name, expression in transformer.get("InputPathsMap", {}).items():
        found = _path(expression, event)
        values[name] = found[0] if found else None
    template = transformer.get("InputTemplate", "")
    filled, last = [], 0
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        value = values[name]
        if _inside_string(template, match.start()):
            text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
            replacement = json.dumps(text)[1:-1]
        else:
            replacement = json.dumps(value)
        filled += [template[last : match.start()], replacement]
        last = match.end()
    return "".join([*filled, template[last:]])


def _inside_string(template: str, position: int) -> bool:
    """Whether `position` lies inside a JSON string of `template` (unescaped quotes before
    it are odd in number)."""
    inside, escaped = False, False
    for character in template[:position]:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == '"':
            inside = not inside
    return inside
