"""Names and fixed values of the sandbox, in one place."""

from __future__ import annotations

import os
from pathlib import Path

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
HOST = "127.0.0.1"
DEFAULT_BUCKET = "sagemaker-sandbox-artifacts"
PIPELINE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/SandboxSageMakerExecutionRole"

# Environment variables the sandbox reads.
HOME_VARIABLE = "SANDBOX_HOME"  # where state, logs and job folders live
# "lazy": the warm interpreter for job scripts starts with the first job, not with the
# sandbox (a sandbox that runs no pipeline then spares its imports: 2-3 s of CPU, ~200 MB).
WARM_START_VARIABLE = "SANDBOX_WARM_START"
# The sandbox's own liveness route (moto's debug dump is no health check: see daemon.py).
HEALTH_PATH = "/_sandbox/health"

# What every process talking to the sandbox gets: fake credentials, a fixed region, and the
# SDK v3 role check off (it calls iam:SimulatePrincipalPolicy, which moto lacks).
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}


def sandbox_home() -> Path:
    """`$SANDBOX_HOME`, else `.sandbox/` in the working directory (git-ignored)."""
    return Path(os.environ.get(HOME_VARIABLE) or Path.cwd() / ".sandbox").resolve()


# What a SageMaker Project's CodeBuild environment sets, so the seed buildspec's command
# lines run unchanged against the sandbox (`python -m sandbox exec`). A value the caller
# has set already wins.
PROJECT_NAME = "sandbox"
PROJECT_ID = "p-sandbox"
PROJECT_VARIABLES = {
    "SAGEMAKER_PROJECT_NAME": PROJECT_NAME,
    "SAGEMAKER_PROJECT_ID": PROJECT_ID,
    "SAGEMAKER_PROJECT_NAME_ID": f"{PROJECT_NAME}-{PROJECT_ID}",
    "SAGEMAKER_PROJECT_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:project/{PROJECT_NAME}",
    "SAGEMAKER_PIPELINE_ROLE_ARN": PIPELINE_ROLE_ARN,
    "ARTIFACT_BUCKET": DEFAULT_BUCKET,
}


def client_environment(endpoint_url: str) -> dict[str, str]:
    """The variables that point boto3 and SDK v3 at the sandbox. run-pipeline polls every
    half second: a sandbox run takes seconds, where AWS's 30 s default would dominate."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "RUN_PIPELINE_POLL_SECONDS": "0.5",
    }
