"""FormatApprovalRequest Lambda: the text of the approval request a person receives.

Event: {"execution_arn": "<this state machine execution>", "pipeline_execution_arn": "...",
        "gate": <ChampionGate's verdict>}
Returns {"subject": str, "message": str}: the new model's metric and the champion's, where
the evaluation report is, and the two commands that answer. The RequestApproval state adds
the task token itself (only it knows the token).
"""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import quote

SUBJECT_LIMIT = 100  # SNS's limit on Subject


def report_link(metrics_uri: str) -> str:
    """The S3 console page of the evaluation report (its folder holds the ROC curve too)."""
    bucket, _, key = metrics_uri.removeprefix("s3://").partition("/")
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?prefix={quote(folder)}"


def _package(label: str, package: dict | None, metric: str) -> str:
    if not package:
        return f"{label}: none yet (this would be the first approved model)"
    return (
        f"{label}: {metric} {package['value']:.4f} "
        f"(version {package['version']}, {package['model_package_arn']})"
    )


def format_request(execution_arn: str, pipeline_execution_arn: str, gate: dict) -> dict:
    """{"subject", "message"} for the verdict `gate` (see the module docstring)."""
    metric, candidate = gate["metric"], gate["candidate"]
    answer = shlex.quote(execution_arn)
    lines = [
        "A new model is waiting for your approval before it is deployed.",
        "",
        _package("New model", candidate, metric),
        _package("Champion ", gate.get("champion"), metric),
        f"Minimum to pass: {gate['minimum_to_pass']:.4f} "
        f"(champion less tolerance {gate['tolerance']:g})",
        "",
        f"Evaluation report: {candidate['metrics_uri']}",
        f"  {report_link(candidate['metrics_uri'])}",
        f"Pipeline execution: {pipeline_execution_arn}",
        f"State machine execution: {execution_arn}",
        "",
        "Answer with one of:",
        f"  approve --execution-arn {answer} --reason 'why you approve'",
        f"  reject --execution-arn {answer} --reason 'why you reject'",
        "No answer within 24 hours counts as a refusal; production is not changed.",
    ]
    subject = f"Approve model version {candidate['version']}? {metric} {candidate['value']:.4f}"
    # Ends with a blank line: RequestApproval appends "Task token: ..." to it.
    return {"subject": subject[:SUBJECT_LIMIT], "message": "\n".join(lines) + "\n\n"}


def handler(event: dict[str, Any], context: Any) -> dict:
    """Lambda entry point. Raises ValueError for a malformed event."""
    for field in ("execution_arn", "pipeline_execution_arn", "gate"):
        if not event.get(field):
            raise ValueError(f"event field {field!r} is missing")
    return format_request(event["execution_arn"], event["pipeline_execution_arn"], event["gate"])
