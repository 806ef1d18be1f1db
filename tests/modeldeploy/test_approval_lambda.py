"""The deploy Lambda (modeldeploy/approval_lambda.py) against the sandbox: an approval event
deploys the group's newest Approved package to the staging stack, as build.py + deploy.py
do; anything else is ignored; a package that cannot be smoke-tested is not deployed."""

from __future__ import annotations

import json

import boto3
import pytest

from modeldeploy import approval_lambda
from modeldeploy.errors import ConfigError, DeployError
from sandbox.constants import DEFAULT_BUCKET

ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"


class Context:
    """What Lambda passes as `context` (the handler reads only the time left)."""

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def approval(group: str, status: str = "Approved") -> dict:
    """SageMaker's event, as EventBridge delivers it to the function."""
    return {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status},
    }


@pytest.fixture(name="settings")
def fixture_settings(registry, monkeypatch, request) -> dict[str, str]:
    """The function's environment for a project named after the test, with a topic whose
    messages land in a queue the test reads."""
    project = "lambda-" + request.node.name.removeprefix("test_")[:24].replace("_", "-").strip("-")
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"{project}-deployments")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{project}-deployments")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    values = {
        "MODEL_PACKAGE_GROUP_NAME": f"{project}-group",
        "MODEL_EXECUTION_ROLE_ARN": ROLE,
        "ARTIFACT_BUCKET": DEFAULT_BUCKET,
        "SAGEMAKER_PROJECT_NAME": project,
        "SAGEMAKER_PROJECT_ID": "p-lambda",
        "STAGING_STACK_NAME": f"{project}-staging",
        "DEPLOYMENTS_TOPIC_ARN": topic,
        "QUEUE_URL": queue,  # the test's, not the function's
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _stack_parameters(stack: str) -> dict[str, str]:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}


def _staging_stacks() -> list[str]:
    return [s["StackName"] for s in boto3.client("cloudformation").list_stacks()["StackSummaries"]]


def _messages(queue: str) -> list[dict]:
    received = boto3.client("sqs").receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return [json.loads(m["Body"]) for m in received.get("Messages", [])]


def test_an_approval_deploys_the_newest_approved_package_to_staging(registry, settings):
    group = settings["MODEL_PACKAGE_GROUP_NAME"]
    registry.register(group)
    newest_approved = registry.register(group)
    registry.register(group, status="PendingManualApproval")  # newer, but not approved

    result = approval_lambda.handler(approval(group), Context())

    assert result["package"] == newest_approved
    assert result["outcome"] == "created"
    assert result["stack"] == settings["STAGING_STACK_NAME"]
    parameters = _stack_parameters(settings["STAGING_STACK_NAME"])
    assert parameters["ModelPackageName"] == newest_approved
    assert parameters["StageName"] == "staging"
    assert parameters["ModelExecutionRoleArn"] == ROLE
    assert parameters["DataCaptureUploadPath"] == f"s3://{DEFAULT_BUCKET}/datacapture-staging"
    endpoint = registry.sagemaker.describe_endpoint(
        EndpointName=f"{settings['SAGEMAKER_PROJECT_NAME']}-staging"
    )
    assert endpoint["EndpointStatus"] == "InService"
    assert _messages(settings["QUEUE_URL"]) == [result]

    # The same approval again (EventBridge delivers at least once): nothing to change.
    assert approval_lambda.handler(approval(group), Context())["outcome"] == "unchanged"


@pytest.mark.parametrize(
    "event",
    [
        approval("some-other-group"),
        approval("{group}", status="Rejected"),
        {"detail-type": "Scheduled Event", "detail": {}},
    ],
    ids=["another-group", "rejected", "another-event"],
)
def test_anything_but_an_approval_in_the_group_is_ignored(registry, settings, event):
    group = settings["MODEL_PACKAGE_GROUP_NAME"]
    registry.register(group)
    event = json.loads(json.dumps(event).replace("{group}", group))

    assert approval_lambda.handler(event, Context()) == {"outcome": "ignored"}
    assert settings["STAGING_STACK_NAME"] not in _staging_stacks()


def test_a_package_without_an_inference_contract_is_not_deployed(registry, settings):
    group = settings["MODEL_PACKAGE_GROUP_NAME"]
    registry.register(group, contract=None)

    with pytest.raises(DeployError, match="contract"):
        approval_lambda.handler(approval(group), Context())
    assert settings["STAGING_STACK_NAME"] not in _staging_stacks()
    assert _messages(settings["QUEUE_URL"]) == []


def test_missing_settings_are_named(monkeypatch):
    for name in approval_lambda.REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", "g")
    with pytest.raises(ConfigError) as raised:
        approval_lambda.handler(approval("g"), Context())
    message = str(raised.value)
    assert "MODEL_EXECUTION_ROLE_ARN" in message and "STAGING_STACK_NAME" in message
    assert "MODEL_PACKAGE_GROUP_NAME" not in message


def test_the_topic_is_optional(registry, settings, monkeypatch):
    monkeypatch.delenv("DEPLOYMENTS_TOPIC_ARN")
    group = settings["MODEL_PACKAGE_GROUP_NAME"]
    package = registry.register(group)
    assert approval_lambda.handler(approval(group), Context())["package"] == package
    assert _messages(settings["QUEUE_URL"]) == []
