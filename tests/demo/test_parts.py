"""The demo's parts, each against real inputs: the templates, a buildspec run by bash, the
registry's state-change events through moto's EventBridge, the manual approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.demo import buildspec
from sandbox.demo.codepipeline import DeployPipelineRun, pipeline_actions
from sandbox.demo.lifecycle import DEPLOY_TEMPLATE
from sandbox.demo.progress import Progress, StageFailed, StageLog, failure_reason
from sandbox.demo.template import Template, TemplateError
from sandbox.demo.trigger import DeployTrigger

PARAMETERS = {
    "SageMakerProjectName": "churn",
    "SageMakerProjectId": "p-1",
    "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
    "FullRepositoryId": "owner/repo",
}


def deploy_template(imports=None) -> Template:
    return Template(DEPLOY_TEMPLATE, PARAMETERS, imports or (lambda name: f"<{name}>"))


def test_actions_are_the_templates_stages_in_order_with_values_resolved():
    actions = pipeline_actions(deploy_template())
    assert [(a.stage, a.provider) for a in actions] == [
        ("Source", "CodeStarSourceConnection"),
        ("Build", "CodeBuild"),
        ("DeployStaging", "CloudFormation"),
        ("TestStaging", "CodeBuild"),
        ("PreviewProd", "CodeBuild"),
        ("ApproveDeployment", "Manual"),
        ("DeployProd", "CloudFormation"),
        ("TestProd", "CodeBuild"),
    ]
    build, staging = actions[1], actions[2]
    assert build.configuration["ProjectName"] == "churn-modeldeploy"  # !Sub resolved
    assert build.namespace == "BuildVariables" and build.outputs == ("BuildArtifact",)
    assert staging.configuration["StackName"] == "churn-staging"
    assert staging.configuration["RoleArn"].endswith(":role/CloudFormationRole")


def test_imports_come_from_the_given_exports_and_unknown_functions_are_refused():
    exports = {"churn-artifact-bucket": "bkt", "churn-artifact-key": "key"}
    template = deploy_template(imports=lambda name: exports.get(name, "?"))
    project = template.resolve(template.resource("BuildProject")["Properties"])
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["ARTIFACT_BUCKET"] == "bkt"
    assert variables["SAGEMAKER_PROJECT_ARN"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:project/churn"
    )
    with pytest.raises(TemplateError, match="Fn::GetAtt BuildProject.Arn"):
        template.resolve({"Fn::GetAtt": ["BuildProject", "Arn"]})


def _log(tmp_path: Path) -> StageLog:
    return StageLog("Build", tmp_path / "build.log", out=open("/dev/null", "w"))  # noqa: SIM115


def test_buildspec_phase_shares_one_shell_exports_variables_and_collects_artifacts(tmp_path):
    spec = tmp_path / "src" / "buildspec.yml"
    spec.parent.mkdir()
    spec.write_text(
        "version: 0.2\n"
        "env:\n  variables:\n    OUT: result.txt\n    WHO: buildspec\n"
        "  exported-variables:\n    - ANSWER\n"
        "phases:\n  build:\n    commands:\n"
        "      - export ANSWER=42\n"
        '      - echo "$WHO $ANSWER $CODEBUILD_SRC_DIR_Other" > "$OUT"\n'
        "artifacts:\n  files:\n    - $OUT\n"
    )
    result = buildspec.run_build_phase(
        spec,
        spec.parent,
        {"WHO": "project"},
        {"Other": Path("/other")},
        {"PATH": "/usr/bin:/bin"},
        _log(tmp_path),
    )
    assert result.exported == {"ANSWER": "42"}
    assert [p.name for p in result.artifact_files] == ["result.txt"]
    # The project's variable wins over the buildspec's, as in CodeBuild.
    assert result.artifact_files[0].read_text() == "project 42 /other\n"


def test_a_failing_buildspec_command_fails_the_stage_with_its_error(tmp_path):
    spec = tmp_path / "buildspec.yml"
    spec.write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        """      - "echo 'error: no Approved package' >&2; exit 3"\n      - echo never\n"""
    )
    with pytest.raises(StageFailed) as failed:
        buildspec.run_build_phase(spec, tmp_path, {}, {}, {"PATH": "/usr/bin:/bin"}, _log(tmp_path))
    assert failed.value.reason == "error: no Approved package"
    assert "never" not in (tmp_path / "build.log").read_text().replace("echo never", "")


def test_a_buildspec_without_build_commands_is_refused_by_name(tmp_path):
    spec = tmp_path / "buildspec.yml"
    spec.write_text("version: 0.2\nphases:\n  install:\n    commands: [true]\n")
    with pytest.raises(buildspec.BuildspecError, match=r"buildspec.yml: no phases.build.commands"):
        buildspec.load(spec)


def _approval_only_template(tmp_path: Path) -> Template:
    path = tmp_path / "pipeline.yml"
    path.write_text(
        "Resources:\n  P:\n    Type: AWS::CodePipeline::Pipeline\n    Properties:\n"
        "      Stages:\n"
        "        - Name: ApproveDeployment\n          Actions:\n            - Name: Approve\n"
        "              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual,"
        " Version: '1'}\n"
        "              Configuration:\n"
        "                CustomData: 'Promote #{BuildVariables.MODEL_PACKAGE_ARN}?'\n"
        "        - Name: DeployProd\n          Actions:\n            - Name: Deploy\n"
        "              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation,"
        " Version: '1'}\n"
    )
    return Template(path, {}, lambda name: name)


def test_rejecting_the_manual_approval_stops_before_prod(tmp_path):
    asked = []
    run = DeployPipelineRun(
        template=_approval_only_template(tmp_path),
        workspace=tmp_path / "work",
        repo=tmp_path,
        environment={},
        progress=Progress(tmp_path / "logs", out=open("/dev/null", "w")),  # noqa: SIM115
        approve=lambda message: asked.append(message) or False,
        variables={"BuildVariables": {"MODEL_PACKAGE_ARN": "arn:pkg/3"}},
    )
    with pytest.raises(StageFailed, match="rejected at the manual approval"):
        run.run()
    assert asked == ["Promote arn:pkg/3?"]  # the Build action's variable, filled in
    assert run.stages_run == ["ApproveDeployment"]
    assert [t.status for t in run.progress.timings] == ["Rejected"]


def test_approving_or_rejecting_a_package_reaches_the_deploy_rule(sandbox):
    """The registry's events, through moto's EventBridge, filtered by the template's rule."""
    # moto's state is per process: a project of its own, apart from the demo tests' "churn".
    project = "eventstest"
    template = Template(DEPLOY_TEMPLATE, {**PARAMETERS, "SageMakerProjectName": project}, str)
    sagemaker = sandbox.client("sagemaker")
    trigger = DeployTrigger(template, project, sandbox.client("events"), sandbox.client("sqs"))
    sagemaker.create_model_package_group(ModelPackageGroupName=project)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=project,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    assert trigger.wait(timeout=1) is None  # created Pending: the rule does not match

    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    event = trigger.wait(timeout=5)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["detail"]["ModelPackageArn"] == arn
    assert event["detail"]["ModelApprovalStatus"] == "Approved"

    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="same status")
    assert trigger.wait(timeout=1) is None  # no status change, no event
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert trigger.wait(timeout=5)["detail"]["ModelApprovalStatus"] == "Rejected"
    json.dumps(event)  # what the queue carried is plain JSON


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            ["PASS in-service", "FAIL latency-p95: p95 784 ms", "churn-staging: FAILED"],
            "FAIL latency",
        ),
        (["Traceback (most recent call last):", '  File "x.py"', "KeyError: 'bucket'"], "KeyError"),
        (["deploy.py: An error occurred (ValidationError)"], "deploy.py: An error occurred"),
        (["all good", ""], "all good"),
        ([], "exited with status 3"),
    ],
)
def test_failure_reason_is_the_most_telling_line(output, reason):
    assert failure_reason(output, 3).startswith(reason)
