"""The moto patches the deploy half's failure handling needs, through boto3 against the
sandbox: ContinueUpdateRollback (modeldeploy/rollback.py) and the Number-parameter check
of CreateChangeSet/CreateStack. Their breaks are in BREAKS, for test_moto_patches."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from sandbox.constants import ACCOUNT_ID, REGION

TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
COUNTED = json.dumps(
    {
        "Parameters": {"Count": {"Type": "Number"}, "Name": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
)


def stuck_in_failed_rollback(stack_name: str) -> None:
    """Put a sandbox stack in UPDATE_ROLLBACK_FAILED, the state AWS leaves a stack in when
    an update's rollback fails (nothing in moto fails a rollback)."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[ACCOUNT_ID][REGION]
    stack = next(s for s in backend.stacks.values() if s.name == stack_name)
    stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason="injected")
    stack.status = "UPDATE_ROLLBACK_FAILED"


def _break_continue_update_rollback(monkeypatch):
    from moto.cloudformation.models import Stack

    monkeypatch.delattr(Stack, "_add_stack_event")
    return "Stack._add_stack_event does not exist"


def _break_number_parameters(monkeypatch):
    from moto.cloudformation.models import Stack

    monkeypatch.delattr(Stack, "parse_template")
    return "Stack.parse_template does not exist"


BREAKS = {
    "continue_update_rollback": _break_continue_update_rollback,
    "number_parameters": _break_number_parameters,
}


def test_continue_update_rollback_completes_a_failed_rollback(sandbox):
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(StackName="stuck-rollback", TemplateBody=TEMPLATE)
    stuck_in_failed_rollback("stuck-rollback")
    cloudformation.continue_update_rollback(StackName="stuck-rollback")
    stack = cloudformation.describe_stacks(StackName="stuck-rollback")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"


def test_continue_update_rollback_refuses_a_stack_that_did_not_fail(sandbox):
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(StackName="not-stuck", TemplateBody=TEMPLATE)
    with pytest.raises(ClientError) as refused:
        cloudformation.continue_update_rollback(StackName="not-stuck")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "CREATE_COMPLETE state and can not be continued" in str(refused.value)


def _parameters(count: str) -> list[dict]:
    return [
        {"ParameterKey": "Count", "ParameterValue": count},
        {"ParameterKey": "Name", "ParameterValue": "abc"},
    ]


def test_a_number_parameter_that_is_not_a_number_is_refused_and_nothing_made(sandbox):
    cloudformation = sandbox.client("cloudformation")
    with pytest.raises(ClientError) as refused:
        cloudformation.create_change_set(
            StackName="not-a-number",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=COUNTED,
            Parameters=_parameters("abc"),
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"] == "Parameter 'Count' must be a number."
    with pytest.raises(ClientError, match="must be a number"):
        cloudformation.create_stack(
            StackName="not-a-number", TemplateBody=COUNTED, Parameters=_parameters("abc")
        )
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName="not-a-number")


def test_a_number_parameter_that_is_a_number_still_deploys(sandbox):
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(
        StackName="a-number", TemplateBody=COUNTED, Parameters=_parameters("2")
    )
    stack = cloudformation.describe_stacks(StackName="a-number")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
