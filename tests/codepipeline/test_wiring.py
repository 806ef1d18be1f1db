"""The CI/CD wiring as code: templates lint clean, workflows pass actionlint, every script a
buildspec or workflow names exists and accepts its arguments, variables agree, IAM is
scoped, and the deploy pipeline has the stages the flow promises."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modeldeploy import build, deploy, preview, rollback
from modeldeploy.stage_config import _CfnLoader
from pipelines import get_pipeline_definition, run_pipeline
from pipelines.churn.environment import load_environment

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
TEMPLATES = sorted((ROOT / "codepipeline").glob("*.yml")) + [
    ROOT / "modeldeploy" / "endpoint-config-template.yml",
    ROOT / "modeldeploy" / "batch-transform-template.yml",
]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BUILDSPECS = {
    "buildspec.yml": ("model-build.yml", "ModelBuildProject"),
    "modeldeploy/buildspec.yml": ("model-deploy.yml", "BuildProject"),
    "modeldeploy/test/buildspec.yml": ("model-deploy.yml", "TestProject"),
    "modeldeploy/preview-buildspec.yml": ("model-deploy.yml", "PreviewProject"),
}
# Set by CodeBuild itself in every build.
CODEBUILD_VARIABLES = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "CODEBUILD_RESOLVED_SOURCE_VERSION",
    "CODEBUILD_BUILD_ID",
}


def template(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def _smoke_cli():
    spec = importlib.util.spec_from_file_location("smoke_cli", ROOT / "modeldeploy/test/test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PARSERS = {
    "run-pipeline": run_pipeline.parse_args,
    "get-pipeline-definition": get_pipeline_definition.parse_args,
    "modeldeploy/build.py": build.parse_args,
    "modeldeploy/deploy.py": deploy.parse_args,
    "modeldeploy/rollback.py": rollback.parse_args,
    "deploy-preview": preview.parse_args,
    "modeldeploy/test/test.py": lambda argv: _smoke_cli().parse_args(argv),
}


def test_templates_pass_cfn_lint():
    """Every template, in one cfn-lint process (starting one costs more than linting all):
    a finding names its file."""
    done = subprocess.run(
        [str(BIN / "cfn-lint"), *map(str, TEMPLATES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
    assert {p.name for p in TEMPLATES} >= {"foundation.yml", "endpoint-config-template.yml"}


def test_workflows_pass_actionlint():
    done = subprocess.run(
        [str(BIN / "actionlint"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "build.yml", "deploy.yml", "terraform.yml"}


def _commands(text: str) -> list[list[str]]:
    """Shell commands (as argv) of a buildspec or workflow `run:`, variables made dummies."""
    commands = []
    text = re.sub(r"\$\{\{[^}]*\}\}", "1", text)  # GitHub expressions
    text = re.sub(r'"\$\([^)]*\)"', "1", text)  # command substitutions
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "1", line.strip())
        if line and not line.startswith("#"):
            commands.append(shlex.split(line))
    return commands


def _invocations() -> list[tuple[str, list[str]]]:
    """Every call of a project script or console script in the buildspecs and workflows."""
    texts = []
    for buildspec in BUILDSPECS:
        phases = yaml.safe_load((ROOT / buildspec).read_text())["phases"]
        texts += [c for phase in phases.values() for c in phase.get("commands", [])]
    for workflow in WORKFLOWS:
        jobs = yaml.safe_load(workflow.read_text())["jobs"]
        texts += [s["run"] for job in jobs.values() for s in job["steps"] if "run" in s]
    found = []
    for text in texts:
        for argv in _commands(text):
            for i, word in enumerate(argv):
                name = word.removeprefix(".venv/bin/")
                if name == "python" and i + 1 < len(argv) and argv[i + 1].endswith(".py"):
                    found.append((argv[i + 1], argv[i + 2 :]))
                elif name in ("run-pipeline", "get-pipeline-definition", "deploy-preview"):
                    found.append((name, argv[i + 1 :]))
    return found


def test_every_named_script_exists_and_accepts_its_arguments():
    invocations = _invocations()
    assert {name for name, _ in invocations} >= set(PARSERS)
    for name, argv in invocations:
        if name.endswith(".py"):
            assert (ROOT / name).is_file(), name
        argv = argv[: argv.index("||")] if "||" in argv else argv  # `cmd || on-failure`
        argv = [a for a in argv if a not in ("|", "&&")]
        PARSERS[name](argv)  # argparse exits on an unknown or missing argument


def test_make_targets_named_in_workflows_exist():
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    for workflow in WORKFLOWS:
        for target in re.findall(r"\bmake ([a-z-]+)", workflow.read_text()):
            assert target in targets, (workflow.name, target)


@pytest.mark.parametrize("buildspec", sorted(BUILDSPECS))
def test_buildspec_variables_are_set_by_the_codebuild_project(buildspec):
    spec = yaml.safe_load((ROOT / buildspec).read_text())
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)\}?", (ROOT / buildspec).read_text()))
    stack, project = BUILDSPECS[buildspec]
    environment = template(ROOT / "codepipeline" / stack)["Resources"][project]["Properties"][
        "Environment"
    ]
    provided = {v["Name"] for v in environment.get("EnvironmentVariables", [])}
    provided |= set(spec.get("env", {}).get("variables", {}))
    provided |= set(spec.get("env", {}).get("exported-variables", []))
    provided |= set(re.findall(r"export ([A-Z][A-Z0-9_]*)=", (ROOT / buildspec).read_text()))
    missing = {
        v for v in used - provided - CODEBUILD_VARIABLES if not v.startswith("CODEBUILD_SRC_DIR")
    }
    assert not missing, f"{buildspec} uses unset variables: {sorted(missing)}"


# What Step Functions needs to deliver logs and traces (orchestration.yml); AWS defines
# these actions on no resource.
STATE_MACHINE_LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


def _statements(node):
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_iam_has_no_wildcard_actions(path):
    for statement in _statements(template(path)["Resources"]):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert "*" not in actions, (path.name, statement)
        # In a key policy (foundation.yml's ArtifactKey), "*" is the key itself.
        key_policy = statement.get("Sid") in ("AccountAdministers", "StageAccountsUseArtifacts")
        if statement.get("Resource") == "*" and not key_policy:
            # Only actions that AWS defines on no resource may use "*" (ECR auth, image pulls,
            # a state machine's log delivery and X-Ray traces).
            assert all(not a.endswith(":*") for a in actions), (path.name, statement)
            assert set(actions) <= {
                "ecr:GetAuthorizationToken",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                *STATE_MACHINE_LOG_DELIVERY,
            }, (path.name, statement)


def test_oidc_trust_is_limited_by_sub_to_this_repository():
    role = template(ROOT / "codepipeline/github-oidc.yml")["Resources"]["GitHubDeployRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    subjects = trust["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects and all(s.startswith("repo:${GitHubRepository}:") for s in subjects)
    assert trust["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
    }


def test_deploy_pipeline_stages_and_triggers():
    resources = template(ROOT / "codepipeline/model-deploy.yml")["Resources"]
    pipeline = resources["ModelDeployPipeline"]["Properties"]
    assert [s["Name"] for s in pipeline["Stages"]] == [
        "Source",
        "Build",
        "DeployStaging",
        "TestStaging",
        "PreviewProd",
        "ApproveDeployment",
        "DeployProd",
        "TestProd",
    ]
    assert pipeline["PipelineType"] == "V2" and pipeline["ExecutionMode"] == "QUEUED"
    staging = pipeline["Stages"][2]["Actions"][0]["Configuration"]
    assert staging["ActionMode"] == "REPLACE_ON_FAILURE"
    approval = pipeline["Stages"][5]["Actions"][0]["Configuration"]["CustomData"]
    assert "#{BuildVariables.MODEL_PACKAGE_ARN}" in approval
    assert "#{BuildVariables.MODEL_METRICS}" in approval
    # TestProd: the same buildspec as its own project (STAGE=prod) and role, which may
    # restore prod after a failed smoke test; TestStaging's may not.
    test_prod = pipeline["Stages"][7]["Actions"][0]["Configuration"]
    assert test_prod["ProjectName"] == "TestProdProject"  # (the loader reads !Ref as its name)
    prod_project = resources["TestProdProject"]["Properties"]
    assert prod_project["Source"]["BuildSpec"] == "modeldeploy/test/buildspec.yml"
    assert prod_project["ServiceRole"] == "TestProdRole.Arn"
    assert {"Name": "STAGE", "Value": "prod"} in prod_project["Environment"]["EnvironmentVariables"]
    granted = {
        action
        for statement in _statements(resources["CodeBuildRole"])
        for action in statement["Action"]
        if isinstance(statement["Action"], list)
    }
    assert not granted & {"sagemaker:UpdateModelPackage", "cloudformation:ExecuteChangeSet"}
    rule = resources["ModelPackageStateChangeRule"]["Properties"]["EventPattern"]
    assert rule["detail-type"] == ["SageMaker Model Package State Change"]
    # Approvals deploy unless the orchestration stack owns deployment; rejections roll back.
    # (The loader reads !If as its plain argument.)
    assert rule["detail"]["ModelApprovalStatus"] == [
        "DeployOnApproval",
        ["Approved", "Rejected"],
        ["Rejected"],
    ]


def test_build_pipeline_triggers_on_modelbuild_changes_and_schedule():
    resources = template(ROOT / "codepipeline/model-build.yml")
    trigger = resources["Resources"]["ModelBuildPipeline"]["Properties"]["Triggers"][0]
    assert trigger["GitConfiguration"]["Push"][0]["FilePaths"]["Includes"][0] == "modelbuild/**"
    default = resources["Parameters"]["RetrainingSchedule"]["Default"]
    assert default == load_environment("prod").retraining_schedule
