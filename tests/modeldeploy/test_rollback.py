"""rollback.py recovers a stage from any state a deploy can leave it in, and ends with the
previous Approved package serving (smoke-tested), the rolled-back one Rejected."""

from __future__ import annotations

import json

import boto3

from modeldeploy.deploy import StackDeployer
from modeldeploy.smoke import served_package
from modeldeploy.stage_config import TEMPLATE
from sandbox.constants import ACCOUNT_ID, REGION
from tests.sandbox.test_deploy_patches import stuck_in_failed_rollback

MISSING_PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/99"


def _serving(registry, endpoint: str) -> str:
    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    return served_package(registry.sagemaker, described)


def _status(registry, arn: str) -> str:
    return registry.sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def _prod(flow, package: str) -> tuple[StackDeployer, str, dict]:
    """A deployer for the prod stack, with no guard in front (what the old deploy.py did,
    or what a killed deploy leaves), and the prod config serving `package`. The template
    is the endpoint template without its DeploymentConfig, as it was before deployment
    guardrails: an update switches the endpoint at once, so a broken package reaches it
    (a guarded update never lets one take traffic)."""
    config = json.loads(flow.path("prod-config-export.json").read_text())
    config["Parameters"]["ModelPackageName"] = package
    stack = f"{flow.project}-prod"
    deployer = StackDeployer(
        boto3.client("cloudformation"), stack, emit=lambda _: None, poll_seconds=0
    )
    text = TEMPLATE.read_text()
    start = text.index("      DeploymentConfig:")
    unguarded = text[:start] + text[text.index("      Tags:", start) :]
    return deployer, unguarded, config


def _set_stack_status(stack_name: str, status: str) -> None:
    """Put a sandbox stack in a failed state moto never reaches by itself."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[ACCOUNT_ID][REGION]
    next(s for s in backend.stacks.values() if s.name == stack_name).status = status


def _invokes(registry, endpoint: str) -> bool:
    sample = registry.churn_contract["sample"][0]
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint,
        Body=json.dumps({"instances": [sample]}),
        ContentType="application/json",
    )
    return len(json.loads(answer["Body"].read())["predictions"]) == 1


def _pending(stack: str) -> list[str]:
    summaries = boto3.client("cloudformation").list_change_sets(StackName=stack)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s["ExecutionStatus"] != "EXECUTE_COMPLETE"]


def test_an_endpoint_serving_a_package_that_does_not_exist(registry, flow, capsys):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    missing = MISSING_PACKAGE.format(group=flow.group)
    deployer, template, config = _prod(flow, missing)
    assert deployer.deploy(template, config, timeout=10) == "updated"  # InService, serves nothing
    assert flow.rollback("prod") == 0
    out = capsys.readouterr().out
    assert f"Did not reject (already Rejected or gone) {missing}" in out
    assert f"{flow.project}-prod now serves {good} (smoke test passed)" in out
    assert _serving(registry, f"{flow.project}-prod") == good
    assert _invokes(registry, f"{flow.project}-prod")


def test_an_endpoint_whose_model_does_not_load(registry, flow):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    broken = registry.register(flow.group, broken=True)
    deployer, template, config = _prod(flow, broken)
    deployer.deploy(template, config, timeout=10)
    assert flow.rollback("prod") == 0
    assert _serving(registry, f"{flow.project}-prod") == good
    assert _status(registry, broken) == "Rejected"
    assert _invokes(registry, f"{flow.project}-prod")


def test_a_change_set_a_killed_deploy_left(registry, flow):
    first = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    second = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    stack = f"{flow.project}-prod"
    _, template, config = _prod(flow, first)
    boto3.client("cloudformation").create_change_set(
        StackName=stack,
        ChangeSetName="deploy-killed",
        ChangeSetType="UPDATE",
        TemplateBody=template,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in config["Parameters"].items()
        ],
    )
    assert flow.rollback("prod") == 0
    assert _pending(stack) == []
    assert _serving(registry, stack) == first
    assert _status(registry, second) == "Rejected"


def test_a_stack_whose_update_rollback_failed(registry, flow):
    first = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    second = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    stack = f"{flow.project}-prod"
    stuck_in_failed_rollback(stack)
    assert flow.rollback("prod") == 0
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert _serving(registry, stack) == first
    assert _status(registry, second) == "Rejected"


def _never_finished_creating(registry, flow, status: str) -> None:
    first = registry.register(flow.group)
    second = registry.register(flow.group)
    assert flow.build() == 0
    deployer, template, config = _prod(flow, second)
    if status == "REVIEW_IN_PROGRESS":  # a first deploy killed before it executed
        boto3.client("cloudformation").create_change_set(
            StackName=deployer.stack_name,
            ChangeSetName="deploy-killed",
            ChangeSetType="CREATE",
            TemplateBody=template,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in config["Parameters"].items()
            ],
        )
    else:  # a first deploy whose create failed and rolled back
        deployer.deploy(template, config, timeout=10)
        _set_stack_status(deployer.stack_name, status)
    assert flow.rollback("prod") == 0
    assert _serving(registry, deployer.stack_name) == first
    assert _status(registry, second) == "Rejected"
    assert _pending(deployer.stack_name) == []
    assert _invokes(registry, deployer.stack_name)


def test_create_rolled_back_stack(registry, flow):
    _never_finished_creating(registry, flow, "ROLLBACK_COMPLETE")


def test_review_in_progress_stack(registry, flow):
    _never_finished_creating(registry, flow, "REVIEW_IN_PROGRESS")


def test_nothing_to_roll_back_to_changes_nothing(registry, flow, capsys):
    only = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    capsys.readouterr()
    assert flow.rollback("prod") == 1
    assert "no other Approved package" in capsys.readouterr().err
    assert _status(registry, only) == "Approved"
    assert _serving(registry, f"{flow.project}-prod") == only
