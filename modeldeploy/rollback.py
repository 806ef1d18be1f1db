"""`rollback.py`: put a stage back on the last good package, whatever state it is in.

    python modeldeploy/rollback.py --sagemaker-project-name my-project --stage prod \\
        --reason "latency regression"

1. Picks the package to go back to first (the newest Approved one that is not the package
   the stack was last deployed with), so it refuses, changing nothing, when there is none.
2. Settles the stack `<project>-<stage>` (modeldeploy/stack_recovery.py): change sets never
   executed are deleted, a failed rollback is continued, a stack that never finished
   creating is deleted.
3. Marks the package the stack was deployed with Rejected (unless it is already, or no
   longer exists), so the deploy flow (EventBridge -> deploy pipeline, or the GitHub
   deploy workflow) never picks it again: the rejection is the same event an approver's.
4. Deploys the package picked in 1 with the stack's template and parameters, then
   smoke-tests the endpoint against that package's inference contract.

Run it again after a failure: a package already Rejected is not rejected twice.

A stage whose config names an `Account` (modeldeploy/accounts.py) is rolled back there: the
stack and the smoke test through its deploy role, the registry (pick, reject) here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from modeldeploy.accounts import DeployTarget, session_for, stage_target
from modeldeploy.deploy import StackDeployer
from modeldeploy.errors import DeployError, run_cli
from modeldeploy.registry import describe_package, list_packages
from modeldeploy.smoke import run_smoke_test
from modeldeploy.stack_recovery import deployed_with, settle
from modeldeploy.stage_config import TEMPLATE


def package_group(arn: str) -> str:
    """The group of a model package ARN (…:model-package/<group>/<version>)."""
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) != 3 or parts[0] != "model-package":
        raise DeployError(f"{arn!r} is not a versioned model package ARN")
    return parts[1]


def previous_approved(sagemaker, group: str, excluded: str) -> str:
    """The newest Approved package of `group` other than `excluded`; raises DeployError."""
    approved = [
        s
        for s in list_packages(sagemaker, group)
        if s.get("ModelApprovalStatus") == "Approved" and s["ModelPackageArn"] != excluded
    ]
    if not approved:
        raise DeployError(f"no other Approved package in {group!r} to roll back to")
    newest = max(approved, key=lambda s: (s.get("ModelPackageVersion", 0), s["CreationTime"]))
    return newest["ModelPackageArn"]


def reject(sagemaker, arn: str, reason: str) -> bool:
    """Mark `arn` Rejected; False when it is already, or no longer exists."""
    try:
        package = describe_package(sagemaker, arn)
    except ClientError:
        return False
    if package.approval_status == "Rejected":
        return False
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=f"rolled back: {reason}",
    )
    return True


def rollback(
    cloudformation,
    sagemaker,
    stack_name: str,
    reason: str,
    template: Path,
    timeout: float,
    poll_seconds: float = 5,
    emit=print,
) -> tuple[str, bool, str]:
    """Steps 1-4 above but the smoke test; returns (the package rolled back from, whether
    this call rejected it, the package now deployed). Raises DeployError."""
    deployer = StackDeployer(cloudformation, stack_name, emit=emit, poll_seconds=poll_seconds)
    was = deployed_with(cloudformation, deployer.describe(), stack_name)
    if was is None:
        raise DeployError(f"nothing was ever deployed to {stack_name}: nothing to roll back")
    bad = was.parameters["ModelPackageName"]
    target = previous_approved(sagemaker, package_group(bad), bad)
    settle(deployer, timeout)
    snapshot = deployer.snapshot()
    rejected = reject(sagemaker, bad, reason)
    emit(f"Rolling {stack_name} back from {bad} to {target}")
    deployer.deploy(
        snapshot.template_body if snapshot else template.read_text(),
        {"Parameters": {**was.parameters, "ModelPackageName": target}, "Tags": was.tags},
        timeout,
    )
    return bad, rejected, target


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagemaker-project-name", required=True)
    parser.add_argument("--stage", required=True, choices=("staging", "prod"))
    parser.add_argument("--reason", default="manual rollback")
    parser.add_argument("--stack-name", help="default: <project>-<stage>")
    parser.add_argument(
        "--stage-config",
        type=Path,
        help="the stage config naming the stage's Account, if any "
        "(default: modeldeploy/<stage>-config.json)",
    )
    parser.add_argument(
        "--template-file",
        type=Path,
        default=TEMPLATE,
        help="for a stack that never finished creating (others keep their own template)",
    )
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    parser.add_argument("--poll-seconds", type=float, default=5)
    parser.add_argument("--latency-budget-ms", type=float, default=500)
    parser.add_argument("--latency-requests", type=int, default=50)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, clients: dict | None = None) -> int:
    """`clients`: boto3 clients by service name, made from the default session if not given."""
    args = parse_args(argv)
    given = dict(clients or {})

    def client(service: str):
        if service not in given:
            given[service] = boto3.client(service)
        return given[service]

    endpoint = f"{args.sagemaker_project_name}-{args.stage}"
    stack_name = args.stack_name or endpoint

    def work() -> int:
        config = args.stage_config or Path(__file__).with_name(f"{args.stage}-config.json")
        account = DeployTarget()
        if args.stage_config or config.exists():
            account = stage_target(config, args.sagemaker_project_name)
        if account.account:  # the stack and endpoint are there; the registry is here
            stage = session_for(account, args.stage)
            for service in ("cloudformation", "sagemaker-runtime", "s3"):
                given[service] = stage.client(service)
            print(f"Rolling back {args.stage} in {account.describe()}")
        stage_sagemaker = stage.client("sagemaker") if account.account else client("sagemaker")
        bad, rejected, target = rollback(
            client("cloudformation"),
            client("sagemaker"),
            stack_name,
            args.reason,
            args.template_file,
            args.timeout_seconds,
            args.poll_seconds,
        )
        print(f"{'Rejected' if rejected else 'Did not reject (already Rejected or gone)'} {bad}")
        report = run_smoke_test(
            stage_sagemaker,
            client("sagemaker-runtime"),
            client("s3"),
            endpoint,
            {"model_package_arn": target},
            args.latency_budget_ms,
            args.latency_requests,
            args.timeout_seconds,
            args.poll_seconds,
        )
        for check in report.checks:
            print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
        if not report.passed:
            raise DeployError(f"{endpoint} now runs {target}, but its smoke test failed")
        print(f"{endpoint} now serves {target} (smoke test passed)")
        return 0

    return run_cli("rollback.py", work)


if __name__ == "__main__":
    sys.exit(main())
