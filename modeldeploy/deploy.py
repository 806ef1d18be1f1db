"""`deploy.py`: create or update a stage's endpoint stack through a change set, and wait.

    python deploy.py --stack-name my-project-staging --config-file staging-config-export.json
    python deploy.py --stack-name my-project-prod --config-file prod-config-export.json \\
        --manifest promotion-manifest.json

Used by GitHub Actions and the sandbox; CodePipeline uses its native CloudFormation action.
Before any change set: the config keeps the template's rules (the ones build.py checks), the
package exists and is Approved, and prod deploys only the promotion manifest's package (the
one that passed staging). Prints stack events as they happen. "No changes" is success. A
failed deploy is rolled back by CloudFormation, its change set is deleted, and the command
exits 1 naming the failing resources and reasons. After a prod update the smoke test runs;
if it fails, the stack is put back to its previous template and parameters (the previous
endpoint configuration) and the command says so and exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from modeldeploy import batch_smoke, stage_config
from modeldeploy.accounts import recorded_target, session_for
from modeldeploy.errors import DeployError, run_cli
from modeldeploy.guardrails import rolled_back
from modeldeploy.preflight import PROMOTED_STAGES, check_deployable, promotion_manifest
from modeldeploy.smoke import run_smoke_test
from modeldeploy.stage_config import TEMPLATE

logger = logging.getLogger(__name__)
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
# CodePipeline's REPLACE_ON_FAILURE does. REVIEW_IN_PROGRESS: a create change set that was
# never executed (the stack has no resources).
REPLACE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS")
CHANGE_SET_PREFIX = "deploy-"


def load_template_config(path: Path, template: Path = TEMPLATE) -> dict:
    """A TemplateConfiguration whose every parameter keeps the template's rules (the checks
    build.py makes on stage configs); raises ConfigError naming the file and field."""
    return stage_config.load_template_config(path, template)


def change_set_name(prefix: str = CHANGE_SET_PREFIX) -> str:
    """A change set name no other deploy picks: UTC time to the millisecond and a random
    suffix, within CloudFormation's rule ([a-zA-Z][-a-zA-Z0-9]*, at most 128)."""
    now = datetime.now(UTC)
    return f"{prefix}{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class StackSnapshot:
    """What a stack was deployed with: enough to deploy it again as it was."""

    template_body: str
    parameters: dict[str, str]
    tags: dict[str, str]

    @property
    def config(self) -> dict:
        return {"Parameters": self.parameters, "Tags": self.tags}


class StackDeployer:
    """One change-set deployment of one stack, reporting events through `emit`."""

    def __init__(self, cloudformation, stack_name: str, emit=print, poll_seconds: float = 5):
        self.cfn = cloudformation
        self.stack_name = stack_name
        self.emit = emit
        self.poll_seconds = poll_seconds
        self._seen_events: set[str] = set()

    def describe(self) -> dict | None:
        """The stack's description, or None when there is no such stack."""
        try:
            return self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except ClientError as err:
            if "does not exist" in str(err):
                return None
            raise

    def stack_status(self) -> str | None:
        stack = self.describe()
        return stack["StackStatus"] if stack else None

    def snapshot(self) -> StackSnapshot | None:
        """The template and parameters the stack serves now; None if it serves nothing
        (no stack, or one that never finished creating)."""
        stack = self.describe()
        if stack is None or stack["StackStatus"] in REPLACE:
            return None
        body = self.cfn.get_template(StackName=self.stack_name, TemplateStage="Original")[
            "TemplateBody"
        ]
        return StackSnapshot(
            template_body=body if isinstance(body, str) else json.dumps(body),
            parameters={
                p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
                for p in stack.get("Parameters", [])
            },
            tags={t["Key"]: t["Value"] for t in stack.get("Tags", [])},
        )

    def deploy(self, template_body: str, config: dict, timeout: float) -> str:
        """Create or update the stack; returns "created", "updated" or "unchanged".

        Raises DeployError naming the failed resources when the stack rolls back. Whatever
        fails, the change set this made is not left behind (nor, for a first deploy, the
        empty stack a create change set makes).
        """
        status = self.stack_status()
        if status in REPLACE:
            self.emit(f"{self.stack_name}: previous create failed ({status}); replacing it")
            self.cfn.delete_stack(StackName=self.stack_name)
            self.wait_deleted(timeout)
            status = None
        change_set_type = "CREATE" if status is None else "UPDATE"
        name = change_set_name()
        created = executed = False
        try:
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
            created = True
            change_set = self._wait_change_set(name, timeout)
            if change_set["Status"] == "FAILED":
                reason = change_set.get("StatusReason", "")
                if change_set_type == "UPDATE" and (
                    "didn't contain changes" in reason or "No updates" in reason
                ):
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
            executed = True
        finally:
            if created and not executed:
                self._discard(name, change_set_type)
        final = self._follow_events(timeout)
        if final not in DONE:
            raise DeployError(f"{self.stack_name} ended {final}: {self._failure_summary()}")
        return "created" if change_set_type == "CREATE" else "updated"

    def _discard(self, name: str, change_set_type: str) -> None:
        """Delete a change set that will not run; for a create, the empty stack too.
        Best effort: it runs while another error is on its way to the user."""
        try:
            self.cfn.delete_change_set(StackName=self.stack_name, ChangeSetName=name)
        except (ClientError, BotoCoreError) as err:
            if "does not exist" not in str(err):
                logger.warning("could not delete change set %s: %s", name, err)
        if change_set_type == "CREATE" and self.stack_status() == "REVIEW_IN_PROGRESS":
            try:
                self.cfn.delete_stack(StackName=self.stack_name)
            except (ClientError, BotoCoreError) as err:
                logger.warning("could not delete the empty stack %s: %s", self.stack_name, err)

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

    def wait_deleted(self, timeout: float) -> None:
        """Wait until the stack is gone; raises DeployError after `timeout`."""
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


def endpoint_name(config: dict) -> str:
    """The endpoint the template names: <project>-<stage>."""
    parameters = config["Parameters"]
    return f"{parameters['SageMakerProjectName']}-{parameters['StageName']}"


def smoke_test_or_restore(
    deployer: StackDeployer,
    previous: StackSnapshot | None,
    clients: dict,
    endpoint: str,
    manifest: dict,
    args: argparse.Namespace,
) -> None:
    """Smoke-test the stage just updated; on failure put `previous` back and raise
    DeployError saying what failed and what serves now."""
    report = run_smoke_test(
        clients["sagemaker"],
        clients["sagemaker-runtime"],
        clients["s3"],
        endpoint,
        manifest,
        args.latency_budget_ms,
        args.latency_requests,
        args.smoke_timeout_seconds,
        args.poll_seconds,
    )
    for check in report.checks:
        print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if report.passed:
        print(f"Smoke test of {endpoint} passed")
        return
    failed = next(c for c in report.checks if not c.passed)
    if previous is None:
        raise DeployError(
            f"smoke test of {endpoint} failed ({failed.name}: {failed.detail}); there is no "
            "previous configuration to restore (first deploy)"
        )
    print(f"Smoke test of {endpoint} failed; restoring the previous endpoint configuration")
    try:
        deployer.deploy(previous.template_body, previous.config, args.timeout_seconds)
    except (DeployError, ClientError, BotoCoreError) as err:
        raise DeployError(
            f"smoke test of {endpoint} failed ({failed.name}: {failed.detail}), and restoring "
            f"the previous configuration failed too: {err}; run modeldeploy/rollback.py"
        ) from err
    package = previous.parameters.get("ModelPackageName", "the previous package")
    raise DeployError(
        f"smoke test of {endpoint} failed ({failed.name}: {failed.detail}); restored "
        f"{deployer.stack_name} to its previous configuration, serving {package}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument(
        "--config-file", required=True, type=Path, help="TemplateConfiguration written by build.py"
    )
    parser.add_argument("--template-file", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--manifest",
        type=Path,
        help="promotion manifest; the deploy must be its package (prod: required; "
        "default: promotion-manifest.json beside the config)",
    )
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    parser.add_argument("--poll-seconds", type=float, default=5)
    smoke = parser.add_argument_group("the smoke test after a prod update")
    smoke.add_argument(
        "--no-smoke-test",
        action="store_true",
        help="leave it to a test stage that follows (which must then restore on failure)",
    )
    smoke.add_argument("--latency-budget-ms", type=float, default=500)
    smoke.add_argument("--latency-requests", type=int, default=50)
    smoke.add_argument("--smoke-timeout-seconds", type=float, default=1800)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, cloudformation=None, clients: dict | None = None) -> int:
    """`clients`: boto3 clients by service name (sagemaker, sagemaker-runtime, s3), made
    from the default session when not given."""
    args = parse_args(argv)
    given = dict(clients or {})
    session = boto3

    def client(service: str):
        if service not in given:
            given[service] = session.client(service)
        return given[service]

    def work() -> int:
        nonlocal session, cloudformation
        config = load_template_config(args.config_file, args.template_file)
        # A stage in an account of its own: everything below acts there, as its deploy role.
        target = recorded_target(config, args.config_file, args.manifest)
        if target.account:
            session = session_for(target, config["Parameters"]["StageName"])
            given.clear()
            cloudformation = None
            print(f"Deploying to {target.describe()}")
        manifest_file = promotion_manifest(config, args.config_file, args.manifest)
        manifest = check_deployable(
            client("sagemaker"), config, str(args.config_file), manifest_file
        )
        deployer = StackDeployer(
            cloudformation or client("cloudformation"),
            args.stack_name,
            poll_seconds=args.poll_seconds,
        )
        previous = deployer.snapshot()
        what = config["Parameters"].get("ModelPackageName") or args.template_file.name
        print(f"Deploying {what} to {args.stack_name}")
        try:
            outcome = deployer.deploy(args.template_file.read_text(), config, args.timeout_seconds)
        except DeployError as err:
            # A blue/green update that an alarm rolled back: say so, and what serves now.
            guarded = "StageName" in config["Parameters"] and rolled_back(
                client("sagemaker"), endpoint_name(config), str(err)
            )
            raise DeployError(f"{err}; {guarded}" if guarded else str(err)) from err
        print(f"Stack {args.stack_name} {outcome}")
        promoted = config["Parameters"].get("StageName") in PROMOTED_STAGES and manifest
        if outcome != "unchanged" and promoted and not args.no_smoke_test:
            if "BatchOutputUri" in config["Parameters"]:  # a batch-transform stack
                batch_smoke.smoke_or_restore(
                    deployer,
                    previous,
                    {s: client(s) for s in ("sagemaker", "s3")},
                    config,
                    manifest,
                    args,
                )
                return 0
            smoke_test_or_restore(
                deployer,
                previous,
                {s: client(s) for s in ("sagemaker", "sagemaker-runtime", "s3")},
                endpoint_name(config),
                manifest,
                args,
            )
        return 0

    return run_cli("deploy.py", work)


if __name__ == "__main__":
    sys.exit(main())
