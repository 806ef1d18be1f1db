"""`deploy.py`: create or update a stage's endpoint stack through a change set, and wait.

    python deploy.py --stack-name my-project-staging --config-file staging-config-export.json
    python deploy.py --stack-name my-project-prod --config-file prod-config-export.json \\
        --manifest promotion-manifest.json

Used by GitHub Actions and the sandbox; CodePipeline uses its native CloudFormation action.
Prints stack events as they happen. "No changes" is success. A failed deploy is rolled
back by CloudFormation, and the command exits 1 naming the failing resources and reasons.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from modeldeploy.errors import ConfigError, DeployError, read_json_file, run_cli
from modeldeploy.manifest import read_manifest, verify_config_matches
from modeldeploy.stage_config import TEMPLATE, template_parameters

DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
FAILED = (
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_FAILED",
)
# A stack whose creation failed and rolled back cannot be updated: it is replaced, as
# CodePipeline's REPLACE_ON_FAILURE does.
REPLACE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED")


def load_template_config(path: Path, template: Path) -> dict:
    """A TemplateConfiguration file whose parameters the template declares."""
    config = read_json_file(path)
    declared = template_parameters(template)
    unknown = sorted(set(config.get("Parameters", {})) - set(declared))
    if unknown:
        raise ConfigError(f"{path}: unknown parameter(s) {', '.join(unknown)}")
    return config


class StackDeployer:
    """One change-set deployment of one stack, reporting events through `emit`."""

    def __init__(self, cloudformation, stack_name: str, emit=print, poll_seconds: float = 5):
        self.cfn = cloudformation
        self.stack_name = stack_name
        self.emit = emit
        self.poll_seconds = poll_seconds
        self._seen_events: set[str] = set()

    def stack_status(self) -> str | None:
        try:
            stack = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except ClientError as err:
            if "does not exist" in str(err):
                return None
            raise
        return stack["StackStatus"]

    def deploy(self, template_body: str, config: dict, timeout: float) -> str:
        """Create or update the stack; returns "created", "updated" or "unchanged".

        Raises DeployError naming the failed resources when the stack rolls back.
        """
        status = self.stack_status()
        if status in REPLACE:
            self.emit(f"{self.stack_name}: previous create failed ({status}); replacing it")
            self.cfn.delete_stack(StackName=self.stack_name)
            self._wait_deleted(timeout)
            status = None
        change_set_type = "CREATE" if status is None else "UPDATE"
        name = f"deploy-{datetime.now(UTC):%Y%m%d%H%M%S}"
        self.cfn.create_change_set(
            StackName=self.stack_name,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            TemplateBody=template_body,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": str(v)}
                for k, v in config.get("Parameters", {}).items()
            ],
            Tags=[{"Key": k, "Value": str(v)} for k, v in config.get("Tags", {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        change_set = self._wait_change_set(name, timeout)
        if change_set["Status"] == "FAILED":
            reason = change_set.get("StatusReason", "")
            if change_set_type == "UPDATE" and (
                "didn't contain changes" in reason or "No updates" in reason
            ):
                self.cfn.delete_change_set(StackName=self.stack_name, ChangeSetName=name)
                self.emit(f"{self.stack_name}: no changes to deploy")
                return "unchanged"
            raise DeployError(f"change set {name} failed: {reason}")
        for change in change_set.get("Changes", []):
            resource = change.get("ResourceChange", {})
            self.emit(
                f"  change: {resource.get('Action')} {resource.get('LogicalResourceId')} "
                f"({resource.get('ResourceType')})"
            )
        self._mark_old_events_seen()
        self.cfn.execute_change_set(StackName=self.stack_name, ChangeSetName=name)
        final = self._follow_events(timeout)
        if final not in DONE:
            raise DeployError(f"{self.stack_name} ended {final}: {self._failure_summary()}")
        return "created" if change_set_type == "CREATE" else "updated"

    def _wait_change_set(self, name: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            described = self.cfn.describe_change_set(StackName=self.stack_name, ChangeSetName=name)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if time.monotonic() > deadline:
                raise DeployError(f"change set {name} not ready after {timeout:.0f} s")
            time.sleep(self.poll_seconds)

    def _events(self) -> list[dict]:
        try:
            events = self.cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        except ClientError:
            return []
        return sorted(events, key=lambda e: e["Timestamp"])

    def _mark_old_events_seen(self) -> None:
        self._seen_events.update(e["EventId"] for e in self._events())

    def _print_new_events(self) -> None:
        for event in self._events():
            if event["EventId"] in self._seen_events:
                continue
            self._seen_events.add(event["EventId"])
            reason = (
                f" — {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            )
            self.emit(
                f"  {event['Timestamp']:%H:%M:%S} {event['LogicalResourceId']:<24} "
                f"{event['ResourceStatus']}{reason}"
            )

    def _follow_events(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self._print_new_events()
            status = self.stack_status()
            if status in DONE or status in FAILED:
                self._print_new_events()
                return status
            if time.monotonic() > deadline:
                raise DeployError(f"{self.stack_name} still {status} after {timeout:.0f} s")
            time.sleep(self.poll_seconds)

    def _wait_deleted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.stack_status() not in (None, "DELETE_COMPLETE"):
            if time.monotonic() > deadline:
                raise DeployError(f"{self.stack_name} not deleted after {timeout:.0f} s")
            time.sleep(self.poll_seconds)

    def _failure_summary(self) -> str:
        failed = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', 'no reason')}"
            for e in self._events()
            if e["ResourceStatus"].endswith("FAILED")
        ]
        return "; ".join(failed) or "no failed resource reported"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument(
        "--config-file", required=True, type=Path, help="TemplateConfiguration written by build.py"
    )
    parser.add_argument("--template-file", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--manifest", type=Path, help="promotion manifest; the deploy must be its package"
    )
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    parser.add_argument("--poll-seconds", type=float, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, cloudformation=None) -> int:
    args = parse_args(argv)

    def work() -> int:
        config = load_template_config(args.config_file, args.template_file)
        if args.manifest:
            verify_config_matches(read_manifest(args.manifest), config, str(args.config_file))
        deployer = StackDeployer(
            cloudformation or boto3.client("cloudformation"),
            args.stack_name,
            poll_seconds=args.poll_seconds,
        )
        what = config["Parameters"].get("ModelPackageName") or args.template_file.name
        print(f"Deploying {what} to {args.stack_name}")
        outcome = deployer.deploy(args.template_file.read_text(), config, args.timeout_seconds)
        print(f"Stack {args.stack_name} {outcome}")
        return 0

    return run_cli("deploy.py", work)


if __name__ == "__main__":
    sys.exit(main())
