"""The moto patch deploy previews need (change_set_changes), through boto3 against the
sandbox: what a change set would add, modify (and whether it replaces) or remove, with
Conditions and parameter values taken into account. Its break is in BREAKS, for
test_moto_patches."""

from __future__ import annotations

import json

ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
# Model -> EndpointConfig -> Endpoint as the endpoint template chains them, and an alarm
# only prod has.
TEMPLATE = {
    "Parameters": {
        "ModelDataUrl": {"Type": "String"},
        "Stage": {"Type": "String"},
        "Instances": {"Type": "Number", "Default": 1},
    },
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
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
                        "InitialInstanceCount": {"Ref": "Instances"},
                        "InstanceType": "ml.m5.large",
                    }
                ]
            },
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": {"Fn::Sub": "${AWS::StackName}-ep"},
                "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]},
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "IsProd",
            "Properties": {
                "AlarmDescription": {"Fn::Sub": "errors on ${Endpoint.EndpointName}"},
                "MetricName": "Invocation5XXErrors",
                "Namespace": "AWS/SageMaker",
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            },
        },
    },
}


def _parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _changes(cloudformation, stack: str, name: str, kind: str, **parameters: str) -> dict:
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=_parameters(**parameters),
    )
    described = cloudformation.describe_change_set(StackName=stack, ChangeSetName=name)
    return {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]
    }


def test_a_create_change_set_leaves_out_resources_whose_condition_is_false(sandbox):
    cloudformation = sandbox.client("cloudformation")
    staging = _changes(
        cloudformation, "cscc-staging", "c1", "CREATE", ModelDataUrl="s3://m/a", Stage="staging"
    )
    prod = _changes(
        cloudformation, "cscc-prod", "c2", "CREATE", ModelDataUrl="s3://m/a", Stage="prod"
    )
    assert sorted(staging) == ["Endpoint", "EndpointConfig", "Model"]  # moto: the alarm too
    assert sorted(prod) == ["Alarm", "Endpoint", "EndpointConfig", "Model"]
    assert {c["Action"] for c in prod.values()} == {"Add"}


def test_a_new_parameter_value_modifies_and_replaces_what_reads_it(sandbox):
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(
        StackName="cscc-update",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=_parameters(ModelDataUrl="s3://m/a", Stage="staging"),
    )
    # moto: no Changes at all (it compares the templates only, which are the same).
    changes = _changes(
        cloudformation, "cscc-update", "u1", "UPDATE", ModelDataUrl="s3://m/b", Stage="staging"
    )

    assert sorted(changes) == ["Endpoint", "EndpointConfig", "Model"]
    model, config, endpoint = changes["Model"], changes["EndpointConfig"], changes["Endpoint"]
    assert (model["Action"], model["Replacement"], model["Scope"]) == (
        "Modify",
        "True",
        ["Properties"],
    )
    assert model["Details"] == [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "PrimaryContainer",
                "RequiresRecreation": "Always",
            },
            "Evaluation": "Static",
            "ChangeSource": "ParameterReference",
            "CausingEntity": "ModelDataUrl",
        }
    ]
    assert model["PhysicalResourceId"].startswith("arn:aws:sagemaker:")
    # The new model's name reaches the config when the change set runs: it may be replaced.
    assert config["Replacement"] == "Conditional"
    assert config["Details"][0]["CausingEntity"] == "Model.ModelName"
    assert (endpoint["Replacement"], endpoint["Details"][0]["Target"]["Name"]) == (
        "False",
        "EndpointConfigName",
    )

    # A parameter with a default, now given: only what reads it.
    more = _changes(
        cloudformation,
        "cscc-update",
        "u2",
        "UPDATE",
        ModelDataUrl="s3://m/a",
        Stage="staging",
        Instances="2",
    )
    assert sorted(more) == ["Endpoint", "EndpointConfig"]
    assert more["EndpointConfig"]["Replacement"] == "True"
    # Turning a condition on adds what it guards.
    # A property a new template sets only under a false condition (AWS::NoValue): unchanged.
    conditional = json.loads(json.dumps(TEMPLATE))
    conditional["Resources"]["EndpointConfig"]["Properties"]["KmsKeyId"] = {
        "Fn::If": ["IsProd", "alias/prod", {"Ref": "AWS::NoValue"}]
    }
    cloudformation.create_change_set(
        StackName="cscc-update",
        ChangeSetName="u4",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(conditional),
        Parameters=_parameters(ModelDataUrl="s3://m/a", Stage="staging"),
    )
    assert (
        cloudformation.describe_change_set(StackName="cscc-update", ChangeSetName="u4")["Changes"]
        == []
    )
    to_prod = _changes(
        cloudformation, "cscc-update", "u3", "UPDATE", ModelDataUrl="s3://m/a", Stage="prod"
    )
    assert to_prod["Alarm"]["Action"] == "Add"
    cloudformation.delete_stack(StackName="cscc-update")


def _break_change_set_changes(monkeypatch):
    from moto.cloudformation.models import Change

    monkeypatch.setattr(Change, "__init__", lambda self, kind, resource, type_: None)
    return "no longer takes action, logical_resource_id, resource_type"


BREAKS = {"change_set_changes": _break_change_set_changes}
