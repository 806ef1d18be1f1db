"""The whole definition in moto's Step Functions interpreter: it parses (intrinsics, paths,
Catch routes), and a task that fails notifies the topic, whose subscriber gets the error,
then ends in the Fail state with its Cause. (The Lambda handlers themselves run in the
sandbox's Lambda runtime; here the function only hands its event back.)"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.conftest import REGION

ASL = Path(__file__).resolve().parents[2] / "orchestration" / "state_machine.asl.json"


@pytest.fixture(name="clients")
def fixture_clients(executing_moto):
    return {
        name: boto3.client(name, region_name=REGION)
        for name in ("stepfunctions", "sns", "sqs", "lambda", "iam")
    }


def test_a_failing_task_notifies_then_fails_with_the_cause(clients):
    sns, sqs, iam = clients["sns"], clients["sqs"], clients["iam"]
    topic = sns.create_topic(Name="lifecycle")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    role = iam.create_role(RoleName="states", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("echo.py", "def handler(event, context):\n    return event\n")
    function = clients["lambda"].create_function(
        FunctionName="not-a-validator",
        Runtime="python3.12",
        Role=role,
        Handler="echo.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    values = {
        "NotificationTopicArn": topic,
        "PipelinePollSeconds": "1",
        "ChampionTolerance": "0.01",
    }
    definition = re.sub(
        r"\$\{([A-Za-z]+)\}",
        lambda m: values.get(m.group(1), function if m.group(1).endswith("Arn") else m.group(1)),
        ASL.read_text(),
    )
    sfn = clients["stepfunctions"]
    machine = sfn.create_state_machine(name="lifecycle", definition=definition, roleArn=role)
    arn = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        name="run-1",
        input=json.dumps({"InputDataUri": "s3://bucket/data/churn.csv"}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    # ValidateData's answer lacks the report's fields: an unexpected error, caught.
    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrchestrationError"
    assert execution["cause"].startswith("An unexpected error stopped the execution")
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert entered == ["Configure", "ValidateData", "NotifyError", "OrchestrationError"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    text = json.loads(message["Body"])["Message"]
    assert text.startswith(f"Execution {arn}: an unexpected error stopped it: States.Runtime ")
    assert "$.Payload.rows" in text
