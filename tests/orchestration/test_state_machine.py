"""orchestration/state_machine.asl.json: the shape every path must have, checked by
structure and by cfn-lint's Amazon States Language schema (rule E3601)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "orchestration" / "state_machine.asl.json"
TEMPLATE = ROOT / "codepipeline" / "orchestration.yml"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
NOTIFY = "arn:aws:states:::sns:publish"


@pytest.fixture(name="machine", scope="module")
def fixture_machine() -> dict:
    return json.loads(ASL.read_text())


def tasks(machine: dict) -> dict[str, dict]:
    return {n: s for n, s in machine["States"].items() if s["Type"] == "Task"}


def successors(state: dict) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    return found + ([state["Default"]] if "Default" in state else [])


def test_every_next_target_exists_and_every_state_is_reachable(machine):
    states = machine["States"]
    assert machine["StartAt"] in states
    for name, state in states.items():
        for target in successors(state):
            assert target in states, (name, target)
    reached, queue = set(), [machine["StartAt"]]
    while queue:
        name = queue.pop()
        if name not in reached:
            reached.add(name)
            queue.extend(successors(states[name]))
    assert reached == set(states)


def test_the_happy_path(machine):
    path, name = [], machine["StartAt"]
    happy = {"PipelineStatus": "ChampionGate", "ChampionVerdict": "FormatApprovalRequest"}
    while name:
        path.append(name)
        state = machine["States"][name]
        name = happy.get(name, state.get("Next"))
    assert path == [
        "Configure",
        "ValidateData",
        "StartPipeline",
        "WaitForPipeline",
        "DescribePipeline",
        "PipelineStatus",
        "ChampionGate",
        "ChampionVerdict",
        "FormatApprovalRequest",
        "RequestApproval",
        "Deploy",
        "Deployed",
    ]


def test_every_task_has_retry_then_catch_keeping_its_input(machine):
    for name, state in tasks(machine).items():
        keys = list(state)
        assert "Retry" in keys and "Catch" in keys, name
        assert keys.index("Retry") < keys.index("Catch"), name
        for retry in state["Retry"]:
            # Retrying every error would retry a person's rejection or bad data too.
            assert "States.ALL" not in retry["ErrorEquals"], name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        for catch in state["Catch"]:
            assert catch["ResultPath"] != "$", name  # the input survives for the message
        assert state.get("ResultPath") != "$", name


def test_every_catch_notifies_then_fails_with_a_cause(machine):
    states = machine["States"]
    for name, state in tasks(machine).items():
        for catch in state["Catch"]:
            handler = states[catch["Next"]]
            if state["Resource"] == NOTIFY:  # a notification that failed: stop right there
                assert handler["Type"] == "Fail", name
                continue
            assert handler["Resource"] == NOTIFY, (name, catch["Next"])
            assert handler["Parameters"]["TopicArn"] == "${NotificationTopicArn}"
            fail = states[handler["Next"]]
            assert fail["Type"] == "Fail", (name, handler["Next"])
            assert len(fail["Cause"]) > 60 and fail["Error"], handler["Next"]


def test_choices_that_stop_notify_then_fail(machine):
    states = machine["States"]
    for name in ("PipelineStatus", "ChampionVerdict"):
        notify = states[states[name]["Default"]]
        assert notify["Resource"] == NOTIFY and states[notify["Next"]]["Type"] == "Fail", name


def test_fail_states_are_distinct_and_only_reached_through_a_notification(machine):
    states = machine["States"]
    fails = {n for n, s in states.items() if s["Type"] == "Fail"}
    assert fails == {
        "DataInvalid",
        "PipelineFailed",
        "ChampionRegression",
        "ApprovalRejected",
        "ApprovalFailed",
        "DeployFailed",
        "OrchestrationError",
    }
    assert len({states[f]["Error"] for f in fails}) == len(fails)
    for name, state in states.items():
        if state.get("Resource") != NOTIFY:
            assert not set(successors(state)) & fails, name


def test_data_validation_failure_is_caught_by_name_before_anything_is_trained(machine):
    validate = machine["States"]["ValidateData"]
    assert (
        machine["StartAt"] == "Configure"
        and machine["States"]["Configure"]["Next"] == "ValidateData"
    )
    assert validate["Catch"][0] == {
        "ErrorEquals": ["DataValidationError"],
        "ResultPath": "$.error",
        "Next": "NotifyDataInvalid",
    }
    assert validate["Next"] == "StartPipeline"


def test_pipeline_is_started_then_polled(machine):
    states = machine["States"]
    assert states["StartPipeline"]["Resource"].endswith(":aws-sdk:sagemaker:startPipelineExecution")
    assert states["DescribePipeline"]["Resource"].endswith(
        ":aws-sdk:sagemaker:describePipelineExecution"
    )
    [succeeded, running] = states["PipelineStatus"]["Choices"]
    assert succeeded["StringEquals"] == "Succeeded" and succeeded["Next"] == "ChampionGate"
    assert {c["StringEquals"] for c in running["Or"]} == {"Executing", "Stopping"}
    assert running["Next"] == "WaitForPipeline"


def test_approval_waits_24_hours_for_a_token_and_routes_each_answer(machine):
    request = machine["States"]["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert request["TimeoutSeconds"] == 86400
    attributes = request["Parameters"]["MessageAttributes"]
    assert attributes["TaskToken"]["StringValue.$"] == "$$.Task.Token"
    assert "$$.Task.Token" in request["Parameters"]["Message.$"]
    routes = {tuple(c["ErrorEquals"]): c["Next"] for c in request["Catch"]}
    assert routes[("ModelRejected",)] == "NotifyApprovalRejected"
    assert routes[("States.Timeout",)] == "NotifyApprovalTimedOut"
    assert machine["States"]["NotifyApprovalTimedOut"]["Next"] == "ApprovalFailed"
    assert request["Next"] == "Deploy"


def test_deploy_gets_the_approved_package_as_a_registry_approval_event(machine):
    payload = machine["States"]["Deploy"]["Parameters"]["Payload"]
    assert payload["detail-type"] == "SageMaker Model Package State Change"
    assert payload["detail"]["ModelApprovalStatus"] == "Approved"
    assert payload["detail"]["ModelPackageArn.$"] == "$.gate.verdict.candidate.model_package_arn"


def _template() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(TEMPLATE.read_text(), Loader=Loader)


def test_placeholders_are_exactly_the_template_substitutions():
    """Terraform's templatefile() fails on an unknown ${...} and CloudFormation leaves one
    unreplaced: the file's placeholders and the template's substitutions must be one set."""
    used = set(PLACEHOLDER.findall(ASL.read_text()))
    machine = _template()["Resources"]["StateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == used
    assert machine["DefinitionS3Location"] == "../orchestration/state_machine.asl.json"
    text = ASL.read_text()
    assert "%{" not in text  # a templatefile() directive
    assert "${" not in PLACEHOLDER.sub("", text)  # nothing Terraform would read as one


def test_cfn_lint_validates_the_definition_against_the_states_language_schema(machine):
    """cfn-lint's E3601 (the ASL JSON schema) on the definition, inlined into a template
    with its placeholders filled as CloudFormation would fill them."""
    from cfnlint.api import lint_all

    filled = PLACEHOLDER.sub(_sample_value, ASL.read_text())
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/states",
                    "Definition": json.loads(filled),
                },
            }
        },
    }
    matches = lint_all(json.dumps(template))
    assert [str(m) for m in matches if m.rule.id[0] in "EW"] == []


def test_cfn_lint_would_catch_a_broken_definition(machine):
    """The check above can fail: a Task without Resource breaks the schema."""
    from cfnlint.api import lint_all

    broken = json.loads(PLACEHOLDER.sub(_sample_value, ASL.read_text()))
    del broken["States"]["Deploy"]["Resource"]
    template = {
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::1:role/r", "Definition": broken},
            }
        }
    }
    assert any(m.rule.id == "E3601" for m in lint_all(json.dumps(template)))


def _sample_value(match: re.Match) -> str:
    name = match.group(1)
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return {
        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:lifecycle",
        "PipelinePollSeconds": "60",
        "ChampionTolerance": "0.01",
        "DataContract": "churn-v1",
    }.get(name, name)
