"""Where a stage deploys: its AWS account, and the deploy role assumed there.

A stage config (`staging-config.json`, `prod-config.json`) may name, beside its
`Parameters`, the account the stage lives in and the role the deploy assumes there:

    {"Account": "222222222222", "DeployRoleName": "churn-stage-deploy", "Parameters": {...}}

No `Account`: the stage deploys in the caller's own account with the caller's credentials
(the single-account default). `DeployRoleName` defaults to `<project>-stage-deploy`, the
role `codepipeline/stage-account.yml` creates in each stage account. build.py writes each
stage's target into the promotion manifest (`deploy_targets`), so deploy.py and the smoke
test act in the account the build named, with the role's credentials.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from modeldeploy.errors import ConfigError, DeployError, read_json_file

ACCOUNT = re.compile(r"^\d{12}$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
DEFAULT_ROLE_NAME = "{project}-stage-deploy"
# The model's role in a stage account (codepipeline/stage-account.yml creates it).
MODEL_ROLE_NAME = "{project}-stage-model-execution"
MANIFEST_KEY = "deploy_targets"
# What CI sets, to name the run in the role session (CloudTrail shows who deployed).
RUN_VARIABLES = ("CODEBUILD_BUILD_ID", "GITHUB_RUN_ID")


@dataclass(frozen=True)
class DeployTarget:
    """A stage's account and deploy role; both None: the caller's account."""

    account: str | None = None
    role_arn: str | None = None

    def to_json(self) -> dict:
        return {"account": self.account, "role_arn": self.role_arn}

    def describe(self) -> str:
        return f"account {self.account} as {self.role_arn}" if self.account else "this account"


def role_arn(account: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:role/{name}"


def stage_target(path: Path, project: str, partition: str = "aws") -> DeployTarget:
    """The target a stage config names; raises ConfigError naming the file and field."""
    raw = read_json_file(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be an object with a 'Parameters' object")
    account, role_name = raw.get("Account"), raw.get("DeployRoleName")
    if account is None:
        if role_name is not None:
            raise ConfigError(f"{path}: DeployRoleName needs an Account to assume it in")
        return DeployTarget()
    if not isinstance(account, str) or not ACCOUNT.match(account):
        raise ConfigError(f"{path}: Account={account!r} is not a 12-digit AWS account id")
    role_name = DEFAULT_ROLE_NAME.format(project=project) if role_name is None else role_name
    if not isinstance(role_name, str) or not ROLE_NAME.match(role_name):
        raise ConfigError(f"{path}: DeployRoleName={role_name!r} is not an IAM role name")
    return DeployTarget(account, role_arn(account, role_name, partition))


def model_role_arn(target: DeployTarget, project: str, partition: str = "aws") -> str | None:
    """The role a stage account's endpoint runs as (None: the build's own model role)."""
    if target.account is None:
        return None
    return role_arn(target.account, MODEL_ROLE_NAME.format(project=project), partition)


def manifest_target(manifest: dict | None, stage: str, source: str) -> DeployTarget:
    """A stage's target as build.py recorded it in the promotion manifest (none recorded:
    the caller's account). Raises ConfigError naming the file for a malformed entry."""
    entry = ((manifest or {}).get(MANIFEST_KEY) or {}).get(stage) or {}
    account, arn = entry.get("account"), entry.get("role_arn")
    if account is None:
        return DeployTarget()
    if not isinstance(account, str) or not ACCOUNT.match(account):
        raise ConfigError(f"{source}: {MANIFEST_KEY}.{stage}.account={account!r} is not valid")
    if not isinstance(arn, str) or f":iam::{account}:role/" not in arn:
        raise ConfigError(
            f"{source}: {MANIFEST_KEY}.{stage}.role_arn={arn!r} is not a role of {account}"
        )
    return DeployTarget(account, arn)


def session_name(stage: str) -> str:
    """`modeldeploy-<stage>[-<CI run>]`, within STS's rule ([\\w+=,.@-], 2 to 64)."""
    run = next((os.environ[v] for v in RUN_VARIABLES if os.environ.get(v)), "")
    name = re.sub(r"[^\w+=,.@-]", "-", f"modeldeploy-{stage}-{run}".rstrip("-"))
    return name[:64]


def session_for(target: DeployTarget, stage: str, base: boto3.Session | None = None):
    """A boto3 session acting in the target's account: the caller's own when the target
    is this account, else the deploy role's credentials. Raises DeployError in one line
    when the role cannot be assumed."""
    base = base or boto3.Session()
    if target.role_arn is None:
        return base
    try:
        credentials = base.client("sts").assume_role(
            RoleArn=target.role_arn, RoleSessionName=session_name(stage)
        )["Credentials"]
    except (ClientError, BotoCoreError) as err:
        raise DeployError(
            f"cannot assume {target.role_arn} to deploy {stage} in account {target.account}: "
            f"{err} (deploy codepipeline/stage-account.yml there, trusting this pipeline's role)"
        ) from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=base.region_name,
    )


def recorded_target(config: dict, config_file: Path, manifest: Path | None) -> DeployTarget:
    """The target of the stage `config` deploys, from the promotion manifest given or the
    one build.py wrote beside the config; the caller's account when there is none (a
    config without StageName, or no manifest)."""
    from modeldeploy.manifest import MANIFEST_FILE, read_manifest

    stage = config.get("Parameters", {}).get("StageName")
    path = manifest or Path(config_file).with_name(MANIFEST_FILE)
    if stage is None or not Path(path).exists():
        return DeployTarget()
    return manifest_target(read_manifest(Path(path)), stage, str(path))
