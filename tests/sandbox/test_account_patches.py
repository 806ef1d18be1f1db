"""The moto patches several accounts need, through boto3 against the sandbox: a model
package group's resource policy (set by the API or by CloudFormation) governing reads from
other accounts, AssumeRole honouring roles' trust policies, and the endpoint runtime
serving a stage account's endpoint. Their breaks are in BREAKS, for test_moto_patches."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.accounts import admin_environment, assumed_environment
from sandbox.constants import ACCOUNT_ID

OTHER, THIRD = "666666666666", "777777777777"


def _client(environment: dict, service: str):
    return boto3.client(
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
    )


def _package(sandbox, group: str) -> str:
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "img:1", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def _policy(group: str, *accounts: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                    "Action": ["sagemaker:DescribeModelPackage"],
                    "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:model-package/{group}/*",
                }
            ],
        }
    )


def test_another_account_describes_a_package_only_as_the_group_policy_allows(sandbox):
    arn = _package(sandbox, "policy-group")
    other = _client(admin_environment(sandbox.endpoint_url, OTHER), "sagemaker")
    with pytest.raises(ClientError) as refused:
        other.describe_model_package(ModelPackageName=arn)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "no resource-based policy allows the sagemaker:DescribeModelPackage" in str(
        refused.value
    )

    sagemaker = sandbox.client("sagemaker")
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName="policy-group", ResourcePolicy=_policy("policy-group", OTHER)
    )
    assert json.loads(
        sagemaker.get_model_package_group_policy(ModelPackageGroupName="policy-group")[
            "ResourcePolicy"
        ]
    ) == json.loads(_policy("policy-group", OTHER))
    assert other.describe_model_package(ModelPackageName=arn)["ModelPackageArn"] == arn
    third = _client(admin_environment(sandbox.endpoint_url, THIRD), "sagemaker")
    with pytest.raises(ClientError, match="AccessDeniedException"):
        third.describe_model_package(ModelPackageName=arn)

    # Creating the group again is refused, and keeps the group and its policy.
    with pytest.raises(ClientError, match="Model Package Group already exists"):
        sagemaker.create_model_package_group(ModelPackageGroupName="policy-group")
    assert other.describe_model_package(ModelPackageName=arn)["ModelPackageArn"] == arn

    sagemaker.delete_model_package_group_policy(ModelPackageGroupName="policy-group")
    with pytest.raises(ClientError, match="AccessDeniedException"):
        other.describe_model_package(ModelPackageName=arn)
    with pytest.raises(ClientError, match="has no resource policy"):
        sagemaker.get_model_package_group_policy(ModelPackageGroupName="policy-group")
    # The owner's own reads are moto's, as before.
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageArn"] == arn


def test_a_stack_creates_the_group_with_its_policy_and_updates_it(sandbox):
    def template(policy: dict | None) -> str:
        properties = {"ModelPackageGroupName": "stack-group"}
        if policy:
            properties["ModelPackageGroupPolicy"] = policy
        return json.dumps(
            {
                "Resources": {
                    "Group": {"Type": "AWS::SageMaker::ModelPackageGroup", "Properties": properties}
                },
                "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}}},
            }
        )

    cloudformation, sagemaker = sandbox.client("cloudformation"), sandbox.client("sagemaker")
    cloudformation.create_stack(
        StackName="stack-group",
        TemplateBody=template(json.loads(_policy("stack-group", OTHER))),
    )
    group = sagemaker.describe_model_package_group(ModelPackageGroupName="stack-group")
    outputs = cloudformation.describe_stacks(StackName="stack-group")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == group["ModelPackageGroupArn"]
    policy = sagemaker.get_model_package_group_policy(ModelPackageGroupName="stack-group")
    assert json.loads(policy["ResourcePolicy"]) == json.loads(_policy("stack-group", OTHER))

    cloudformation.update_stack(StackName="stack-group", TemplateBody=template(None))
    with pytest.raises(ClientError, match="has no resource policy"):
        sagemaker.get_model_package_group_policy(ModelPackageGroupName="stack-group")
    cloudformation.delete_stack(StackName="stack-group")
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.describe_model_package_group(ModelPackageGroupName="stack-group")


def test_a_stack_update_changes_a_keys_policy_in_place(sandbox):
    def template(accounts: list[str]) -> str:
        statements = [
            {"Effect": "Allow", "Principal": {"AWS": a}, "Action": "kms:Decrypt", "Resource": "*"}
            for a in accounts
        ]
        key = {"Description": f"for {len(accounts)}", "KeyPolicy": {"Statement": statements}}
        return json.dumps(
            {
                "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": key}},
                "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
            }
        )

    cloudformation, kms = sandbox.client("cloudformation"), sandbox.client("kms")
    cloudformation.create_stack(StackName="key-update", TemplateBody=template([OTHER]))
    arn = cloudformation.describe_stacks(StackName="key-update")["Stacks"][0]["Outputs"][0]
    cloudformation.update_stack(StackName="key-update", TemplateBody=template([OTHER, THIRD]))
    stack = cloudformation.describe_stacks(StackName="key-update")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == arn["OutputValue"]  # the same key
    policy = kms.get_key_policy(KeyId=arn["OutputValue"], PolicyName="default")["Policy"]
    principals = [s["Principal"]["AWS"] for s in json.loads(policy)["Statement"]]
    assert principals == [OTHER, THIRD]
    assert kms.describe_key(KeyId=arn["OutputValue"])["KeyMetadata"]["Description"] == "for 2"


def test_assume_role_needs_the_role_and_its_trust(sandbox):
    admin = admin_environment(sandbox.endpoint_url, OTHER)
    iam = _client(admin, "iam")
    trusted = f"arn:aws:iam::{ACCOUNT_ID}:role/trusted-caller"
    sandbox.client("iam").create_role(
        RoleName="trusted-caller",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )
    target = iam.create_role(
        RoleName="only-trusted",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
                ]
            }
        ),
    )["Role"]["Arn"]

    # The account's root is trusted by trusted-caller; trusted-caller by only-trusted.
    caller = assumed_environment(sandbox.endpoint_url, trusted, "first")
    assumed = assumed_environment(sandbox.endpoint_url, target, "second", caller)
    identity = _client(assumed, "sts").get_caller_identity()
    assert identity["Account"] == OTHER
    assert identity["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/only-trusted/second"

    with pytest.raises(ClientError) as refused:  # the tooling account itself is not trusted
        assumed_environment(sandbox.endpoint_url, target, "third")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert str(refused.value).endswith(
        f"User: arn:aws:sts::{ACCOUNT_ID}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {target}"
    )
    with pytest.raises(ClientError, match="AccessDenied"):  # no such role
        assumed_environment(
            sandbox.endpoint_url, f"arn:aws:iam::{OTHER}:role/missing", "xx", caller
        )


def test_another_account_reads_a_bucket_after_a_restart(home):
    """moto finds another account's bucket through an index the snapshot does not hold;
    the sandbox rebuilds it on restore (persistence.py)."""
    from sandbox import daemon
    from tests.sandbox.conftest import sandbox_cli

    assert sandbox_cli(home, "up").returncode == 0
    running = daemon.find_running(home)
    running.client("s3").create_bucket(Bucket="tooling-artifacts")
    running.client("s3").put_object(Bucket="tooling-artifacts", Key="model", Body=b"weights")
    assert sandbox_cli(home, "down").returncode == 0
    assert sandbox_cli(home, "up").returncode == 0
    running = daemon.find_running(home)
    other = _client(admin_environment(running.endpoint_url, OTHER), "s3")
    assert other.get_object(Bucket="tooling-artifacts", Key="model")["Body"].read() == b"weights"


def _break_model_package_group_policy(monkeypatch):
    from moto.sagemaker.models import SageMakerModelBackend

    monkeypatch.delattr(SageMakerModelBackend, "describe_model_package")
    return "SageMakerModelBackend.describe_model_package does not exist"


def _break_model_package_group_resource(monkeypatch):
    from moto.cloudformation import parsing

    monkeypatch.delattr(parsing, "get_name_type_map")
    return "moto.cloudformation.parsing.get_name_type_map does not exist"


def _break_assume_role_trust(monkeypatch):
    from moto.sts.models import STSBackend

    monkeypatch.delattr(STSBackend, "get_assumed_role_from_access_key")
    return "STSBackend.get_assumed_role_from_access_key does not exist"


def _break_kms_key_update(monkeypatch):
    from moto.kms.models import KmsBackend

    monkeypatch.delattr(KmsBackend, "put_key_policy")
    return "KmsBackend.put_key_policy does not exist"


def _break_create_model_package_group(monkeypatch):
    from moto.sagemaker.models import SageMakerModelBackend

    monkeypatch.setattr(SageMakerModelBackend, "create_model_package_group", lambda self: None)
    return "no longer takes model_package_group_name"


BREAKS = {
    "model_package_group_policy": _break_model_package_group_policy,
    "model_package_group_resource": _break_model_package_group_resource,
    "assume_role_trust": _break_assume_role_trust,
    "kms_key_update": _break_kms_key_update,
    "create_model_package_group": _break_create_model_package_group,
}


def test_an_administrators_key_outlives_a_reset_of_the_state(sandbox):
    """After moto's state is reset (another test's `/moto-api/reset`, in the same process),
    the cached key is gone; it must not act in the default account."""
    import requests

    before = admin_environment(sandbox.endpoint_url, THIRD)
    requests.post(f"{sandbox.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    after = admin_environment(sandbox.endpoint_url, THIRD)
    assert after["AWS_ACCESS_KEY_ID"] != before["AWS_ACCESS_KEY_ID"]
    identity = _client(after, "sts").get_caller_identity()
    assert identity["Account"] == THIRD
