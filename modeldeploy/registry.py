"""Model Registry queries: the newest Approved package, its metrics and its contract URI."""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from modeldeploy.contract import CONTRACT_PROPERTY
from modeldeploy.errors import DeployError


@dataclass(frozen=True)
class Package:
    arn: str
    version: int
    group: str
    approval_status: str
    model_data_url: str
    contract_uri: str | None
    metrics_uri: str | None


def list_packages(sagemaker, group: str, page_size: int = 100) -> list[dict]:
    """Every package summary in `group`, all pages."""
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, PaginationConfig={"PageSize": page_size}
    )
    return [summary for page in pages for summary in page.get("ModelPackageSummaryList", [])]


def describe_package(sagemaker, arn: str) -> Package:
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    container = described["InferenceSpecification"]["Containers"][0]
    statistics = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    return Package(
        arn=described["ModelPackageArn"],
        version=int(described.get("ModelPackageVersion", 0)),
        group=described.get("ModelPackageGroupName", ""),
        approval_status=described["ModelApprovalStatus"],
        model_data_url=container.get("ModelDataUrl", ""),
        contract_uri=described.get("CustomerMetadataProperties", {}).get(CONTRACT_PROPERTY),
        metrics_uri=statistics.get("S3Uri"),
    )


def latest_approved(sagemaker, group: str, page_size: int = 100) -> Package:
    """The newest Approved package of `group` (highest version); never Pending or Rejected.

    Raises DeployError when the group is missing or holds no Approved package.
    """
    try:
        summaries = list_packages(sagemaker, group, page_size)
    except ClientError as err:
        raise DeployError(f"cannot list model packages of group {group!r}: {err}") from err
    approved = [s for s in summaries if s.get("ModelApprovalStatus") == "Approved"]
    if not approved:
        raise DeployError(f"no Approved model package in group {group!r}")
    newest = max(approved, key=lambda s: (s.get("ModelPackageVersion", 0), s["CreationTime"]))
    return describe_package(sagemaker, newest["ModelPackageArn"])


def read_metrics(s3, uri: str | None) -> dict[str, float]:
    """Flat {name: value} of a model-quality report; empty if there is none."""
    if not uri:
        return {}
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, json.JSONDecodeError) as err:
        raise DeployError(f"cannot read the package's metrics at {uri}: {err}") from err
    return {
        name: float(metric["value"])
        for group in report.values()
        for name, metric in group.items()
        if isinstance(metric, dict) and "value" in metric
    }
