"""One owner of deployment (codepipeline/model-deploy.yml's DeployOnApproval): with the
orchestration stack on ("false"), approving a package in the registry no longer starts the
deploy pipeline (the state machine's Deploy state deploys it), while a rejection still does
(the rollback). The rule's pattern is the template's, resolved as CloudFormation resolves it;
the events are the sandbox registry's own, matched by its EventBridge."""

from __future__ import annotations

import pytest

from sandbox.demo.lifecycle import DEPLOY_TEMPLATE
from sandbox.demo.template import Template
from sandbox.demo.trigger import DeployTrigger

PARAMETERS = {
    "SageMakerProjectName": "unused",
    "SageMakerProjectId": "p-test",
    "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
    "FullRepositoryId": "local/working-tree",
}


def _no_imports(name: str) -> str:
    raise AssertionError(f"the rule's pattern imports nothing, asked for {name}")


def _package(sagemaker, group: str) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


@pytest.mark.parametrize(
    ("deploy_on_approval", "approval_starts_it"), [("true", True), ("false", False)]
)
def test_an_approval_starts_the_deploy_pipeline_only_when_it_owns_deployment(
    sandbox, deploy_on_approval, approval_starts_it
):
    group = f"ownership-{deploy_on_approval}"
    template = Template(
        DEPLOY_TEMPLATE,
        {**PARAMETERS, "SageMakerProjectName": group, "DeployOnApproval": deploy_on_approval},
        _no_imports,
    )
    trigger = DeployTrigger(template, group, sandbox.client("events"), sandbox.client("sqs"))
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    approved, rejected = _package(sagemaker, group), _package(sagemaker, group)
    trigger.drain()

    sagemaker.update_model_package(ModelPackageArn=approved, ModelApprovalStatus="Approved")
    event = trigger.wait(timeout=3 if not approval_starts_it else 20)
    assert (event is not None) == approval_starts_it, event

    sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    event = trigger.wait()
    assert event is not None and event["detail"]["ModelApprovalStatus"] == "Rejected"


def test_the_default_keeps_deploying_on_approval():
    template = Template(DEPLOY_TEMPLATE, PARAMETERS, _no_imports)
    assert template.condition("DeployOnApproval")
    rule = template.resolve(
        template.resource("ModelPackageStateChangeRule")["Properties"]["EventPattern"]
    )
    assert rule["detail"]["ModelApprovalStatus"] == ["Approved", "Rejected"]
