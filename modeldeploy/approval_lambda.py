"""The deploy Lambda (terraform/modules/approval-deploy): an approval in the model registry
deploys the group's newest Approved package to the staging stack.

EventBridge invokes `handler` with SageMaker's "Model Package State Change" event. It does
what the deploy pipeline's Build and DeployStaging stages do, with the same code: the newest
Approved package (`registry.latest_approved`, as build.py), which must carry a readable
inference contract, the staging config checked against the endpoint template's rules
(`stage_config`), and a change-set deployment of `endpoint-config-template.yml`
(`deploy.StackDeployer`). The smoke test, the manual approval and prod stay in the deploy
pipeline. The outcome is published to the deployments topic when one is configured.

Settings come from the function's environment (the Terraform module sets them all).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import boto3

from modeldeploy.contract import load_contract
from modeldeploy.deploy import StackDeployer
from modeldeploy.errors import ConfigError
from modeldeploy.registry import latest_approved
from modeldeploy.stage_config import TEMPLATE, export_config, load_stage_config

logger = logging.getLogger(__name__)
STAGING_CONFIG = Path(__file__).with_name("staging-config.json")
REQUIRED = (
    "MODEL_PACKAGE_GROUP_NAME",
    "MODEL_EXECUTION_ROLE_ARN",
    "ARTIFACT_BUCKET",
    "SAGEMAKER_PROJECT_NAME",
    "SAGEMAKER_PROJECT_ID",
    "STAGING_STACK_NAME",
)
# What the function keeps back from its own timeout to report before Lambda stops it.
REPORT_MARGIN_SECONDS = 30


def settings_from(environ) -> dict[str, str]:
    """The function's settings; raises ConfigError naming every missing variable."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise ConfigError(f"deploy Lambda: environment variable(s) {', '.join(missing)} not set")
    return {
        **{name: environ[name] for name in REQUIRED},
        "DEPLOYMENTS_TOPIC_ARN": environ.get("DEPLOYMENTS_TOPIC_ARN", ""),  # optional
    }


def is_approval(event: dict, group: str) -> bool:
    """An approval in `group` (the rule matches only those; anything else is ignored)."""
    detail = event.get("detail") or {}
    return (
        event.get("detail-type") == "SageMaker Model Package State Change"
        and detail.get("ModelPackageGroupName") == group
        and detail.get("ModelApprovalStatus") == "Approved"
    )


def deploy_to_staging(
    settings: dict[str, str],
    sagemaker,
    s3,
    cloudformation,
    timeout_seconds: float,
    poll_seconds: float = 10,
) -> dict:
    """Deploy the newest Approved package to the staging stack; returns what was done.

    Raises DeployError (no Approved package, no usable contract, a rolled-back stack) or
    ConfigError (a staging config the template refuses).
    """
    package = latest_approved(sagemaker, settings["MODEL_PACKAGE_GROUP_NAME"])
    load_contract(sagemaker, s3, package.arn)  # untestable packages are not deployed
    project = settings["SAGEMAKER_PROJECT_NAME"]
    config = export_config(
        load_stage_config(STAGING_CONFIG),
        {
            "ModelPackageName": package.arn,
            "ModelExecutionRoleArn": settings["MODEL_EXECUTION_ROLE_ARN"],
            "SageMakerProjectName": project,
            "SageMakerProjectId": settings["SAGEMAKER_PROJECT_ID"],
            "DataCaptureUploadPath": f"s3://{settings['ARTIFACT_BUCKET']}/datacapture-staging",
        },
        {
            "sagemaker:project-name": project,
            "sagemaker:project-id": settings["SAGEMAKER_PROJECT_ID"],
        },
        source="staging config",
    )
    stack = settings["STAGING_STACK_NAME"]
    deployer = StackDeployer(cloudformation, stack, emit=logger.info, poll_seconds=poll_seconds)
    outcome = deployer.deploy(TEMPLATE.read_text(), config, timeout_seconds)
    return {
        "package": package.arn,
        "version": package.version,
        "stack": stack,
        "outcome": outcome,
    }


def handler(event: dict, context) -> dict:
    logging.getLogger().setLevel(logging.INFO)
    settings = settings_from(os.environ)
    if not is_approval(event, settings["MODEL_PACKAGE_GROUP_NAME"]):
        logger.info("not an approval in %s: ignored", settings["MODEL_PACKAGE_GROUP_NAME"])
        return {"outcome": "ignored"}
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 900
    result = deploy_to_staging(
        settings,
        boto3.client("sagemaker"),
        boto3.client("s3"),
        boto3.client("cloudformation"),
        timeout_seconds=max(remaining - REPORT_MARGIN_SECONDS, 1),
    )
    logger.info("deployed: %s", json.dumps(result))
    if settings.get("DEPLOYMENTS_TOPIC_ARN"):
        boto3.client("sns").publish(
            TopicArn=settings["DEPLOYMENTS_TOPIC_ARN"],
            Subject=f"{result['stack']}: {result['outcome']}",
            Message=json.dumps(result),
        )
    return result
