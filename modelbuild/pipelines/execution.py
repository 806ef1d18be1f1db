"""Follow a pipeline execution through the SageMaker API, printing step status changes.

Works with any `sagemaker` boto3 client: AWS, or the sandbox's moto server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")


@dataclass
class ExecutionResult:
    """How an execution ended, and which steps failed with what reason."""

    arn: str
    status: str
    failure_reason: str | None = None
    failed_steps: list[tuple[str, str]] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"


def list_steps(client, execution_arn: str) -> list[dict] | None:
    """All steps of the execution, oldest first.

    Returns None where the service lacks the call: plain moto answers it with a 500.
    """
    pages = client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    )
    try:
        return [step for page in pages for step in page.get("PipelineExecutionSteps", [])]
    except ClientError as err:
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 500:
            raise
        return None


def wait_for_execution(
    client,
    execution_arn: str,
    poll_seconds: float = 30.0,
    emit: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionResult:
    """Poll until the execution is terminal, emitting a line per step status change.

    Returns the ExecutionResult; raises botocore ClientError from the API.
    """
    seen: dict[str, str] = {}
    started = time.monotonic()
    can_list_steps = True
    while True:
        described = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        steps = list_steps(client, execution_arn) if can_list_steps else None
        can_list_steps = steps is not None
        steps = steps or []
        for step in steps:
            name, status = step["StepName"], step["StepStatus"]
            if seen.get(name) != status:
                seen[name] = status
                reason = f" — {step['FailureReason']}" if step.get("FailureReason") else ""
                if step.get("CacheHitResult") and status == "Succeeded":
                    reason = " (cached)"
                elapsed = time.monotonic() - started
                emit(f"[{elapsed:6.1f}s] {name:<18} {status}{reason}")
        status = described["PipelineExecutionStatus"]
        if status in TERMINAL_STATUSES:
            return ExecutionResult(
                arn=execution_arn,
                status=status,
                failure_reason=described.get("FailureReason"),
                failed_steps=[
                    (s["StepName"], s.get("FailureReason", ""))
                    for s in steps
                    if s["StepStatus"] == "Failed"
                ],
                steps=steps,
            )
        sleep(poll_seconds)


def registered_package_arn(steps: list[dict]) -> str | None:
    """The model package a RegisterModel step of the execution created, if any."""
    for step in steps:
        arn = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
        if arn:
            return arn
    return None


# Package metadata a pipeline may register with its quality gate's numbers (the churn
# pipeline's Champion step: the new model's metric and the champion's).
GATE_METADATA = "ChampionGate"


def print_registered_package(
    sagemaker, s3, result: ExecutionResult, emit: Callable[[str], None] = print
) -> tuple[str, str, dict[str, float], str | None] | None:
    """Print the registered package's ARN, approval status, model-quality metrics and, when
    it was registered with one, its champion gate's numbers.

    Returns (ARN, approval status, metrics, gate), or None when nothing was registered.
    """
    arn = registered_package_arn(result.steps)
    if arn is None:
        return None
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    status = package.get("ModelApprovalStatus", "")
    emit(f"Registered model package {arn} ({status})")
    metrics: dict[str, float] = {}
    uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if uri:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ClientError, json.JSONDecodeError) as err:
            emit(f"  metrics at {uri} could not be read: {err}")
            report = {}
        metrics = {
            name: float(metric["value"])
            for group in report.values()
            for name, metric in group.items()
            if isinstance(metric, dict) and "value" in metric
        }
    for name, value in metrics.items():
        emit(f"  {name:<10} {value:.4f}")
    gate = package.get("CustomerMetadataProperties", {}).get(GATE_METADATA)
    if gate:
        emit(f"  champion gate: {gate}")
    return arn, status, metrics, gate


def metrics_markdown(
    arn: str, status: str, metrics: dict[str, float], gate: str | None = None
) -> str:
    """The registered package as a Markdown table (a CI job summary)."""
    rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in metrics.items())
    gate_line = f"\nChampion gate: {gate}\n" if gate else ""
    return (
        f"### Registered model package\n\n`{arn}` ({status})\n\n"
        f"| metric | value |\n| --- | --- |\n{rows}\n{gate_line}"
    )
