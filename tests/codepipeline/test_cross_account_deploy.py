"""The deploy pipeline across accounts: with StagingAccountId/ProdAccountId set, each
CloudFormation deploy action runs as its stage account's deploy role and gives the stack
that account's CloudFormation role (codepipeline/stage-account.yml); without them (the
default) the actions are as they were, in this account."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.demo.codepipeline import pipeline_actions
from sandbox.demo.template import Template

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "codepipeline" / "model-deploy.yml"
STAGE_ACCOUNT = ROOT / "codepipeline" / "stage-account.yml"
STAGING, PROD = "222222222222", "333333333333"
BASE = {
    "SageMakerProjectName": "churn",
    "SageMakerProjectId": "p-1",
    "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
    "FullRepositoryId": "o/r",
}


def deploy_template(**accounts: str) -> Template:
    return Template(DEPLOY, {**BASE, **accounts}, lambda name: f"import:{name}")


def deploy_actions(template: Template) -> dict[str, dict]:
    """Each CloudFormation action by name, as the template resolves it (action-level keys too)."""
    _, pipeline = template.resource_of_type("AWS::CodePipeline::Pipeline")
    stages = template.resolve(pipeline["Properties"]["Stages"])
    return {
        a["Name"]: a
        for s in stages
        for a in s["Actions"]
        if a["ActionTypeId"]["Provider"] == "CloudFormation"
    }


def role_statements(template: Template, role: str) -> dict[str, dict]:
    """The role's policy statements by Sid, each resolved on its own (a conditional one
    only when its condition holds): the demo's resolver knows no Fn::GetAtt but role ARNs."""
    policy = template.resource(role)["Properties"]["Policies"][0]["PolicyDocument"]
    resolved = {}
    for raw in policy["Statement"]:
        if "Fn::If" in raw or "Sid" in raw and "GetAtt" not in str(raw):
            statement = template.resolve(raw)
            if isinstance(statement, dict):  # not removed by AWS::NoValue
                resolved[statement["Sid"]] = statement
    return resolved


def test_single_account_is_the_default_and_unchanged():
    template = deploy_template()
    actions = deploy_actions(template)
    assert set(actions) == {"DeployStaging", "DeployProd"}
    local_role = "arn:aws:iam::123456789012:role/CloudFormationRole"
    for action in actions.values():
        assert "RoleArn" not in action  # CodePipeline runs it as the pipeline's role
        assert action["Configuration"]["RoleArn"] == local_role
    assert "StageAccountDeployActions" not in role_statements(template, "PipelineRole")


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ({"StagingAccountId": STAGING, "ProdAccountId": PROD}, {"Staging": STAGING, "Prod": PROD}),
        ({"ProdAccountId": PROD}, {"Prod": PROD}),
    ],
)
def test_accounts_name_each_stage_roles_on_its_own_action(accounts, expected):
    template = deploy_template(**accounts)
    actions = deploy_actions(template)
    for stage in ("Staging", "Prod"):
        action = actions[f"Deploy{stage}"]
        if stage in expected:
            account = expected[stage]
            assert action["RoleArn"] == f"arn:aws:iam::{account}:role/churn-stage-deploy"
            assert action["Configuration"]["RoleArn"] == (
                f"arn:aws:iam::{account}:role/churn-stage-cloudformation"
            )
        else:
            assert "RoleArn" not in action
            assert action["Configuration"]["RoleArn"].endswith(":role/CloudFormationRole")
    # The pipeline may assume exactly those action roles.
    assumed = role_statements(template, "PipelineRole")["StageAccountDeployActions"]
    assert assumed["Action"] == "sts:AssumeRole"
    assert assumed["Resource"] == [
        f"arn:aws:iam::{a}:role/churn-stage-deploy" for a in expected.values()
    ]
    statements = role_statements(template, "TestProdRole")
    assert statements["AssumeProdDeployRole"]["Resource"] == (
        f"arn:aws:iam::{PROD}:role/churn-stage-deploy"
    )


def test_the_stage_account_has_the_roles_the_actions_name():
    """The names model-deploy.yml builds are the stage-account stack's roles; its deploy role
    may pass only its CloudFormation role, and trusts the extra tooling roles when given."""
    body = Template(STAGE_ACCOUNT, {}, lambda name: name).body["Resources"]
    assert body["DeployRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${SageMakerProjectName}-stage-deploy"
    }
    assert body["CloudFormationRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${SageMakerProjectName}-stage-cloudformation"
    }
    trust = body["CloudFormationRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "cloudformation.amazonaws.com"}]
    deploy_role = body["DeployRole"]["Properties"]
    statements = {s["Sid"]: s for s in deploy_role["Policies"][0]["PolicyDocument"]["Statement"]}
    assert statements["PassTheStackRole"]["Resource"] == {
        "Fn::GetAtt": ["CloudFormationRole", "Arn"]
    }
    trusted = deploy_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert trusted["Fn::If"][0] == "TrustMoreToolingRoles"
    assert trusted["Fn::If"][2] == {"Ref": "ToolingPipelineRoleArn"}  # the default: one role


def test_pipeline_actions_still_resolve_with_accounts():
    """The demo's reading of the pipeline (sandbox/demo/codepipeline.py) copes with the
    conditional action roles."""
    names = [a.name for a in pipeline_actions(deploy_template(ProdAccountId=PROD))]
    assert names[-2:] == ["DeployProd", "TestProd"]
