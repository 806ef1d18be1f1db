"""sandbox/moto_patches: each patch's AWS behaviour through boto3 against the sandbox, and
each patch's check of moto's internals failing loudly when what it relies on is gone."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from sandbox import moto_patches
from sandbox.moto_patches import MotoInternalsChanged
from tests.sandbox.test_account_patches import BREAKS as ACCOUNT_BREAKS
from tests.sandbox.test_deploy_patches import BREAKS as DEPLOY_BREAKS
from tests.sandbox.test_guardrails import BREAKS as GUARDRAIL_BREAKS
from tests.sandbox.test_orchestration_services import BREAKS as ORCHESTRATION_BREAKS
from tests.sandbox.test_preview_patches import BREAKS as PREVIEW_BREAKS
from tests.sandbox.test_terraform_patches import BREAKS as TERRAFORM_BREAKS
from tests.sandbox.test_transform_service import BREAKS as BATCH_BREAKS

ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
# Model -> EndpointConfig -> Endpoint, as the deploy template chains them.
TEMPLATE = json.dumps(
    {
        "Parameters": {"ModelDataUrl": {"Type": "String"}, "EndpointName": {"Type": "String"}},
        "Resources": {
            "Model": {
                "Type": "AWS::SageMaker::Model",
                "Properties": {
                    "ExecutionRoleArn": ROLE,
                    "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": {"Ref": "ModelDataUrl"}},
                },
            },
            "EndpointConfig": {
                "Type": "AWS::SageMaker::EndpointConfig",
                "Properties": {
                    "ProductionVariants": [
                        {
                            "VariantName": "AllTraffic",
                            "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                            "InitialInstanceCount": 1,
                            "InstanceType": "ml.m5.large",
                        }
                    ]
                },
            },
            "Endpoint": {
                "Type": "AWS::SageMaker::Endpoint",
                "Properties": {
                    "EndpointName": {"Ref": "EndpointName"},
                    "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]},
                },
            },
        },
        "Outputs": {
            "ModelDataUrl": {
                "Value": {"Ref": "ModelDataUrl"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-model-data-url"}},
            }
        },
    }
)


def _update_change_set(cloudformation, stack: str, change_set: str, model_data_url: str) -> None:
    """An UPDATE change set of TEMPLATE for `stack`, serving `model_data_url`."""
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=change_set,
        ChangeSetType="UPDATE",
        TemplateBody=TEMPLATE,
        Parameters=_parameters(f"{stack}-ep", model_data_url),
    )


def _parameters(endpoint: str, model_data_url: str) -> list[dict[str, str]]:
    return [
        {"ParameterKey": "EndpointName", "ParameterValue": endpoint},
        {"ParameterKey": "ModelDataUrl", "ParameterValue": model_data_url},
    ]


@pytest.fixture(name="stack")
def fixture_stack(sandbox, request):
    """A stack of TEMPLATE named after the test (moto's state lives as long as the session),
    serving s3://models/a.tar.gz; yields (cloudformation client, stack name)."""
    cloudformation = sandbox.client("cloudformation")
    name = "motopatch-" + re.sub(r"[^a-zA-Z0-9]", "-", request.node.name)[5:40].strip("-")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE,
        Parameters=_parameters(f"{name}-ep", "s3://models/a.tar.gz"),
    )
    yield cloudformation, name
    cloudformation.delete_stack(StackName=name)


def _served_model_data_url(sagemaker, endpoint: str) -> str:
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variant = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    model = sagemaker.describe_model(ModelName=variant["ProductionVariants"][0]["ModelName"])
    return model["PrimaryContainer"]["ModelDataUrl"]


# --- each patch's AWS behaviour ----------------------------------------------------------


YAML_TEMPLATE = """
Parameters:
  EndpointName: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${EndpointName}-alerts"
Outputs:
  TopicArn: {Value: !Ref Topic}
  Name: {Value: !GetAtt Topic.TopicName}
"""


def test_template_parsing_reads_cloudformation_yaml_once_with_the_same_result(sandbox):
    import yaml
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import yaml_tag_constructor

    from sandbox.moto_patches import template_parsing

    yaml.add_multi_constructor("", yaml_tag_constructor)
    moto_own = yaml.load(YAML_TEMPLATE, Loader=yaml.Loader)  # noqa: S506 — as moto parses
    before = template_parsing._parsed.cache_info()
    parsed = Stack.parse_template(YAML_TEMPLATE)
    assert parsed == moto_own
    parsed["Resources"].clear()  # what moto does to its copy stays there
    assert Stack.parse_template(YAML_TEMPLATE) == moto_own
    after = template_parsing._parsed.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)

    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(
        StackName="motopatch-yaml",
        TemplateBody=YAML_TEMPLATE,
        Parameters=[{"ParameterKey": "EndpointName", "ParameterValue": "churn"}],
    )
    outputs = cloudformation.describe_stacks(StackName="motopatch-yaml")["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs}["Name"] == "churn-alerts"
    cloudformation.delete_stack(StackName="motopatch-yaml")


def test_endpoint_name_names_the_stacks_endpoint(sandbox, stack):
    _, name = stack
    listed = sandbox.client("sagemaker").list_endpoints(NameContains=name)["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [f"{name}-ep"]  # not <stack>-Endpoint-<id>


def test_update_model_package_keeps_the_fields_it_is_not_given(sandbox):
    sagemaker = sandbox.client("sagemaker")
    group = "motopatch-update-model-package"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"git-sha": "abc123"},
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://models/a.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]

    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="looks good")
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"git-sha": "abc123"}
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "looks good"


def test_stack_update_cascade_moves_the_endpoint_to_the_new_model(sandbox, stack):
    cloudformation, name = stack
    sagemaker = sandbox.client("sagemaker")
    assert _served_model_data_url(sagemaker, f"{name}-ep") == "s3://models/a.tar.gz"
    cloudformation.update_stack(
        StackName=name,
        TemplateBody=TEMPLATE,
        Parameters=_parameters(f"{name}-ep", "s3://models/b.tar.gz"),
    )
    # Only the Model's parameter changed; its EndpointConfig and Endpoint follow it.
    assert _served_model_data_url(sagemaker, f"{name}-ep") == "s3://models/b.tar.gz"


def test_change_set_apply_sets_parameters_outputs_and_exports(stack):
    cloudformation, name = stack
    _update_change_set(cloudformation, name, "to-b", "s3://models/b.tar.gz")
    cloudformation.execute_change_set(StackName=name, ChangeSetName="to-b")

    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["ModelDataUrl"] == "s3://models/b.tar.gz"
    assert described["Outputs"][0]["OutputValue"] == "s3://models/b.tar.gz"
    exports = {e["Name"]: e["Value"] for e in cloudformation.list_exports()["Exports"]}
    assert exports[f"{name}-model-data-url"] == "s3://models/b.tar.gz"

    # Back to the first value is a change set to execute (moto kept the old parameters and
    # judged it "no changes"). (moto lists no Changes for a parameter-only change.)
    _update_change_set(cloudformation, name, "back-to-a", "s3://models/a.tar.gz")
    back = cloudformation.describe_change_set(StackName=name, ChangeSetName="back-to-a")
    assert back["Status"] == "CREATE_COMPLETE"
    assert back["ExecutionStatus"] == "AVAILABLE"


def test_empty_change_set_is_created_and_failed(stack):
    cloudformation, name = stack
    _update_change_set(
        cloudformation, name, "same", "s3://models/a.tar.gz"
    )  # on moto: ValidationError "No updates are to be performed."
    same = cloudformation.describe_change_set(StackName=name, ChangeSetName="same")
    assert same["Status"] == "FAILED"
    assert same["ExecutionStatus"] == "UNAVAILABLE"
    assert "didn't contain changes" in same["StatusReason"]


# registry_events: tests/demo/test_parts.py puts the deploy template's own rule on the
# sandbox's bus and sees approvals and rejections (and nothing else) reach it.
REGISTRY_EVENTS_TEST = (
    "tests/demo/test_parts.py",
    "test_approving_or_rejecting_a_package_reaches_the_deploy_rule",
)


def test_registry_events_is_tested_by_the_demo_tests():
    path, name = REGISTRY_EVENTS_TEST
    assert f"def {name}(" in (Path(__file__).parents[2] / path).read_text()


def test_sagemaker_tags_sets_each_key_once_on_re_upsert(sandbox):
    sagemaker = sandbox.client("sagemaker")
    arn = sagemaker.create_model_package_group(ModelPackageGroupName="tagged-twice")[
        "ModelPackageGroupArn"
    ]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}])
    sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "b"}, {"Key": "cost", "Value": "1"}]
    )
    tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("cost", "1"), ("team", "b")]


def test_server_routing_lists_moto_once_and_still_routes(sandbox, monkeypatch):
    import os

    import moto.backends

    s3, sagemaker = sandbox.client("s3"), sandbox.client("sagemaker")
    s3.list_buckets()  # the first request for a service imports its moto module, which
    sagemaker.list_model_package_groups()  # lists the folder (Python's import system)
    folder = os.path.dirname(moto.__file__)
    listdir = os.listdir

    listings = []

    def recording_listdir(path="."):
        if os.fspath(path) == folder:
            listings.append(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", recording_listdir)
    assert "s3" in moto.backends.list_of_moto_modules()
    s3.list_buckets()
    sagemaker.list_model_package_groups()
    assert listings == []  # unpatched, moto lists it on every request


# --- each patch's check of moto's internals ----------------------------------------------


def _break_endpoint_name(monkeypatch):
    from moto.cloudformation import parsing

    monkeypatch.delattr(parsing, "resource_name_property_from_type")
    return "resource_name_property_from_type does not exist"


def _break_update_model_package(monkeypatch):
    from moto.sagemaker.models import SageMakerModelBackend

    monkeypatch.setattr(
        SageMakerModelBackend, "update_model_package", lambda self, model_package_arn: None
    )
    return "no longer takes model_approval_status, approval_description"


def _break_sagemaker_tags(monkeypatch):
    from moto.sagemaker.models import SageMakerModelBackend

    monkeypatch.setattr(SageMakerModelBackend, "add_tags", lambda self, arn: None)
    return "no longer takes tags"


def _break_stack_update_cascade(monkeypatch):
    from moto.cloudformation.parsing import ResourceMap

    monkeypatch.delattr(ResourceMap, "build_resource_diff")
    return "ResourceMap.build_resource_diff does not exist"


def _break_change_set_apply(monkeypatch):
    from moto.cloudformation.models import Stack

    monkeypatch.delattr(Stack, "_create_output_map")
    return "Stack._create_output_map does not exist"


def _break_empty_change_set(monkeypatch):
    from moto.cloudformation.responses import CloudFormationResponse

    monkeypatch.delattr(CloudFormationResponse, "_validate_different_update")
    return "CloudFormationResponse._validate_different_update does not exist"


def _break_registry_events(monkeypatch):
    from moto.events.models import EventsBackend

    monkeypatch.setattr(EventsBackend, "put_events", lambda self, entries: [])
    return "put_events(self, entries) no longer takes events"


def _break_server_routing(monkeypatch):
    from moto.moto_server import werkzeug_app

    monkeypatch.setattr(werkzeug_app, "backends", object())
    return "werkzeug_app no longer imports moto.backends"


def _break_template_parsing(monkeypatch):
    import types

    from moto.cloudformation import models

    monkeypatch.setattr(models, "yaml", types.SimpleNamespace())
    return "moto.cloudformation.models.yaml is no longer PyYAML"


def _break_monitoring_schedule_resource(monkeypatch):
    from moto.sagemaker.responses import SageMakerResponse

    monkeypatch.delattr(SageMakerResponse, "sagemaker_backend")
    return "SageMakerResponse.sagemaker_backend does not exist"


BREAKS = {
    "monitoring_schedule_resource": _break_monitoring_schedule_resource,
    "endpoint_name": _break_endpoint_name,
    "update_model_package": _break_update_model_package,
    "stack_update_cascade": _break_stack_update_cascade,
    "change_set_apply": _break_change_set_apply,
    "empty_change_set": _break_empty_change_set,
    "sagemaker_tags": _break_sagemaker_tags,
    "registry_events": _break_registry_events,
    "server_routing": _break_server_routing,
    "template_parsing": _break_template_parsing,
}
BREAKS.update(TERRAFORM_BREAKS)  # the patches terraform/ needs, tested in their own file
BREAKS.update(ORCHESTRATION_BREAKS)  # Step Functions, Lambda, EventBridge: their own file
BREAKS.update(DEPLOY_BREAKS)  # what modeldeploy's failure handling needs: their own file
BREAKS.update(GUARDRAIL_BREAKS)  # blue/green updates and their alarms: their own file
BREAKS.update(BATCH_BREAKS)  # a batch deployment's schedule: its own file
BREAKS.update(PREVIEW_BREAKS)  # what deploy previews need (change_set_changes)
BREAKS.update(ACCOUNT_BREAKS)  # several accounts: registry policy, AssumeRole trust


def test_every_patch_has_a_break():
    assert sorted(BREAKS) == sorted(moto_patches.PATCHES)  # breaks come from three files


@pytest.mark.parametrize("patch", moto_patches.PATCHES)
def test_apply_fails_loudly_when_moto_internals_change(patch, monkeypatch):
    import moto

    module = importlib.import_module(f"sandbox.moto_patches.{patch}")
    module.apply()  # applied (or already so): the check runs before the idempotency test
    missing = BREAKS[patch](monkeypatch)
    with pytest.raises(MotoInternalsChanged) as raised:
        module.apply()
    assert raised.value.patch == patch
    message = str(raised.value)
    assert f"sandbox/moto_patches/{patch}.py" in message
    assert f"moto {moto.__version__}" in message
    assert missing in message


def test_apply_all_is_idempotent():
    from moto.cloudformation.models import ChangeSet
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

    moto_patches.apply_all()
    patched = (
        SageMakerModelBackend.update_model_package,
        SageMakerModelBackend.create_model_package,
        ChangeSet.apply,
        FakeEndpoint.cloudformation_name_type,
    )
    moto_patches.apply_all()
    assert patched == (
        SageMakerModelBackend.update_model_package,
        SageMakerModelBackend.create_model_package,
        ChangeSet.apply,
        FakeEndpoint.cloudformation_name_type,
    )
