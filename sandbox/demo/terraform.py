"""`make demo IAC=terraform`: the happy lifecycle with the build side provisioned by
Terraform (terraform/environments/dev) instead of CloudFormation.

terraform init/apply against the sandbox → data under `data/` (the new-data EventBridge
rule Terraform made starts the pipeline Terraform made) → the execution registers a package
→ approval in the registry (the approval rule invokes the deploy Lambda Terraform made,
which deploys the staging stack) → staging serves the approved package → the Lambda's stack
and the packages removed, terraform destroy. The rest of the promotion (smoke tests, the
manual approval, prod) is the deploy pipeline's, which CloudFormation provisions
(terraform/README.md, "Differences from the CloudFormation side").

The working copy of terraform/ and its state live in `<sandbox home>/terraform-demo`, so a
run that was stopped before its destroy is picked up by the next one's apply.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from botocore.exceptions import ClientError

from modeldeploy.package_lambda import build_zip as build_deploy_zip
from orchestration.package_lambda import build_zip as build_orchestration_zip
from pipelines.execution import list_steps
from sandbox.demo.lifecycle import REPO, Lifecycle, Outcome, Project
from sandbox.demo.progress import StageFailed

PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
PLUGIN_DIR_VARIABLE = "TF_PLUGIN_DIR"
# Go collects garbage 4× less often in terraform and its provider: loading the AWS
# provider's schema, which every command does, allocates heavily. A validate took 2.8 s of
# CPU, now 1.9 s, for 60 MB more memory. A GOGC of the caller's own is kept.
GO_RUNTIME = {"GOGC": os.environ.get("GOGC", "400")}
ENVIRONMENT = "dev"
PROJECT = Project(name="churn-dev", project_id="p-terraform")  # terraform.tfvars, module default
BUILD_TIMEOUT_SECONDS = 600
DEPLOY_TIMEOUT_SECONDS = 300


def plugin_dir_candidates() -> list[Path]:
    """Where provider mirrors are usually kept (Terraform's implied local mirror
    directories first, then shared install locations)."""
    home = Path.home()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [
        home / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        *(Path(d) / "terraform" / "plugins" for d in data_dirs.split(":") if d),
        Path("/opt/terraform/plugins"),
        Path("/opt/tf-plugins"),
        Path("/usr/lib/terraform/plugins"),
    ]


def find_plugin_dir() -> tuple[Path | None, str]:
    """(mirror root, "") or (None, why not). The registry is not reachable offline: the
    provider comes from a local mirror, $TF_PLUGIN_DIR or the first usual place holding it."""
    given = os.environ.get(PLUGIN_DIR_VARIABLE)
    if given:
        root = Path(given)
        if (root / PROVIDER).is_dir():
            return root, ""
        return None, f"{PLUGIN_DIR_VARIABLE}={given} holds no {PROVIDER}"
    for root in plugin_dir_candidates():
        if (root / PROVIDER).is_dir():
            return root, ""
    return None, (
        f"no local mirror of the hashicorp/aws provider (looked for {PROVIDER} under "
        f"{PLUGIN_DIR_VARIABLE} and {', '.join(map(str, plugin_dir_candidates()))}; "
        "`terraform providers mirror <dir>` makes one)"
    )


def unavailable() -> str | None:
    """Why the Terraform demo cannot run here, or None."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH (1.5 or later is needed)"
    root, why_not = find_plugin_dir()
    return None if root else why_not


class TerraformLifecycle(Lifecycle):
    """The demo's lifecycle with Terraform's dev environment in place of the foundation
    stack and the deploy pipeline's staging stage."""

    def __init__(self, sandbox, work_dir: Path, progress, approve, rows: int, **kwargs):
        super().__init__(sandbox, work_dir, progress, approve, rows, project=PROJECT, **kwargs)
        self.tree = Path(sandbox.home) / "terraform-demo"
        self.root = self.tree / "terraform" / "environments" / ENVIRONMENT
        self.outputs: dict = {}
        self._before_upload: set[str] = set()
        self.plugin_dir, _ = find_plugin_dir()
        base = {k: v for k, v in self.environment.items() if not k.startswith("TF_")}
        self.terraform_environment = {
            **base,
            **GO_RUNTIME,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_VAR_aws_max_retries": "2",  # an action the sandbox lacks fails now
            "TF_VAR_s3_use_path_style": "true",
            "TF_VAR_force_destroy": "true",
            "TF_VAR_kms_deletion_window_in_days": "7",
            "TF_VAR_lambda_zip_path": str(self.tree / "build" / "deploy-lambda.zip"),
            "TF_VAR_orchestration_zip_path": str(self.tree / "build" / "orchestration-lambda.zip"),
        }

    def terraform(self, log, *args: str) -> list[str]:
        argv = ["terraform", f"-chdir={self.root}", *args]
        return log.run(argv, self.terraform_environment)

    # --- stages ----------------------------------------------------------------------------

    def foundation(self) -> None:
        """terraform init and apply of the dev environment against the sandbox."""
        with self.progress.stage(
            "Terraform apply", f"terraform/environments/{ENVIRONMENT} → {self.sandbox.endpoint_url}"
        ) as log:
            # The copy keeps state and .terraform/ out of the repository; the ASL file goes
            # where the orchestration module reads it.
            shutil.copytree(REPO / "terraform", self.tree / "terraform", dirs_exist_ok=True)
            asl = REPO / "orchestration" / "state_machine.asl.json"
            (self.tree / "orchestration").mkdir(parents=True, exist_ok=True)
            shutil.copy(asl, self.tree / "orchestration" / asl.name)
            build_deploy_zip(self.tree / "build" / "deploy-lambda.zip")
            build_orchestration_zip(self.tree / "build" / "orchestration-lambda.zip")
            log.say("built the Lambdas' zips (make deploy-lambda)")
            self.terraform(log, "init", "-no-color", f"-plugin-dir={self.plugin_dir}")
            self.terraform(log, "apply", "-auto-approve", "-no-color")
            printed = subprocess.run(
                ["terraform", f"-chdir={self.root}", "output", "-json", "-no-color"],
                env=self.terraform_environment,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            self.outputs = json.loads(printed)["model_build"]["value"]
            name = self.project.name
            # What the report and the helpers read from the foundation stack's exports.
            self.exports = {
                f"{name}-artifact-bucket": self.outputs["bucket_name"],
                f"{name}-pipeline-execution-role": self.outputs["pipeline_role_arn"],
            }

    def data(self, name: str = "churn.csv", seed: int = 42) -> str:
        """Generated customers, uploaded under `data/`: the new-data rule starts the pipeline.

        Each run in the same sandbox gets other customers (seed 42, 43, ...): the steps'
        cache compares inputs by content, and an earlier run's outputs went with its
        destroyed bucket, so the same data would reuse outputs that no longer exist."""
        from pipelines.churn.generate_data import write_churn_csv

        runs = self.tree / "runs"
        previous = int(runs.read_text()) if runs.exists() else 0
        runs.write_text(str(previous + 1))
        seed += previous
        uri = f"s3://{self.bucket}/data/{name}"
        with self.progress.stage("Data", f"{self.rows:,} generated rows → {uri}") as log:
            path = write_churn_csv(self.work_dir / "data" / name, self.rows, seed=seed)
            self._before_upload = set(self.executions())
            self.sandbox.client("s3").upload_file(str(path), self.bucket, f"data/{name}")
            log.say(
                f"uploaded {path.stat().st_size / 1e6:.1f} MB; rule "
                f"{self.outputs['new_data_rule_name']} starts pipeline {self.project.name}"
            )
        return uri

    def model_build_started_by_the_rule(self, outcome: Outcome) -> dict:
        """The execution the new-data rule started, waited for; its registered package."""
        execution = {"arn": None, "status": "Failed", "package": None}
        outcome.executions.append(execution)
        with self.progress.stage("Model build", "started by the new-data rule") as log:
            deadline = time.monotonic() + BUILD_TIMEOUT_SECONDS
            while not (started := [a for a in self.executions() if a not in self._before_upload]):
                if time.monotonic() > deadline:
                    raise StageFailed("Model build", "the new-data rule started no execution")
                time.sleep(0.5)
            execution["arn"] = started[-1]
            log.say(f"execution {execution['arn']}")
            status = self._wait_for_execution(execution["arn"], deadline)
            execution["status"] = status
            if status != "Succeeded":
                steps = list_steps(self.sagemaker, execution["arn"]) or []
                failed = [
                    f"{s['StepName']}: {s['FailureReason']}" for s in steps if "FailureReason" in s
                ]
                for line in failed:
                    log.say(line)
                raise StageFailed("Model build", failed[-1] if failed else f"ended {status}")
            execution["package"] = self.registered_package(execution["arn"])
            log.say(f"registered {execution['package']} (PendingManualApproval)")
        return execution

    def _wait_for_execution(self, arn: str, deadline: float) -> str:
        while time.monotonic() < deadline:
            status = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
                "PipelineExecutionStatus"
            ]
            if status not in ("Executing", "Stopping"):
                return status
            time.sleep(1)
        raise StageFailed("Model build", f"{arn} still running after {BUILD_TIMEOUT_SECONDS} s")

    def approve_for_staging(self, package_arn: str) -> None:
        """Approve in the registry; the approval rule's deploy Lambda deploys staging."""
        with self.progress.stage("Approve package", package_arn.rsplit("/", 1)[-1]) as log:
            if not self.approve(f"deploy {package_arn} to staging?"):
                raise StageFailed("Approve package", "rejected at the manual approval")
            self.sagemaker.update_model_package(
                ModelPackageArn=package_arn,
                ModelApprovalStatus="Approved",
                ApprovalDescription="approved by the sandbox demo (Terraform)",
            )
            log.say(
                f"{package_arn}: Approved; rule {self.outputs['approval_rule_name']} invokes "
                f"{self.outputs['deploy_lambda_name']}"
            )
        with self.progress.stage("Deploy Lambda", f"{self.project.name}-staging") as log:
            deadline = time.monotonic() + DEPLOY_TIMEOUT_SECONDS
            # Served, and the invocation over (its REPORT line logged): the stack is settled.
            while self.served_package("staging") != package_arn or not any(
                line.startswith("REPORT ") for line in self._lambda_log()
            ):
                if time.monotonic() > deadline:
                    for line in self._lambda_log():
                        log.say(line)
                    raise StageFailed(
                        "Deploy Lambda", f"staging does not serve {package_arn} after the approval"
                    )
                time.sleep(1)
            group = f"/aws/lambda/{self.outputs['deploy_lambda_name']}"
            for line in self._lambda_log():
                log.say(f"[{group}] {line}")

    def _lambda_log(self) -> list[str]:
        """The deploy Lambda's own log lines (CloudWatch Logs, as on AWS)."""
        logs = self.sandbox.client("logs")
        group = f"/aws/lambda/{self.outputs['deploy_lambda_name']}"
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            return [e["message"].rstrip() for page in pages for e in page["events"]]
        except ClientError as err:
            return [f"no log of the deploy Lambda: {err}"]

    def teardown(self) -> None:
        """The deploy Lambda's stack and the group's packages (not Terraform's: destroy
        refuses a group with packages, as on AWS), then terraform destroy."""
        if not self.root.is_dir():
            return
        with self.progress.stage(
            "Terraform destroy", f"terraform/environments/{ENVIRONMENT}"
        ) as log:
            cloudformation = self.sandbox.client("cloudformation")
            stack = f"{self.project.name}-staging"
            try:
                cloudformation.delete_stack(StackName=stack)
                cloudformation.get_waiter("stack_delete_complete").wait(
                    StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
                )
                log.say(f"deleted stack {stack} (the deploy Lambda's)")
            except ClientError:
                pass
            for arn in self.executions():
                self._wait_for_execution(arn, time.monotonic() + BUILD_TIMEOUT_SECONDS)
            for package in self.packages():
                self.sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
            self.terraform(log, "destroy", "-auto-approve", "-no-color")


def run_terraform_scenario(lifecycle: TerraformLifecycle, outcome: Outcome) -> None:
    """The happy scenario on Terraform's resources: staging must serve the approved package."""
    lifecycle.foundation()
    lifecycle.data()
    execution = lifecycle.model_build_started_by_the_rule(outcome)
    lifecycle.approve_for_staging(execution["package"])
    serving = lifecycle.served_package("staging")
    outcome.expected = serving == execution["package"]
    outcome.message = (
        f"staging ({lifecycle.project.name}-staging) serves the approved package {serving}, "
        "deployed by the approval rule's Lambda (all provisioned by Terraform)"
        if outcome.expected
        else f"staging serves {serving}, expected the approved package {execution['package']}"
    )
