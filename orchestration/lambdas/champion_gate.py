"""ChampionGate Lambda: is the package this pipeline execution registered at least as good as
the champion, the newest Approved package of its group, less a tolerance?

Event: {"pipeline_execution_arn": "...", "model_package_group_name": "...",
        "tolerance": "0.02", "metric": "auc"}   (metric optional; tolerance a string, as a
        DefinitionSubstitutions value arrives)

Returns {"passed": bool, "metric", "tolerance", "minimum_to_pass",
         "candidate": {"model_package_arn", "version", "value", "metrics_uri"},
         "champion": {...the same...} | null}
The first model (no Approved package) passes: the pipeline's floor already held it. The
state machine branches on `passed`; the numbers go into the approval message.
The SageMaker pipeline applies the same gate (its Champion step): this one runs again at the
end because a package may have been approved in between.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
METRIC_GROUP = "binary_classification_metrics"


class ChampionGateError(Exception):
    """The candidate or champion cannot be found or its metric read; the message says which."""


def registered_package(sagemaker, execution_arn: str) -> str:
    """The ARN of the package the execution's RegisterModel step created."""
    pages = sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn
    )
    for page in pages:
        for step in page["PipelineExecutionSteps"]:
            arn = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
            if arn:
                return arn
    raise ChampionGateError(f"pipeline execution {execution_arn} registered no model package")


def package_metric(sagemaker, s3, arn: str, metric: str) -> dict:
    """{"model_package_arn", "version", "value", "metrics_uri"} of package `arn`."""
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    statistics = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    uri = statistics.get("S3Uri")
    if not uri:
        raise ChampionGateError(f"{arn} has no ModelQuality statistics")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        value = float(report[METRIC_GROUP][metric]["value"])
    except (ClientError, ValueError, KeyError, TypeError) as err:
        raise ChampionGateError(f"{arn}: no {metric} in its report {uri}: {err}") from None
    return {
        "model_package_arn": arn,
        "version": int(described.get("ModelPackageVersion", 0)),
        "value": value,
        "metrics_uri": uri,
    }


def newest_approved(sagemaker, group: str, excluding: str) -> str | None:
    """The ARN of the group's newest Approved package other than `excluding`, or None."""
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved"
    )
    approved = [
        summary
        for page in pages
        for summary in page.get("ModelPackageSummaryList", [])
        if summary.get("ModelApprovalStatus") == "Approved"
        and summary["ModelPackageArn"] != excluding
    ]
    newest = max(approved, key=lambda s: s.get("ModelPackageVersion", 0), default=None)
    return newest["ModelPackageArn"] if newest else None


def compare(sagemaker, s3, execution_arn: str, group: str, tolerance: float, metric: str) -> dict:
    """The verdict (see the module docstring)."""
    candidate = package_metric(sagemaker, s3, registered_package(sagemaker, execution_arn), metric)
    champion_arn = newest_approved(sagemaker, group, excluding=candidate["model_package_arn"])
    champion = package_metric(sagemaker, s3, champion_arn, metric) if champion_arn else None
    minimum = round(champion["value"] - tolerance, 6) if champion else 0.0
    return {
        "passed": candidate["value"] >= minimum,
        "metric": metric,
        "tolerance": tolerance,
        "minimum_to_pass": minimum,
        "candidate": candidate,
        "champion": champion,
    }


def _tolerance(raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 1:
        raise ValueError(f"event field 'tolerance' must be a number in [0, 1], got {raw!r}")
    return value


def handler(event: dict[str, Any], context: Any) -> dict:
    """Lambda entry point. Raises ValueError for a malformed event, ChampionGateError when a
    package or its metric is missing."""
    for field in ("pipeline_execution_arn", "model_package_group_name", "tolerance"):
        if not event.get(field):
            raise ValueError(f"event field {field!r} is missing")
    session = boto3.Session()
    verdict = compare(
        session.client("sagemaker"),
        session.client("s3"),
        event["pipeline_execution_arn"],
        event["model_package_group_name"],
        _tolerance(event["tolerance"]),
        event.get("metric", "auc"),
    )
    logger.info("champion gate: %s", json.dumps(verdict))
    return verdict
