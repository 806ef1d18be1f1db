"""The endpoint stack's monitoring parameters for a package: its baseline, its image and
the monitoring job's code, uploaded to the artifact bucket.

A stage monitors when its config sets `MonitoringScheduleExpression` (prod-config.json:
hourly) and the package was registered with a data-quality baseline
(DriftCheckBaselines.ModelDataQuality, the churn pipeline's Baseline step); a package
without one is deployed unmonitored, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

logger = logging.getLogger(__name__)
JOB_SCRIPT = Path(__file__).with_name("monitor.py")
CODE_PREFIX = "monitoring/code"


def upload_job_code(s3, bucket: str) -> str:
    """monitor.py under a key named by its content (unchanged code, same object); its URI."""
    body = JOB_SCRIPT.read_bytes()
    key = f"{CODE_PREFIX}/{hashlib.sha256(body).hexdigest()[:16]}/monitor.py"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def monitoring_parameters(sagemaker, s3, package_arn: str, bucket: str, stage: dict) -> dict:
    """Template parameters that switch the stage's schedule on (or explicitly off)."""
    if not stage["Parameters"].get("MonitoringScheduleExpression"):
        return {}
    described = sagemaker.describe_model_package(ModelPackageName=package_arn)
    quality = described.get("DriftCheckBaselines", {}).get("ModelDataQuality", {})
    statistics = quality.get("Statistics", {}).get("S3Uri")
    constraints = quality.get("Constraints", {}).get("S3Uri")
    if not (statistics and constraints):
        logger.warning("%s has no data-quality baseline: no monitoring schedule", package_arn)
        return {"MonitoringScheduleExpression": ""}
    return {
        "BaselineStatisticsUri": statistics,
        "BaselineConstraintsUri": constraints,
        "MonitoringImageUri": described["InferenceSpecification"]["Containers"][0]["Image"],
        "MonitoringCodeUri": upload_job_code(s3, bucket),
    }
