"""The moto patches the Terraform AWS provider needs (terraform/ applies and destroys
against the sandbox): each one's AWS behaviour through boto3, and its check of moto's
internals failing loudly when what it relies on is gone. test_moto_patches.py runs the
shared checks (idempotency, the failure message) over BREAKS."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

STATE_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/StatesRole"


@pytest.mark.parametrize(
    ("definition", "result", "code"),
    [
        (STATE_MACHINE, "OK", None),
        ("{not json", "FAIL", "INVALID_JSON_DESCRIPTION"),
        (
            json.dumps({"StartAt": "Missing", "States": {"Done": {"Type": "Succeed"}}}),
            "FAIL",
            "SCHEMA_VALIDATION_FAILED",
        ),
        (json.dumps({"StartAt": "Done"}), "FAIL", "SCHEMA_VALIDATION_FAILED"),
    ],
)
def test_state_machine_validation_judges_the_definition(sandbox, definition, result, code):
    answer = sandbox.client("stepfunctions").validate_state_machine_definition(
        definition=definition
    )
    assert answer["result"] == result
    assert [d["code"] for d in answer["diagnostics"]] == ([code] if code else [])
    assert all(d["severity"] == "ERROR" for d in answer["diagnostics"])


def test_state_machine_versions_lists_published_versions_newest_first(sandbox):
    sfn = sandbox.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="motopatch-versions", definition=STATE_MACHINE, roleArn=ROLE, publish=True
    )["stateMachineArn"]
    try:
        assert [
            v["stateMachineVersionArn"]
            for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
        ] == [f"{arn}:1"]
        sfn.update_state_machine(stateMachineArn=arn, definition=STATE_MACHINE, publish=True)
        listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
        assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:2", f"{arn}:1"]
        with pytest.raises(ClientError) as missing:
            sfn.list_state_machine_versions(stateMachineArn=arn.replace("versions", "absent"))
        assert missing.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)


def test_delete_model_package_group_refuses_a_group_that_holds_packages(sandbox):
    sagemaker = sandbox.client("sagemaker")
    full, empty = "motopatch-delete-full", "motopatch-delete-empty"
    sagemaker.create_model_package_group(ModelPackageGroupName=full)
    empty_arn = sagemaker.create_model_package_group(ModelPackageGroupName=empty)[
        "ModelPackageGroupArn"
    ]
    sagemaker.create_model_package(
        ModelPackageGroupName=full,
        InferenceSpecification={
            "Containers": [{"Image": "image:1", "ModelDataUrl": "s3://models/a.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    with pytest.raises(ClientError) as refused:
        sagemaker.delete_model_package_group(ModelPackageGroupName=full)
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    assert full in refused.value.response["Error"]["Message"]
    assert sagemaker.describe_model_package_group(ModelPackageGroupName=full)

    sagemaker.delete_model_package_group(ModelPackageGroupName=empty_arn)  # by ARN
    names = [
        g["ModelPackageGroupName"]
        for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ]
    assert empty not in names and full in names
    with pytest.raises(ClientError) as gone:
        sagemaker.delete_model_package_group(ModelPackageGroupName=empty)
    assert gone.value.response["Error"]["Code"] == "ValidationException"


def test_bucket_policy_transport_lets_requests_through_a_tls_only_bucket(sandbox):
    s3 = sandbox.client("s3")
    bucket = "motopatch-tls-only"
    s3.create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
    }
    tls_only = {**statement, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]})
    )
    s3.put_object(Bucket=bucket, Key="a", Body=b"over TLS, as every AWS client talks")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read().startswith(b"over TLS")

    # An unconditional Deny still denies (the patch reads the condition, nothing else).
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="b", Body=b"")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_bucket_notification_eventbridge_is_reported(sandbox):
    s3 = sandbox.client("s3")
    bucket = "motopatch-eventbridge"
    s3.create_bucket(Bucket=bucket)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    answer = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert answer["EventBridgeConfiguration"] == {}


def test_lambda_dead_letter_config_is_kept(sandbox, tmp_path):
    import io
    import zipfile

    iam, lam = sandbox.client("iam"), sandbox.client("lambda")
    role = iam.create_role(
        RoleName="motopatch-dlq", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("f.py", "def handler(event, context):\n    return event\n")
    topic = "arn:aws:sns:us-east-1:123456789012:motopatch-dlq"
    lam.create_function(
        FunctionName="motopatch-dlq",
        Runtime="python3.12",
        Role=role,
        Handler="f.handler",
        Code={"ZipFile": code.getvalue()},
        DeadLetterConfig={"TargetArn": topic},
    )
    try:
        described = lam.get_function(FunctionName="motopatch-dlq")["Configuration"]
        assert described["DeadLetterConfig"] == {"TargetArn": topic}
        lam.update_function_configuration(
            FunctionName="motopatch-dlq", DeadLetterConfig={"TargetArn": ""}
        )
        described = lam.get_function_configuration(FunctionName="motopatch-dlq")
        assert "DeadLetterConfig" not in described
    finally:
        lam.delete_function(FunctionName="motopatch-dlq")
        iam.delete_role(RoleName="motopatch-dlq")


def test_delete_model_package_empties_the_group(sandbox):
    sagemaker = sandbox.client("sagemaker")
    group = "motopatch-delete-package"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": "image:1", "ModelDataUrl": "s3://models/a.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    first, second = (
        sagemaker.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)[
            "ModelPackageArn"
        ]
        for _ in range(2)
    )
    sagemaker.delete_model_package(ModelPackageName=first)
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [second]
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_model_package(ModelPackageName=first)
    assert gone.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.delete_model_package(ModelPackageName=second)
    sagemaker.delete_model_package_group(ModelPackageGroupName=group)  # empty now


# --- each patch's check of moto's internals (run by test_moto_patches.py) ---------------


def _break_state_machine_validation(monkeypatch):
    from moto.stepfunctions.responses import StepFunctionResponse

    monkeypatch.setattr(StepFunctionResponse, "_get_param", lambda self: None)
    return "no longer takes param_name"


def _break_state_machine_versions(monkeypatch):
    from moto.stepfunctions.models import StepFunctionBackend

    monkeypatch.delattr(StepFunctionBackend, "describe_state_machine")
    return "StepFunctionBackend.describe_state_machine does not exist"


def _break_delete_model_package_group(monkeypatch):
    from moto.sagemaker.responses import SageMakerResponse

    monkeypatch.delattr(SageMakerResponse, "sagemaker_backend")
    return "SageMakerResponse.sagemaker_backend does not exist"


def _break_bucket_policy_transport(monkeypatch):
    from moto.s3.models import FakeBucket

    monkeypatch.setattr(FakeBucket, "get_permission", lambda self, action: None)
    return "no longer takes resource"


def _break_bucket_notification_eventbridge(monkeypatch):
    from moto.s3.models import S3Backend

    monkeypatch.delattr(S3Backend, "get_bucket_notification_configuration")
    return "S3Backend.get_bucket_notification_configuration does not exist"


def _break_lambda_dead_letter_config(monkeypatch):
    from moto.awslambda.models import LambdaFunction

    monkeypatch.setattr(LambdaFunction, "update_configuration", lambda self, updates: None)
    return "no longer takes config_updates"


def _break_delete_model_package(monkeypatch):
    from moto.sagemaker.responses import SageMakerResponse

    monkeypatch.delattr(SageMakerResponse, "sagemaker_backend")
    return "SageMakerResponse.sagemaker_backend does not exist"


BREAKS = {
    "state_machine_validation": _break_state_machine_validation,
    "state_machine_versions": _break_state_machine_versions,
    "delete_model_package": _break_delete_model_package,
    "delete_model_package_group": _break_delete_model_package_group,
    "bucket_policy_transport": _break_bucket_policy_transport,
    "bucket_notification_eventbridge": _break_bucket_notification_eventbridge,
    "lambda_dead_letter_config": _break_lambda_dead_letter_config,
}
