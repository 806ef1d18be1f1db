"""The deploy pipeline's trigger: the template's EventBridge rule, on the sandbox's bus.

On AWS the rule's target is the deploy CodePipeline. moto cannot start a CodePipeline, so
the sandbox gives the same rule (same pattern, read from the template) an SQS queue as its
target, and the demo starts the deploy pipeline when a matching event arrives there. Which
events match is decided by moto's EventBridge, not by the demo.
"""

from __future__ import annotations

import json
import time

from sandbox.demo.template import Template


class DeployTrigger:
    """The rule and its queue, named after the project (as a stack would name them)."""

    def __init__(self, template: Template, project: str, events, sqs):
        self.events, self.sqs = events, sqs
        self.rule_id, rule = template.resource_of_type("AWS::Events::Rule")
        self.pattern = template.resolve(rule["Properties"]["EventPattern"])
        self.rule_name = f"{project}-{self.rule_id}"
        queue = f"{project}-deploy-pipeline-trigger"
        self.queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        events.put_rule(Name=self.rule_name, EventPattern=json.dumps(self.pattern), State="ENABLED")
        events.put_targets(
            Rule=self.rule_name,
            Targets=[{"Id": "deploy-pipeline", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        self.drain()

    def drain(self) -> None:
        """Forget events that arrived before now (e.g. a package created Approved)."""
        while self._receive(wait_seconds=0):
            pass

    def wait(self, timeout: float = 20) -> dict | None:
        """The next event the rule matched, or None if none came within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self._receive(wait_seconds=1)
            if events:
                return events[0]
        return None

    def _receive(self, wait_seconds: int) -> list[dict]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds
        )
        events = []
        for message in answer.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            events.append(json.loads(message["Body"]))
        return events
