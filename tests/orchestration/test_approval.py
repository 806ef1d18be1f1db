"""`approve` / `reject` against moto's Step Functions, which really runs the state machine's
RequestApproval state (sns:publish.waitForTaskToken) and resumes on the token they send."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from orchestration.approval_cli import approve_main, reject_main
from tests.conftest import REGION

ASL = Path(__file__).resolve().parents[2] / "orchestration" / "state_machine.asl.json"
ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"  # well-formed, for argument checks
# Stand-ins for what follows RequestApproval: where each answer leads is what is checked.
STAND_INS = {
    "Deploy": {"Type": "Succeed"},
    "NotifyApprovalRejected": {"Type": "Fail", "Error": "Rejected", "Cause": "stand-in"},
    "NotifyApprovalTimedOut": {"Type": "Fail", "Error": "TimedOut", "Cause": "stand-in"},
    "NotifyError": {"Type": "Fail", "Error": "Error", "Cause": "stand-in"},
}


@pytest.fixture(name="sfn")
def fixture_sfn(executing_moto):
    return boto3.client("stepfunctions", region_name=REGION)


def approval_machine(sfn, topic: str, timeout_seconds: int = 86400) -> str:
    """A state machine of the real RequestApproval state, after a task that has ended (as
    the real ones before it have) and stand-ins for what follows."""
    text = ASL.read_text().replace("${NotificationTopicArn}", topic)
    request = json.loads(text)["States"]["RequestApproval"]
    request["TimeoutSeconds"] = timeout_seconds
    earlier_task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic, "Message": "a task before the approval"},
        "ResultPath": None,
        "Next": "RequestApproval",
    }
    definition = {
        "StartAt": "EarlierTask",
        "States": {"EarlierTask": earlier_task, "RequestApproval": request, **STAND_INS},
    }
    return sfn.create_state_machine(
        name=f"approval-{timeout_seconds}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]


@pytest.fixture(name="world")
def fixture_world(sfn, sagemaker_client):
    """A pending package and a state machine that asks about it."""
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="lifecycle")["TopicArn"]
    sagemaker_client.create_model_package_group(ModelPackageGroupName="g")
    package = sagemaker_client.create_model_package(
        ModelPackageGroupName="g",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return {"topic": topic, "package": package, "machine": approval_machine(sfn, topic)}


def start(sfn, machine: str, package: str, name: str) -> str:
    state = {
        "approval": {"subject": "Approve?", "message": "New model v1.\n"},
        "gate": {"verdict": {"candidate": {"model_package_arn": package}}},
    }
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(state))[
        "executionArn"
    ]
    wait_for(sfn, arn, lambda events: any(e["type"] == "TaskSubmitted" for e in events))
    return arn


def wait_for(sfn, arn: str, done, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=arn)["events"]
        if done(events):
            return events
        time.sleep(0.1)
    raise TimeoutError(arn)


def finished(sfn, arn: str) -> dict:
    wait_for(sfn, arn, lambda _: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
    return sfn.describe_execution(executionArn=arn)


def status(sagemaker, package: str) -> tuple[str, str | None]:
    described = sagemaker.describe_model_package(ModelPackageName=package)
    return described["ModelApprovalStatus"], described.get("ApprovalDescription")


def test_approve_marks_the_package_and_resumes_the_execution_to_deploy(
    world, sfn, sagemaker_client, capsys
):
    arn = start(sfn, world["machine"], world["package"], "first")
    code = approve_main(["--execution-arn", arn, "--reason", "beats the champion", "--by", "ana"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(f"approved {world['package']}; execution {arn}")
    assert status(sagemaker_client, world["package"]) == ("Approved", "beats the champion")
    execution = finished(sfn, arn)
    assert execution["status"] == "SUCCEEDED"  # it went on to Deploy
    decision = json.loads(execution["output"])["decision"]
    assert decision == {
        "decision": "approved",
        "reason": "beats the champion",
        "approved_by": "ana",
        "model_package_arn": world["package"],
    }


def test_reject_finds_the_one_waiting_execution_and_stops_it_before_deploy(
    world, sfn, sagemaker_client, capsys
):
    arn = start(sfn, world["machine"], world["package"], "second")
    assert reject_main(["--state-machine-arn", world["machine"], "--reason", "bad export"]) == 0
    assert status(sagemaker_client, world["package"]) == ("Rejected", "bad export")
    execution = finished(sfn, arn)
    assert execution["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    [failed] = [e for e in events if e["type"] == "TaskFailed"]
    assert failed["taskFailedEventDetails"]["error"] == "ModelRejected"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert "NotifyApprovalRejected" in entered and "Deploy" not in entered


def test_two_waiting_executions_need_a_name(world, sfn, sagemaker_client, capsys):
    start(sfn, world["machine"], world["package"], "one")
    two = start(sfn, world["machine"], world["package"], "two")
    assert approve_main(["--state-machine-arn", world["machine"]]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 executions wait for approval (one, two)" in err
    assert status(sagemaker_client, world["package"])[0] == "PendingManualApproval"
    assert approve_main(["--state-machine-arn", world["machine"], "--execution", "two"]) == 0
    assert finished(sfn, two)["status"] == "SUCCEEDED"


def test_an_answered_execution_is_not_answered_twice(world, sfn, sagemaker_client, capsys):
    arn = start(sfn, world["machine"], world["package"], "once")
    assert approve_main(["--execution-arn", arn]) == 0
    finished(sfn, arn)
    capsys.readouterr()
    assert reject_main(["--execution-arn", arn, "--reason", "too late"]) == 1
    assert capsys.readouterr().err == f"reject: execution {arn} is not waiting for approval\n"
    assert status(sagemaker_client, world["package"])[0] == "Approved"


def test_a_timeout_leaves_the_package_pending_and_nothing_to_answer(
    world, sfn, sagemaker_client, capsys
):
    machine = approval_machine(sfn, world["topic"], timeout_seconds=1)
    arn = start(sfn, machine, world["package"], "late")
    execution = finished(sfn, arn)
    assert execution["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert any(e["type"] == "TaskTimedOut" for e in events)
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert "NotifyApprovalTimedOut" in entered and "Deploy" not in entered
    assert approve_main(["--execution-arn", arn]) == 1
    assert status(sagemaker_client, world["package"])[0] == "PendingManualApproval"


@pytest.mark.parametrize(
    ("main", "argv", "message"),
    [
        (approve_main, [], "give --execution-arn, or --state-machine-arn"),
        (approve_main, ["--execution", "x"], "--execution NAME needs --state-machine-arn"),
        (
            approve_main,
            ["--state-machine-arn", "arn:aws:sns:x", "--execution", "x"],
            "not a state machine ARN",
        ),
        (approve_main, ["--execution-arn", ARN, "--reason", " "], "--reason must not be empty"),
        (reject_main, ["--execution-arn", ARN, "--reason", "x" * 1025], "at most 1024"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(main, argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--execution-arn", ARN],  # reject needs a reason
        ["--execution-arn", "a", "--state-machine-arn", "b", "--reason", "r"],
        ["--execution-arn", "churn-run-1", "--reason", "r"],  # a name, not an ARN
    ],
)
def test_argparse_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        reject_main(argv)
    assert info.value.code == 2


def test_unknown_execution_is_one_line_and_exit_1(sfn, capsys):
    arn = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    assert approve_main(["--execution-arn", arn]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("approve: An error occurred (ExecutionDoesNotExist)")
