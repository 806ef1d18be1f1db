"""Promotion across accounts, against the session sandbox: the registry and artifacts in the
tooling account (codepipeline/foundation.yml), each stage in an account of its own
(codepipeline/stage-account.yml), build.py -> deploy.py -> test/test.py run as the tooling
account's pipeline role, which assumes each stage's deploy role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from modeldeploy import build, deploy
from modeldeploy.accounts import MANIFEST_KEY
from modeldeploy.manifest import MANIFEST_FILE
from modeldeploy.stage_config import _CfnLoader
from sandbox.accounts import admin_environment, assumed_environment
from sandbox.constants import DEFAULT_BUCKET
from tests.modeldeploy.conftest import ROLE, load_smoke_cli

REPO = Path(__file__).parents[2]
FOUNDATION = REPO / "codepipeline" / "foundation.yml"
STAGE_ACCOUNT = REPO / "codepipeline" / "stage-account.yml"
STAGING, PROD, STRANGER, NOWHERE = "222222222222", "333333333333", "444444444444", "555555555555"
# The pipeline's role in the tooling account. On AWS, CodeBuild (the service) assumes it;
# here the tooling account's own credentials stand for the service and assume it.
PIPELINE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        },
    ],
}


def _client(environment: dict, service: str):
    return boto3.client(
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
    )


def _outputs(cloudformation, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


class Accounts:
    """One project: its foundation in the tooling account, granting `granted` accounts;
    its pipeline role; stage-account stacks in `stage_accounts`."""

    def __init__(self, sandbox, registry, folder: Path, project: str, monkeypatch):
        self.sandbox, self.registry, self.folder = sandbox, registry, folder
        self.project, self.monkeypatch = project, monkeypatch
        self.tooling = sandbox.environment
        self.pipeline_role = ""
        self.key_arn = ""

    def foundation(self, granted: list[str]) -> None:
        # Registered first: moto's CreateModelPackageGroup replaces a group that exists
        # (AWS refuses), which would drop the policy; the foundation adopts this one.
        self.package = self.registry.register(self.project)
        cloudformation = self.sandbox.client("cloudformation")
        cloudformation.create_stack(
            StackName=f"{self.project}-foundation",
            TemplateBody=FOUNDATION.read_text(),
            Parameters=[
                {"ParameterKey": "SageMakerProjectName", "ParameterValue": self.project},
                {"ParameterKey": "StageAccountIds", "ParameterValue": ",".join(granted)},
            ],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        self.key_arn = _outputs(cloudformation, f"{self.project}-foundation")["ArtifactKeyArn"]
        self.pipeline_role = self.sandbox.client("iam").create_role(
            RoleName=f"{self.project}-deploy-pipeline",
            AssumeRolePolicyDocument=json.dumps(PIPELINE_TRUST),
        )["Role"]["Arn"]

    def stage_account(self, account: str) -> dict[str, str]:
        """stage-account.yml deployed in `account` by its administrator; its outputs."""
        admin = admin_environment(self.sandbox.endpoint_url, account)
        cloudformation = _client(admin, "cloudformation")
        cloudformation.create_stack(
            StackName=f"{self.project}-stage-account",
            TemplateBody=STAGE_ACCOUNT.read_text(),
            Parameters=[
                {"ParameterKey": "SageMakerProjectName", "ParameterValue": self.project},
                {"ParameterKey": "ToolingPipelineRoleArn", "ParameterValue": self.pipeline_role},
                {"ParameterKey": "ArtifactKeyArn", "ParameterValue": self.key_arn},
            ],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        return _outputs(cloudformation, f"{self.project}-stage-account")

    def in_account(self, account: str) -> dict[str, str]:
        """Credentials acting in `account` (its administrator's) to look at what is there."""
        return admin_environment(self.sandbox.endpoint_url, account)

    def act_as(self, environment: dict[str, str]) -> None:
        """This process's boto3 uses `environment`'s credentials from now on."""
        for name, value in environment.items():
            self.monkeypatch.setenv(name, value)
        if "AWS_SESSION_TOKEN" not in environment:
            self.monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        self.monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    def act_as_pipeline(self) -> None:
        self.act_as(
            assumed_environment(self.sandbox.endpoint_url, self.pipeline_role, "codebuild-test")
        )

    def path(self, name: str) -> Path:
        return self.folder / name

    def stage_config(self, stage: str, account: str | None) -> Path:
        config = json.loads((REPO / "modeldeploy" / f"{stage}-config.json").read_text())
        if account:
            config = {"Account": account, **config}
        path = self.path(f"{stage}-config.json")
        path.write_text(json.dumps(config))
        return path

    def build(self, staging: str | None, prod: str | None) -> int:
        return build.main(
            [
                "--model-execution-role",
                ROLE,
                "--model-package-group-name",
                self.project,
                "--sagemaker-project-id",
                "p-multi",
                "--sagemaker-project-name",
                self.project,
                "--s3-bucket",
                DEFAULT_BUCKET,
                "--import-staging-config",
                str(self.stage_config("staging", staging)),
                "--import-prod-config",
                str(self.stage_config("prod", prod)),
                "--export-staging-config",
                str(self.path("staging-config-export.json")),
                "--export-prod-config",
                str(self.path("prod-config-export.json")),
                "--export-manifest",
                str(self.path(MANIFEST_FILE)),
            ]
        )

    def deploy(self, stage: str) -> int:
        return deploy.main(
            [
                "--stack-name",
                f"{self.project}-{stage}",
                "--config-file",
                str(self.path(f"{stage}-config-export.json")),
                "--poll-seconds",
                "0.1",
                "--smoke-timeout-seconds",
                "10",
                "--latency-requests",
                "5",
                "--latency-budget-ms",
                "5000",
            ]
        )

    def smoke(self, stage: str) -> int:
        return load_smoke_cli().main(
            [
                "--import-build-config",
                str(self.path(f"{stage}-config-export.json")),
                "--manifest",
                str(self.path(MANIFEST_FILE)),
                "--export-test-results",
                str(self.path(f"{stage}-results.json")),
                "--poll-seconds",
                "0.1",
                "--timeout-seconds",
                "10",
                "--latency-requests",
                "5",
                "--latency-budget-ms",
                "5000",
            ]
        )


@pytest.fixture(name="accounts")
def fixture_accounts(sandbox, registry, tmp_path, monkeypatch, request) -> Accounts:
    project = "ma-" + request.node.name.replace("_", "-")[5:21].strip("-")
    return Accounts(sandbox, registry, tmp_path, project, monkeypatch)


def _stack_status(environment: dict, stack: str) -> str | None:
    try:
        found = _client(environment, "cloudformation").describe_stacks(StackName=stack)
    except ClientError:
        return None
    return found["Stacks"][0]["StackStatus"]


def _endpoint_status(environment: dict, endpoint: str) -> str | None:
    try:
        found = _client(environment, "sagemaker").describe_endpoint(EndpointName=endpoint)
    except ClientError:
        return None
    return found["EndpointStatus"]


def test_promotes_into_the_stage_accounts_and_leaves_the_tooling_account_empty(
    accounts, sandbox, capsys
):
    accounts.foundation(granted=[STAGING, PROD])
    staging_roles = accounts.stage_account(STAGING)
    accounts.stage_account(PROD)
    accounts.act_as_pipeline()

    assert accounts.build(staging=STAGING, prod=PROD) == 0
    manifest = json.loads(accounts.path(MANIFEST_FILE).read_text())
    assert manifest[MANIFEST_KEY]["staging"] == {
        "account": STAGING,
        "role_arn": staging_roles["DeployRoleArn"],
    }
    exported = json.loads(accounts.path("staging-config-export.json").read_text())
    assert exported["Parameters"]["ModelExecutionRoleArn"] == staging_roles["ModelExecutionRoleArn"]
    assert "Account" not in exported  # a TemplateConfiguration, as CodePipeline reads it

    codes = [accounts.deploy("staging"), accounts.smoke("staging")]
    codes += [accounts.deploy("prod"), accounts.smoke("prod")]
    out, err = capsys.readouterr()
    assert codes == [0, 0, 0, 0], out + err
    assert f"Deploying to account {PROD} as arn:aws:iam::{PROD}:role/" in out

    for stage, account in (("staging", STAGING), ("prod", PROD)):
        there = accounts.in_account(account)
        assert _stack_status(there, f"{accounts.project}-{stage}") == "CREATE_COMPLETE"
        assert _endpoint_status(there, f"{accounts.project}-{stage}") == "InService"
        # Nothing of the stage in the tooling account (nor in the other stage's account).
        assert _stack_status(sandbox.environment, f"{accounts.project}-{stage}") is None
        assert _endpoint_status(sandbox.environment, f"{accounts.project}-{stage}") is None
    results = json.loads(accounts.path("prod-results.json").read_text())
    assert results["passed"] is True
    assert _stack_status(accounts.in_account(STAGING), f"{accounts.project}-prod") is None


def test_a_stage_account_the_group_policy_does_not_grant_is_refused(accounts, capsys):
    accounts.foundation(granted=[STAGING])
    accounts.stage_account(STRANGER)
    accounts.act_as_pipeline()
    assert accounts.build(staging=None, prod=STRANGER) == 0

    code = accounts.deploy("prod")
    _, err = capsys.readouterr()
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "AccessDeniedException" in err
    assert f"arn:aws:sts::{STRANGER}:assumed-role/{accounts.project}-stage-deploy/" in err
    assert "no resource-based policy allows the sagemaker:DescribeModelPackage action" in err
    # Refused before any change set: nothing in that account.
    assert _stack_status(accounts.in_account(STRANGER), f"{accounts.project}-prod") is None


def test_a_deploy_role_that_cannot_be_assumed_is_one_line(accounts, capsys):
    accounts.foundation(granted=[NOWHERE, STAGING])
    accounts.stage_account(STAGING)
    accounts.act_as_pipeline()
    assert accounts.build(staging=STAGING, prod=NOWHERE) == 0

    # No stage-account stack in NOWHERE: its deploy role does not exist.
    code = accounts.deploy("prod")
    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == (
        f"deploy.py: cannot assume arn:aws:iam::{NOWHERE}:role/{accounts.project}-stage-deploy"
        f" to deploy prod in account {NOWHERE}: An error occurred (AccessDenied) when calling "
        "the AssumeRole operation: User: arn:aws:sts::123456789012:assumed-role/"
        f"{accounts.project}-deploy-pipeline/codebuild-test is not authorized to perform: "
        f"sts:AssumeRole on resource: arn:aws:iam::{NOWHERE}:role/{accounts.project}-stage-deploy"
        " (deploy codepipeline/stage-account.yml there, trusting this pipeline's role)"
    )

    # The role exists in STAGING, but trusts only the pipeline's role: not the account's
    # other principals.
    accounts.act_as(accounts.sandbox.environment)
    code = accounts.deploy("staging")
    _, err = capsys.readouterr()
    assert code == 1
    assert "is not authorized to perform: sts:AssumeRole" in err
    assert _stack_status(accounts.in_account(STAGING), f"{accounts.project}-staging") is None


def test_rollback_puts_a_stage_account_back_on_the_previous_package(accounts, capsys):
    from modeldeploy import rollback
    from modeldeploy.smoke import served_package

    accounts.foundation(granted=[PROD])
    accounts.stage_account(PROD)
    first = accounts.package
    accounts.act_as_pipeline()
    assert accounts.build(staging=None, prod=PROD) == 0
    assert accounts.deploy("prod") == 0
    second = accounts.registry.register(accounts.project)
    assert accounts.build(staging=None, prod=PROD) == 0
    assert accounts.deploy("prod") == 0

    code = rollback.main(
        ["--sagemaker-project-name", accounts.project, "--stage", "prod", "--reason", "test"]
        + ["--stage-config", str(accounts.path("prod-config.json"))]
        + ["--poll-seconds", "0.1", "--timeout-seconds", "10"]
        + ["--latency-requests", "5", "--latency-budget-ms", "5000"]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert f"Rolling back prod in account {PROD} as" in out
    there = _client(accounts.in_account(PROD), "sagemaker")
    endpoint = there.describe_endpoint(EndpointName=f"{accounts.project}-prod")
    assert served_package(there, endpoint) == first
    tooling = accounts.sandbox.client("sagemaker")
    rejected = tooling.describe_model_package(ModelPackageName=second)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert _stack_status(accounts.sandbox.environment, f"{accounts.project}-prod") is None


def test_without_accounts_a_stage_deploys_in_the_callers_account(accounts, capsys):
    accounts.foundation(granted=[])
    assert accounts.build(staging=None, prod=None) == 0
    manifest = json.loads(accounts.path(MANIFEST_FILE).read_text())
    assert manifest[MANIFEST_KEY]["prod"] == {"account": None, "role_arn": None}
    exported = json.loads(accounts.path("staging-config-export.json").read_text())
    assert exported["Parameters"]["ModelExecutionRoleArn"] == ROLE
    assert accounts.deploy("staging") == 0
    assert (
        _stack_status(accounts.sandbox.environment, f"{accounts.project}-staging")
        == "CREATE_COMPLETE"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Account": "2222"}, "Account='2222' is not a 12-digit AWS account id"),
        ({"Account": 222222222222}, "Account=222222222222 is not a 12-digit AWS account id"),
        ({"DeployRoleName": "deployer"}, "DeployRoleName needs an Account to assume it in"),
        (
            {"Account": STAGING, "DeployRoleName": "no/slashes"},
            "DeployRoleName='no/slashes' is not an IAM role name",
        ),
    ],
)
def test_a_bad_account_in_a_stage_config_is_one_line_and_writes_nothing(
    fields, message, tmp_path, capsys
):
    config = tmp_path / "prod.json"
    config.write_text(
        json.dumps({**fields, **json.loads((REPO / "modeldeploy/prod-config.json").read_text())})
    )
    code = build.main(
        ["--model-execution-role", ROLE, "--model-package-group-name", "g"]
        + ["--sagemaker-project-id", "p-1", "--sagemaker-project-name", "p"]
        + ["--s3-bucket", DEFAULT_BUCKET, "--import-prod-config", str(config)]
        + ["--export-manifest", str(tmp_path / MANIFEST_FILE)]
    )
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip() == f"build.py: {config}: {message}"
    assert not (tmp_path / MANIFEST_FILE).exists()


def test_stage_account_template_lints_and_trusts_only_the_pipeline_role(sandbox):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), str(STAGE_ACCOUNT), str(FOUNDATION)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    resources = yaml.load(STAGE_ACCOUNT.read_text(), Loader=_CfnLoader)["Resources"]
    trusted = [
        statement["Principal"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    ]
    # The deploy role: the tooling account's pipeline role(s) and nothing else (the deploy
    # pipeline's own roles when MoreToolingRoleArns names them); the stack's role:
    # CloudFormation; the model's: SageMaker.
    deploy, *services = trusted
    assert set(deploy) == {"AWS"}
    assert set(_strings(deploy["AWS"])) - {",", ""} == {
        "TrustMoreToolingRoles",
        "ToolingPipelineRoleArn",
        "MoreToolingRoleArns",
    }
    assert services == [
        {"Service": "cloudformation.amazonaws.com"},
        {"Service": "sagemaker.amazonaws.com"},
    ]


def _strings(value) -> list[str]:
    """Every string in a loaded template value (intrinsic functions read as lists)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def test_foundation_grants_the_stage_accounts_the_registry_and_artifacts():
    """What moto does not apply (key and bucket policies), read from the template; the
    group's policy is applied in the sandbox (the other tests deploy through it)."""
    resources = yaml.load(FOUNDATION.read_text(), Loader=_CfnLoader)["Resources"]

    def granted(statements: list) -> dict[str, list]:
        # !If [HasStageAccounts, statement, !Ref AWS::NoValue], read as its arguments.
        found = {}
        for statement in statements:
            if isinstance(statement, list):
                condition, statement, _ = statement
                assert condition == "HasStageAccounts"
                assert statement["Principal"] == {"AWS": "StageAccountIds"}
                found[statement["Sid"]] = statement["Action"]
        return found

    key = resources["ArtifactKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert granted(key) == {
        "StageAccountsUseArtifacts": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    }
    bucket = resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert granted(bucket) == {
        "StageAccountsReadModels": "s3:GetObject",
        "StageAccountsWriteCapturedData": "s3:PutObject",
    }
    condition, policy, _ = resources["ModelPackageGroup"]["Properties"]["ModelPackageGroupPolicy"]
    (statement,) = policy["Statement"]
    assert granted([[condition, statement, None]]) == {
        "StageAccountsReadPackages": [
            "sagemaker:DescribeModelPackage",
            "sagemaker:ListModelPackages",
        ]
    }
