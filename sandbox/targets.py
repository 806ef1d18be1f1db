"""Deliver to an EventBridge rule's or a Scheduler schedule's target, as those services do.

Both name a target the same way (an `Arn` and per-service parameters) and deliver it with
the target service's own API call: Lambda is invoked asynchronously, a state machine gets
StartExecution, a SageMaker pipeline StartPipelineExecution with the target's
`SageMakerPipelineParameters`, an SQS queue SendMessage, an SNS topic Publish. The calls go
through the sandbox's endpoint, so what a call starts runs as it would after a client's
call (a pipeline execution runs its steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ClientFactory = Callable[[str], Any]  # service name -> a boto3 client for the sandbox


class UnsupportedTarget(ValueError):
    """A target whose service the sandbox does not deliver to."""


def deliver(target: dict, payload: str, client: ClientFactory) -> str:
    """Make the call `target` names with `payload` (the input, as JSON text); returns what
    it started (an ARN or id). Raises UnsupportedTarget, or the call's ClientError."""
    arn = target["Arn"]
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise UnsupportedTarget(f"target {arn!r} is not an ARN")
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "lambda":
        answer = client("lambda").invoke(
            FunctionName=arn, InvocationType="Event", Payload=payload.encode("utf-8")
        )
        request = answer.get("ResponseMetadata", {}).get("RequestId", "")
        return f"{arn} (asynchronous invocation {request})"
    if service == "states" and resource.startswith("stateMachine:"):
        return client("stepfunctions").start_execution(stateMachineArn=arn, input=payload)[
            "executionArn"
        ]
    if service == "sagemaker" and resource.startswith("pipeline/"):
        parameters = target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])
        return client("sagemaker").start_pipeline_execution(
            PipelineName=resource.split("/", 1)[1], PipelineParameters=parameters
        )["PipelineExecutionArn"]
    if service == "sqs":
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
        extra = {}
        group = target.get("SqsParameters", {}).get("MessageGroupId")
        if group:
            extra["MessageGroupId"] = group
        return sqs.send_message(QueueUrl=url, MessageBody=payload, **extra)["MessageId"]
    if service == "sns":
        return client("sns").publish(TopicArn=arn, Message=payload)["MessageId"]
    raise UnsupportedTarget(f"target {arn!r}: the sandbox does not deliver to {service}")
