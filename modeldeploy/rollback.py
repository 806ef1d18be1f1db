"""`rollback.py`: take the package live in a stage out of service by hand.

    python modeldeploy/rollback.py --sagemaker-project-name my-project --stage prod \\
        --reason "latency regression"

Marks the live package Rejected in the Model Registry. That is the same event an approver
produces by rejecting it: the deploy flow (EventBridge -> deploy pipeline, or the GitHub
deploy workflow) then runs build.py, which picks the newest package still Approved, and
deploys it. This command prints which package that will be.
"""

from __future__ import annotations

import argparse
import sys

import boto3
from botocore.exceptions import ClientError

from modeldeploy.errors import DeployError, run_cli
from modeldeploy.registry import describe_package, latest_approved, list_packages
from modeldeploy.smoke import served_package


def live_package(sagemaker, endpoint: str) -> str:
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as err:
        raise DeployError(f"endpoint {endpoint} not found: {err}") from None
    arn = served_package(sagemaker, described)
    if not arn:
        raise DeployError(f"endpoint {endpoint} does not serve a model package")
    return arn


def rollback(sagemaker, project: str, stage: str, reason: str) -> tuple[str, str]:
    """Reject what `<project>-<stage>` serves; returns (rejected ARN, ARN to be deployed).

    Raises DeployError when there is nothing to roll back to (the rejection is not made).
    """
    live = live_package(sagemaker, f"{project}-{stage}")
    package = describe_package(sagemaker, live)
    if package.approval_status == "Rejected":
        raise DeployError(f"{live} is already Rejected; the deploy flow has not run since")
    if not _approved_without(sagemaker, package.group, live):
        raise DeployError(f"no other Approved package in {package.group!r} to roll back to")
    sagemaker.update_model_package(
        ModelPackageArn=live,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=f"rolled back: {reason}",
    )
    return live, latest_approved(sagemaker, package.group).arn


def _approved_without(sagemaker, group: str, excluded: str) -> list[str]:
    return [
        s["ModelPackageArn"]
        for s in list_packages(sagemaker, group)
        if s.get("ModelApprovalStatus") == "Approved" and s["ModelPackageArn"] != excluded
    ]


def main(argv: list[str] | None = None, sagemaker=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagemaker-project-name", required=True)
    parser.add_argument("--stage", required=True, choices=("staging", "prod"))
    parser.add_argument("--reason", default="manual rollback")
    args = parser.parse_args(argv)

    def work() -> int:
        rejected, next_live = rollback(
            sagemaker or boto3.client("sagemaker"),
            args.sagemaker_project_name,
            args.stage,
            args.reason,
        )
        print(f"Rejected {rejected}; the deploy flow will now deploy {next_live}")
        return 0

    return run_cli("rollback.py", work)


if __name__ == "__main__":
    sys.exit(main())
