"""What deploy.py checks before it creates any change set: the package it would serve
exists and is Approved, and prod serves only the package that passed staging."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from modeldeploy.errors import ConfigError, DeployError
from modeldeploy.manifest import MANIFEST_FILE, read_manifest, verify_config_matches

# Stages that only ever serve what passed the stage before them (the promotion manifest).
PROMOTED_STAGES = ("prod",)


def check_package(sagemaker, arn: str, source: str) -> None:
    """Raise ConfigError unless model package `arn` exists and is Approved."""
    where = f"{source}: parameter ModelPackageName"
    try:
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("ValidationException", "ResourceNotFound", "ValidationError"):
            raise ConfigError(f"{where}: model package {arn} does not exist") from None
        raise DeployError(f"cannot describe model package {arn}: {err}") from err
    status = described.get("ModelApprovalStatus")
    if status != "Approved":
        raise ConfigError(f"{where}: model package {arn} is {status}, not Approved")


def promotion_manifest(config: dict, config_file: Path, given: Path | None) -> Path | None:
    """The manifest a deploy checks: the one given, else for a promoted stage the one
    build.py wrote beside the config (a pipeline's build artifact holds both)."""
    if given is not None:
        return given
    beside = Path(config_file).with_name(MANIFEST_FILE)
    stage = config["Parameters"].get("StageName")
    return beside if stage in PROMOTED_STAGES and beside.exists() else None


def check_deployable(sagemaker, config: dict, source: str, manifest: Path | None) -> dict | None:
    """Everything a deploy must pass before a change set; returns the manifest (or None).

    Raises ConfigError (one line naming the file and field) when the package is missing or
    not Approved, or when a promoted stage (prod) has no manifest or another package.
    """
    parameters = config["Parameters"]
    if "ModelPackageName" not in parameters:
        return None  # not a stage's endpoint stack: no package to check
    stage = parameters.get("StageName")
    if stage in PROMOTED_STAGES and manifest is None:
        raise ConfigError(
            f"{source}: deploying to {stage} needs the promotion manifest of the package that "
            f"passed staging (--manifest, or {MANIFEST_FILE} beside the config)"
        )
    promotion = read_manifest(manifest) if manifest else None
    if promotion:
        verify_config_matches(promotion, config, source)
    check_package(sagemaker, parameters["ModelPackageName"], source)
    return promotion
