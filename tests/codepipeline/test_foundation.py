"""codepipeline/foundation.yml creates in the sandbox's CloudFormation (test_wiring.py lints it)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).parents[2] / "codepipeline" / "foundation.yml"


def test_creates_bucket_group_and_roles_in_the_sandbox(sandbox):
    cloudformation = sandbox.client("cloudformation")
    # Named after this test's project: moto's state is per process, and the demo tests
    # create the "churn" project's foundation in the same xdist worker.
    cloudformation.create_stack(
        StackName="churnfdn-foundation",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "SageMakerProjectName", "ParameterValue": "churnfdn"}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="churnfdn-foundation")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    s3 = sandbox.client("s3")
    bucket = outputs["ArtifactBucketName"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ]
    assert rule["SSEAlgorithm"] == "aws:kms"
    # moto's CloudFormation skips the bucket policy and the model package group, and does
    # not apply versioning or the public access block: the template test below covers them.
    iam = sandbox.client("iam")
    for role in ("churnfdn-pipeline-execution", "churnfdn-model-execution"):
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert outputs["PipelineExecutionRoleArn"].endswith(":role/churnfdn-pipeline-execution")


def test_bucket_is_tls_only_public_blocked_and_versioned():
    """What moto's CloudFormation does not apply, read from the template."""
    import yaml

    from modeldeploy.stage_config import _CfnLoader

    resources = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"]
    statement = resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = resources["ArtifactBucket"]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
