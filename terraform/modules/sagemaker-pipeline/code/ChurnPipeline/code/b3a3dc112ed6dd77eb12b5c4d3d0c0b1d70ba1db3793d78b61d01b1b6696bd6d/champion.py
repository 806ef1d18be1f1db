"""Champion step: the bar a new model must clear to replace the one in production.

Runs in the SageMaker scikit-learn processing container (boto3 is there; only this file is
shipped, so it imports nothing from the project). It looks up the champion, the newest
Approved package of the model package group, reads that package's ROC AUC from the
model-quality report it was registered with, and writes `champion.json`, which the
pipeline's `CheckChampion` condition reads:

    {"metric": "auc",
     "candidate": {"value": 0.91},                  # this execution's Evaluate report
     "champion": {"value": 0.90, "model_package_arn": "...", "version": 3} | null,
     "tolerance": 0.01,
     "minimum_to_pass": 0.89,                      # champion - tolerance; 0 without one
     "summary": "candidate auc=0.9100 champion v3 auc=0.9000 tolerance=0.01 minimum=0.8900"}

`summary` is registered with the package (metadata `ChampionGate`, whose values allow no
parentheses or commas), so run-pipeline, the job summary and the registry show both numbers.

The first model (no Approved package yet) has no champion: `minimum_to_pass` is 0 and the
fixed per-environment floor (`CheckEvaluation`) decides alone. The step is never cached:
the registry changes between runs even when the data does not.

A champion whose report cannot be read fails the step, naming the package: comparing
against nothing would let any model through.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

METRIC = "auc"
METRIC_GROUP = "binary_classification_metrics"
REPORT_FILE = "champion.json"


class ChampionError(Exception):
    """The champion cannot be looked up or its metric read; the message names the package."""


def _metric_of(report: dict, where: str) -> float:
    try:
        return float(report[METRIC_GROUP][METRIC]["value"])
    except (KeyError, TypeError, ValueError):
        raise ChampionError(f"{where}: no {METRIC_GROUP}.{METRIC}.value") from None


def latest_approved(sagemaker, group: str) -> dict | None:
    """The summary of the newest Approved package of `group` (highest version), or None."""
    approved: list[dict] = []
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved"
        )
        for page in pages:
            approved.extend(page.get("ModelPackageSummaryList", []))
    except ClientError as err:
        # The group appears with the first registration: before it, there is no champion.
        if err.response["Error"]["Code"] in ("ResourceNotFound", "ValidationException"):
            return None
        raise
    approved = [p for p in approved if p.get("ModelApprovalStatus") == "Approved"]
    return max(approved, key=lambda p: p.get("ModelPackageVersion", 0), default=None)


def champion_metric(sagemaker, s3, summary: dict) -> dict:
    """{"value", "model_package_arn", "version"} of the champion `summary` names.

    Raises ChampionError when the package has no model-quality report or it lacks the metric.
    """
    arn = summary["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    uri = (
        described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    )
    if not uri:
        raise ChampionError(f"champion {arn} has no ModelQuality statistics to compare with")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, json.JSONDecodeError) as err:
        raise ChampionError(f"champion {arn}: cannot read its report {uri}: {err}") from None
    return {
        "value": _metric_of(report, f"champion {arn} report {uri}"),
        "model_package_arn": arn,
        "version": int(described.get("ModelPackageVersion", 0)),
    }


def gate_report(candidate: float, champion: dict | None, tolerance: float) -> dict:
    """What champion.json holds (see the module docstring)."""
    minimum = round(champion["value"] - tolerance, 6) if champion else 0.0
    summary = f"candidate {METRIC}={candidate:.4f} "
    if champion:
        summary += (
            f"champion v{champion['version']} {METRIC}={champion['value']:.4f} "
            f"tolerance={tolerance:g} minimum={minimum:.4f}"
        )
    else:
        summary += "no champion yet"
    return {
        "metric": METRIC,
        "candidate": {"value": candidate},
        "champion": champion,
        "tolerance": tolerance,
        "minimum_to_pass": minimum,
        "summary": summary,
    }


def run(args: argparse.Namespace, session: boto3.Session | None = None) -> dict:
    """Look up the champion, write champion.json; returns its content."""
    evaluation = Path(args.evaluation_dir) / "evaluation.json"
    candidate = _metric_of(json.loads(evaluation.read_text()), str(evaluation))
    session = session or boto3.Session(region_name=args.region)
    sagemaker = session.client("sagemaker")
    summary = latest_approved(sagemaker, args.model_package_group_name)
    champion = champion_metric(sagemaker, session.client("s3"), summary) if summary else None
    report = gate_report(candidate, champion, args.tolerance)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    base = "/opt/ml/processing"
    parser = argparse.ArgumentParser(description="Look up the champion's metric.")
    parser.add_argument("--model-package-group-name", required=True)
    parser.add_argument("--tolerance", type=float, required=True)
    parser.add_argument("--region", help="the registry's region (default: boto3's)")
    parser.add_argument("--evaluation-dir", default=f"{base}/evaluation")
    parser.add_argument("--output-dir", default=f"{base}/champion")
    args = parser.parse_args(argv)
    if not 0 <= args.tolerance <= 1:
        parser.error(f"--tolerance must be in [0, 1], got {args.tolerance}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except (ChampionError, ClientError, BotoCoreError, OSError, json.JSONDecodeError) as err:
        print(f"ChampionError: {err}", file=sys.stderr)
        return 1
    print(report["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
