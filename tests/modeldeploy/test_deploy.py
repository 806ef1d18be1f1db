"""deploy.py's failure path: a stack that rolls back names its failed resources."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from modeldeploy.deploy import StackDeployer
from modeldeploy.errors import DeployError


def test_rolled_back_update_names_the_failing_resource():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cloudformation)
    stack = {"StackName": "s", "StackStatus": "UPDATE_COMPLETE", "CreationTime": datetime.now(UTC)}
    stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "s"})
    stubber.add_response(
        "create_change_set",
        {"Id": "cs"},
        {
            "StackName": "s",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "TemplateBody": "{}",
            "Parameters": [],
            "Tags": [],
            "Capabilities": ANY,
        },
    )
    stubber.add_response(
        "describe_change_set",
        {
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "Endpoint",
                        "ResourceType": "AWS::SageMaker::Endpoint",
                    },
                }
            ],
        },
        {"StackName": "s", "ChangeSetName": ANY},
    )
    stubber.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "s"})
    stubber.add_response("execute_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
    failed_event = {
        "StackName": "s",
        "StackId": "id",
        "EventId": "e1",
        "Timestamp": datetime.now(UTC),
        "LogicalResourceId": "Endpoint",
        "ResourceStatus": "UPDATE_FAILED",
        "ResourceStatusReason": "Failed to deploy: alarm ModelLatency in ALARM",
    }
    stubber.add_response(
        "describe_stack_events", {"StackEvents": [failed_event]}, {"StackName": "s"}
    )
    rolled_back = {**stack, "StackStatus": "UPDATE_ROLLBACK_COMPLETE"}
    stubber.add_response("describe_stacks", {"Stacks": [rolled_back]}, {"StackName": "s"})
    for _ in range(2):
        stubber.add_response(
            "describe_stack_events", {"StackEvents": [failed_event]}, {"StackName": "s"}
        )
    lines: list[str] = []
    with stubber, pytest.raises(DeployError) as error:
        StackDeployer(cloudformation, "s", emit=lines.append, poll_seconds=0).deploy(
            "{}", {"Parameters": {}, "Tags": {}}, timeout=5
        )
    assert "s ended UPDATE_ROLLBACK_COMPLETE" in str(error.value)
    assert "Endpoint: Failed to deploy: alarm ModelLatency in ALARM" in str(error.value)
    assert any("UPDATE_FAILED" in line for line in lines)
