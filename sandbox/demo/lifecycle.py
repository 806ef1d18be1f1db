"""The lifecycle the demo walks through, and its scenarios.

happy         build → approve → deploy pipeline (staging, smoke, approval, prod, smoke)
gate-failure  the build's quality gate is set out of reach: Fail step, nothing registered,
              nothing deployed
rollback      a second model is promoted over what prod serves (after a first one, in a new
              sandbox), then rejected in the registry: the rejection event redeploys the
              previous Approved package to staging and prod
multi-account the stage configs name a staging and a prod account (a change to
              modeldeploy/): the foundation grants them the registry and artifacts, each
              gets codepipeline/stage-account.yml, and the deploy pipeline, as its CodeBuild
              role, promotes the newest Approved package (a first one is built if there is
              none) into the staging account, then the prod account; the tooling account's
              endpoints stay as they were
stepfunctions, drift   the Step Functions state machine's scenarios (orchestrated.py)
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from modeldeploy.registry import list_packages
from modeldeploy.smoke import served_package
from pipelines.execution import list_steps, registered_package_arn
from sandbox.accounts import admin_environment, assumed_environment
from sandbox.constants import HOME_VARIABLE
from sandbox.demo.codepipeline import DeployPipelineRun, deploy_command
from sandbox.demo.progress import Progress, StageFailed
from sandbox.demo.template import Template
from sandbox.demo.trigger import DeployTrigger

REPO = Path(__file__).resolve().parents[2]
FOUNDATION_TEMPLATE = REPO / "codepipeline" / "foundation.yml"
DEPLOY_TEMPLATE = REPO / "codepipeline" / "model-deploy.yml"
STAGE_ACCOUNT_TEMPLATE = REPO / "codepipeline" / "stage-account.yml"
# The multi-account scenario's stage accounts (moto keeps each account's state apart).
STAGE_ACCOUNTS = {"staging": "222222222222", "prod": "333333333333"}
PIPELINE_MODULE = "pipelines.churn.pipeline"
UNREACHABLE_ROC_AUC = 0.999  # the gate-failure scenario's MinRocAuc
SECOND_MODEL_SEED = 7  # different customers, so the rollback's second model differs


@dataclass(frozen=True)
class Project:
    """What a SageMaker Project passes to the templates and the build."""

    name: str = "churn"
    project_id: str = "p-sandboxdemo"

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:us-east-1:123456789012:project/{self.name}"


@dataclass
class Outcome:
    """What happened, for the summary and the report."""

    scenario: str
    executions: list[dict] = field(default_factory=list)  # {arn, status, package}
    deploy_runs: list[list[str]] = field(default_factory=list)  # stages each run ran
    expected: bool = True
    message: str = ""
    failure: StageFailed | None = None
    # Step Functions scenarios: executions {arn, status, path, gate...}, drift per feature.
    orchestration: dict = field(default_factory=dict)

    def failed(self, failure: StageFailed) -> None:
        """An unexpected failure ends the scenario, naming the stage and the reason."""
        self.failure, self.expected = failure, False
        self.message = f"stage {failure.stage} failed: {failure.reason}"


class Lifecycle:
    def __init__(
        self,
        sandbox,
        work_dir: Path,
        progress: Progress,
        approve: Callable[[str], bool],
        rows: int,
        project: Project = Project(),
        codebuild_overrides: dict[str, str] | None = None,
    ):
        self.sandbox, self.work_dir, self.progress = sandbox, work_dir, progress
        self.approve, self.rows, self.project = approve, rows, project
        self.codebuild_overrides = codebuild_overrides or {}
        self.environment = {
            **os.environ,
            **sandbox.environment,
            HOME_VARIABLE: str(sandbox.home),
            "PYTHONUNBUFFERED": "1",
        }
        self.exports: dict[str, str] = {}
        self.sagemaker = sandbox.client("sagemaker")
        self.trigger: DeployTrigger | None = None
        self.deploy_template: Template | None = None
        # Multi-account: each stage's account, the files a commit changes in the deploy
        # pipeline's source, and the credentials its actions run with.
        self.stage_accounts: dict[str, str] = {}
        self.source_changes: dict[str, str] = {}
        self.pipeline_environment: dict[str, str] | None = None

    # --- stages ----------------------------------------------------------------------------

    def foundation(self) -> None:
        """The project's foundation stack (bucket, key, roles), through CloudFormation."""
        stack = f"{self.project.name}-foundation"
        with self.progress.stage(
            "Foundation stack", f"{FOUNDATION_TEMPLATE.name} → {stack}"
        ) as log:
            config = self.work_dir / "foundation-config.json"
            parameters = {
                "SageMakerProjectName": self.project.name,
                "StageAccountIds": ",".join(self.stage_accounts.values()),
            }
            config.write_text(json.dumps({"Parameters": parameters}))
            log.run(deploy_command(REPO, stack, FOUNDATION_TEMPLATE, config), self.environment)
            exports = self.sandbox.client("cloudformation").get_paginator("list_exports")
            self.exports = {
                e["Name"]: e["Value"] for page in exports.paginate() for e in page["Exports"]
            }
            self.deploy_template = Template(
                DEPLOY_TEMPLATE,
                {
                    "SageMakerProjectName": self.project.name,
                    "SageMakerProjectId": self.project.project_id,
                    "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:"
                    "connection/sandbox",
                    "FullRepositoryId": "local/working-tree",
                    # Stages in accounts of their own: the cross-account deploy actions.
                    **{
                        f"{stage.capitalize()}AccountId": account
                        for stage, account in self.stage_accounts.items()
                    },
                },
                self._import_value,
            )
            self.trigger = DeployTrigger(
                self.deploy_template,
                self.project.name,
                self.sandbox.client("events"),
                self.sandbox.client("sqs"),
            )
            log.say(f"EventBridge rule {self.trigger.rule_id}: {json.dumps(self.trigger.pattern)}")

    def stage_account_stacks(self) -> None:
        """codepipeline/stage-account.yml in each stage account, deployed by that account's
        administrator, trusting the deploy pipeline's CodeBuild role (which the deploy
        pipeline's actions then run as); and the stage configs naming the accounts, as a
        commit to modeldeploy/ would change them."""
        role = self.deploy_template.resolve({"Fn::GetAtt": ["CodeBuildRole", "Arn"]})
        with self.progress.stage("Stage accounts", ", ".join(self.stage_accounts.values())) as log:
            self._pipeline_role(role)
            for stage, account in self.stage_accounts.items():
                config = self.work_dir / f"stage-account-{account}.json"
                parameters = {
                    "SageMakerProjectName": self.project.name,
                    "ToolingPipelineRoleArn": role,
                    "ArtifactKeyArn": self.exports[f"{self.project.name}-artifact-key"],
                }
                config.write_text(json.dumps({"Parameters": parameters}))
                log.say(f"{stage}: account {account}, as its administrator")
                admin = admin_environment(self.sandbox.endpoint_url, account)
                command = deploy_command(
                    REPO, f"{self.project.name}-stage-account", STAGE_ACCOUNT_TEMPLATE, config
                )
                log.run(command, {**self.environment, **admin})
                stage_config = REPO / "modeldeploy" / f"{stage}-config.json"
                changed = {"Account": account, **json.loads(stage_config.read_text())}
                self.source_changes[f"modeldeploy/{stage}-config.json"] = json.dumps(changed)
            self.pipeline_environment = {
                **self.environment,
                **assumed_environment(self.sandbox.endpoint_url, role, "sandbox-demo"),
            }
            log.say(f"the deploy pipeline's actions run as {role}")

    def _pipeline_role(self, arn: str) -> None:
        """The deploy template's CodeBuild role, in the tooling account. On AWS the
        CodeBuild service assumes it; here the tooling account's own credentials stand for
        the service (the sandbox runs the buildspecs), so the trust names both."""
        iam = self.sandbox.client("iam")
        name = arn.rsplit("/", 1)[-1]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "codebuild.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": arn.split(":role/")[0] + ":root"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))

    def data(self, name: str = "churn.csv", seed: int = 42) -> str:
        """Generated customers, uploaded where the pipeline reads its input."""
        from pipelines.churn.generate_data import write_churn_csv

        uri = f"s3://{self.bucket}/{self.project.name}/data/{name}"
        with self.progress.stage("Data", f"{self.rows:,} generated rows → {uri}") as log:
            path = write_churn_csv(self.work_dir / "data" / name, self.rows, seed=seed)
            self.sandbox.client("s3").upload_file(str(path), self.bucket, uri.split("/", 3)[3])
            log.say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and uploaded it")
        return uri

    def model_build(self, parameters: dict, summary: Path, outcome: Outcome) -> dict:
        """`run-pipeline` with the project's arguments, against the sandbox. The execution
        is recorded in `outcome` even when it fails (the report draws its graph)."""
        execution = {"arn": None, "status": "Failed", "package": None}
        outcome.executions.append(execution)
        argv = [
            str(Path(sys.executable).parent / "run-pipeline"),
            "--module-name",
            PIPELINE_MODULE,
            "--role-arn",
            self.exports[f"{self.project.name}-pipeline-execution-role"],
            "--kwargs",
            json.dumps(self.pipeline_kwargs()),
            "--tags",
            json.dumps([{"Key": "sagemaker:project-name", "Value": self.project.name}]),
            "--parameters",
            json.dumps(parameters),
            "--summary-markdown",
            str(summary),
        ]
        before = self.executions()
        with self.progress.stage("Model build", "run-pipeline") as log:
            try:
                log.run(argv, self.environment, cwd=REPO)
            except StageFailed as failed:
                failed.reason = _match(r"Failed step: (.+)", log.lines) or failed.reason
                raise
            finally:
                started = [arn for arn in self.executions() if arn not in before]
                execution["arn"] = started[-1] if started else None
            execution.update(status="Succeeded", package=self.registered_package(execution["arn"]))
            log.say(f"registered {execution['package']} (found in the registry)")
        return execution

    def set_approval(self, package_arn: str, status: str, why: str) -> None:
        """Approve or reject a package; the registry's event must start the deploy pipeline."""
        verb = "Approve" if status == "Approved" else "Reject"
        with self.progress.stage(f"{verb} package", package_arn.rsplit("/", 2)[-2:][-1]) as log:
            self.trigger.drain()
            self.sagemaker.update_model_package(
                ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=why
            )
            log.say(f"{package_arn}: ModelApprovalStatus={status} ({why})")
            event = self.trigger.wait()
            if event is None:
                raise StageFailed(f"{verb} package", "no state-change event reached the rule")
            detail = event["detail"]
            log.say(
                f"EventBridge: '{event['detail-type']}' {detail['ModelPackageGroupName']}/"
                f"{detail['ModelPackageVersion']} {detail['ModelApprovalStatus']} matched rule "
                f"{self.trigger.rule_id} → starting the deploy pipeline"
            )

    def deploy_pipeline(self, outcome: Outcome) -> None:
        run = DeployPipelineRun(
            template=self.deploy_template,
            workspace=self.work_dir / f"deploy-{len(outcome.deploy_runs) + 1}",
            repo=REPO,
            environment=self.pipeline_environment or self.environment,
            progress=self.progress,
            approve=self.approve,
            codebuild_overrides=self.codebuild_overrides,
            source_changes=self.source_changes,
        )
        outcome.deploy_runs.append(run.stages_run)
        run.run()

    # --- helpers ---------------------------------------------------------------------------

    @property
    def bucket(self) -> str:
        return self.exports[f"{self.project.name}-artifact-bucket"]

    def pipeline_kwargs(self) -> dict:
        """As the model-build buildspec passes them (see buildspec.yml)."""
        name = self.project.name
        return {
            "region": "us-east-1",
            "sagemaker_project_name": name,
            "sagemaker_project_id": self.project.project_id,
            "sagemaker_project_arn": self.project.arn,
            "role": self.exports[f"{name}-pipeline-execution-role"],
            "default_bucket": self.bucket,
            "pipeline_name": name,
            "model_package_group_name": name,
            "base_job_prefix": name,
        }

    def _import_value(self, name: str) -> str:
        if name not in self.exports:
            raise StageFailed("Deploy pipeline", f"no CloudFormation export named {name!r}")
        return self.exports[name]

    def registered_package(self, execution_arn: str | None) -> str:
        """The package the execution's RegisterModel step created, from the step's metadata
        (ListPipelineExecutionSteps), else the newest package in the project's group."""
        arn = None
        if execution_arn:
            arn = registered_package_arn(list_steps(self.sagemaker, execution_arn) or [])
        if arn is None:
            newest = self.packages()
            arn = newest[-1]["ModelPackageArn"] if newest else None
        if arn is None:
            raise StageFailed("Model build", f"no model package in group {self.project.name!r}")
        return arn

    def executions(self) -> list[str]:
        """The project pipeline's executions (ListPipelineExecutions), oldest first."""
        pages = self.sagemaker.get_paginator("list_pipeline_executions").paginate(
            PipelineName=self.project.name
        )
        try:
            found = [e for page in pages for e in page["PipelineExecutionSummaries"]]
        except ClientError:
            return []  # the pipeline does not exist yet
        return [e["PipelineExecutionArn"] for e in sorted(found, key=lambda e: e["StartTime"])]

    def packages(self) -> list[dict]:
        """The project's model packages, oldest first."""
        found = list_packages(self.sagemaker, self.project.name)
        return sorted(found, key=lambda p: p.get("ModelPackageVersion", 0))

    def stage_sagemaker(self, stage: str, account: str | None = None):
        """SageMaker in the account a stage lives in (`account`, else the stage's own)."""
        account = account or self.stage_accounts.get(stage)
        if account is None:
            return self.sagemaker
        admin = admin_environment(self.sandbox.endpoint_url, account)
        return boto3.client(
            "sagemaker",
            endpoint_url=self.sandbox.endpoint_url,
            region_name=admin["AWS_DEFAULT_REGION"],
            aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
        )

    def describe_endpoint(self, stage: str, sagemaker=None) -> dict | None:
        """A stage's endpoint as DescribeEndpoint answers, or None if it has none."""
        sagemaker = sagemaker or self.stage_sagemaker(stage)
        try:
            return sagemaker.describe_endpoint(EndpointName=f"{self.project.name}-{stage}")
        except sagemaker.exceptions.ClientError:
            return None

    def served_package(self, stage: str, sagemaker=None) -> str | None:
        """The package a stage's endpoint serves (endpoint → config → model → package)."""
        sagemaker = sagemaker or self.stage_sagemaker(stage)
        endpoint = self.describe_endpoint(stage, sagemaker)
        return served_package(sagemaker, endpoint) if endpoint else None


def _match(pattern: str, lines: list[str]) -> str | None:
    for line in reversed(lines):
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    return None


def run_scenario(lifecycle: Lifecycle, outcome: Outcome, summary: Path) -> None:
    """Walk `outcome.scenario`, recording into `outcome`; a StageFailed that the scenario
    does not expect propagates."""
    scenario = outcome.scenario
    if scenario == "multi-account":
        lifecycle.stage_accounts = dict(STAGE_ACCOUNTS)
    lifecycle.foundation()
    data_uri = lifecycle.data()
    if scenario in ("stepfunctions", "drift"):
        from sandbox.demo import orchestrated  # the Step Functions scenarios

        if scenario == "stepfunctions":
            orchestrated.stepfunctions(lifecycle, outcome, data_uri)
        else:
            orchestrated.drift(lifecycle, outcome, summary)
        return
    if scenario == "multi-account":
        _multi_account(lifecycle, outcome, summary)
        return
    if scenario == "gate-failure":
        _gate_failure(lifecycle, outcome, summary)
        return
    if scenario == "rollback":
        _rollback(lifecycle, outcome, summary)
        return
    package = _promote(lifecycle, outcome, {}, summary)
    serving = lifecycle.served_package("prod")
    outcome.expected = serving == package
    outcome.message = f"prod serves the approved package {serving}"
    if not outcome.expected:
        outcome.message = f"prod serves {serving}, expected the approved package {package}"


def _rollback(lifecycle: Lifecycle, outcome: Outcome, summary: Path) -> None:
    """Promote a second model over what prod serves (promoting a first one if it serves
    nothing yet), reject it in the registry, and expect prod back on the first."""
    first = lifecycle.served_package("prod") or _promote(lifecycle, outcome, {}, summary)
    second_data = lifecycle.data("churn-v2.csv", seed=SECOND_MODEL_SEED)
    second = _promote(lifecycle, outcome, {"InputDataUri": second_data}, summary)
    if lifecycle.served_package("prod") != second:
        raise StageFailed("Deploy pipeline", f"prod does not serve the second model {second}")
    lifecycle.set_approval(second, "Rejected", "rolled back by the sandbox demo")
    lifecycle.deploy_pipeline(outcome)
    serving = lifecycle.served_package("prod")
    outcome.expected = serving == first
    outcome.message = (
        f"prod serves the first package again ({first}) after {second} was rejected"
        if outcome.expected
        else f"prod serves {serving}, expected the first package {first}"
    )


def _multi_account(lifecycle: Lifecycle, outcome: Outcome, summary: Path) -> None:
    """Promote into the stage accounts: the newest Approved package (the deploy pipeline
    runs for the commit naming the accounts), or a first one built and approved."""
    tooling = {s: lifecycle.served_package(s, lifecycle.sagemaker) for s in ("staging", "prod")}
    lifecycle.stage_account_stacks()
    approved = [p for p in lifecycle.packages() if p.get("ModelApprovalStatus") == "Approved"]
    if approved:
        package = approved[-1]["ModelPackageArn"]
        print(
            "  modeldeploy/ changed (the stage configs name accounts): the deploy pipeline "
            f"promotes the newest Approved package, {package}"
        )
        lifecycle.deploy_pipeline(outcome)
    else:
        package = _promote(lifecycle, outcome, {}, summary)
    serving = {s: lifecycle.served_package(s) for s in ("staging", "prod")}
    after = {s: lifecycle.served_package(s, lifecycle.sagemaker) for s in ("staging", "prod")}
    outcome.expected = serving == {"staging": package, "prod": package} and after == tooling
    outcome.message = (
        f"account {STAGE_ACCOUNTS['staging']} (staging) and account "
        f"{STAGE_ACCOUNTS['prod']} (prod) serve {package}; the tooling account's endpoints "
        "are unchanged"
        if outcome.expected
        else f"expected {package} in both stage accounts and the tooling account unchanged; "
        f"stage accounts serve {serving}, the tooling account {after} (before: {tooling})"
    )


def _promote(lifecycle: Lifecycle, outcome: Outcome, parameters: dict, summary: Path) -> str:
    execution = lifecycle.model_build(parameters, summary, outcome)
    lifecycle.set_approval(execution["package"], "Approved", "approved by the sandbox demo")
    lifecycle.deploy_pipeline(outcome)
    return execution["package"]


def _gate_failure(lifecycle: Lifecycle, outcome: Outcome, summary: Path) -> None:
    """A threshold no model meets: the build must stop at Fail, registering and deploying
    nothing (compared with what the sandbox held before, which may be a previous run's)."""
    packages_before = len(lifecycle.packages())
    serving_before = {stage: lifecycle.served_package(stage) for stage in ("staging", "prod")}
    try:
        lifecycle.model_build({"MinRocAuc": UNREACHABLE_ROC_AUC}, summary, outcome)
    except StageFailed as failed:
        outcome.failure = failed
    registered = len(lifecycle.packages()) - packages_before
    changed = [s for s, arn in serving_before.items() if lifecycle.served_package(s) != arn]
    stopped_at_fail = outcome.failure is not None and outcome.failure.reason.startswith("Fail")
    outcome.expected = stopped_at_fail and registered == 0 and not changed
    outcome.message = (
        f"the gate held: {outcome.failure.reason}; nothing registered, nothing deployed"
        if outcome.expected
        else "expected a stop at the Fail step with nothing registered or deployed; got "
        f"failure={outcome.failure and outcome.failure.reason!r}, {registered} new "
        f"package(s), endpoints changed: {changed}"
    )
