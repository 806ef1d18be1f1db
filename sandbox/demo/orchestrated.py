"""The demo's Step Functions scenarios.

stepfunctions  the lifecycle as the state machine runs it: start -> ValidateData ->
               the SageMaker pipeline -> ChampionGate -> approval by task token (answered
               by the demo, or by you with --interactive, through the `approve`/`reject`
               commands) -> Deploy (modeldeploy's deploy Lambda: staging)
drift          prod serves a monitored model (one is promoted first if it does not); its
               traffic shifts (monthly_charges doubled); the monitoring schedule's job
               (`run-monitoring`) finds the violation; its event reaches the orchestration
               stack's rule, which starts the state machine: retraining, up to a new
               package awaiting approval
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from sandbox.demo import orchestration
from sandbox.demo.lifecycle import REPO, Lifecycle, Outcome, _promote
from sandbox.demo.progress import StageFailed
from sandbox.monitoring import run_schedule

SHIFTED_FEATURE = "monthly_charges"
SHIFT_FACTOR = 2.0
TRAFFIC_ROWS = 2_000  # prod captures 20 %: about 400 rows reach the monitoring job
TRAFFIC_SEED = 99  # customers the model has not seen
UPSERT = (
    "import json, sys; from pipelines.churn.pipeline import get_pipeline; "
    "kwargs, tags = json.loads(sys.argv[1]), json.loads(sys.argv[2]); "
    "get_pipeline(**kwargs).upsert(role_arn=kwargs['role'], tags=tags)"
)


def upsert_pipeline(lifecycle: Lifecycle) -> None:
    """The SageMaker pipeline the state machine starts, created as the model-build stack's
    first run (or Terraform) creates it."""
    name = lifecycle.project.name
    with lifecycle.progress.stage(
        "Pipeline definition", f"get_pipeline(...).upsert() → {name}"
    ) as log:
        tags = [{"Key": "sagemaker:project-name", "Value": name}]
        argv = [
            sys.executable,
            "-c",
            UPSERT,
            json.dumps(lifecycle.pipeline_kwargs()),
            json.dumps(tags),
        ]
        log.run(argv, lifecycle.environment, cwd=REPO)


def _deploy_function(lifecycle: Lifecycle) -> str:
    """modeldeploy's deploy Lambda (its zip as `make deploy-lambda` builds it), deploying
    the approved package to the staging stack the deploy pipeline also uses."""
    from modeldeploy.package_lambda import build_zip

    name = lifecycle.project.name
    client = lifecycle.sandbox.client("lambda")
    with tempfile.TemporaryDirectory() as folder:
        code = build_zip(Path(folder) / "deploy-lambda.zip").read_bytes()
    environment = {
        "MODEL_PACKAGE_GROUP_NAME": name,
        "MODEL_EXECUTION_ROLE_ARN": lifecycle.exports[f"{name}-model-execution-role"],
        "ARTIFACT_BUCKET": lifecycle.bucket,
        "SAGEMAKER_PROJECT_NAME": name,
        "SAGEMAKER_PROJECT_ID": lifecycle.project.project_id,
        "STAGING_STACK_NAME": f"{name}-staging",
    }
    role = lifecycle.exports[f"{name}-pipeline-execution-role"]
    return orchestration._function(
        client, f"{name}-deploy", "modeldeploy.approval_lambda.handler", code, role, environment
    )


def deploy_orchestration(lifecycle: Lifecycle) -> orchestration.Orchestration:
    with lifecycle.progress.stage(
        "Orchestration", "codepipeline/orchestration.yml's resources → the sandbox"
    ) as log:
        deployed = orchestration.deploy(
            lifecycle.sandbox.client,
            lifecycle.project.name,
            _deploy_function(lifecycle),
            lifecycle.bucket,
            poll_seconds="1",
        )
        log.say(f"state machine {deployed.state_machine}")
        log.say(f"rule {deployed.rule}: a data-quality violation on prod starts it")
    return deployed


def _messages(lifecycle: Lifecycle, queue_url: str) -> list[str]:
    sqs, found = lifecycle.sandbox.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            found.append(json.loads(message["Body"])["Message"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def state_output(sfn, execution_arn: str, state: str) -> dict | None:
    """What state `state` handed on (its output), from the execution's history."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    for page in pages:
        for event in page["events"]:
            details = event.get("stateExitedEventDetails")
            if details and details["name"] == state:
                return json.loads(details["output"])
    return None


def _record(lifecycle: Lifecycle, outcome: Outcome, arn: str) -> dict:
    sfn = lifecycle.sandbox.client("stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    gate = state_output(sfn, arn, "ChampionGate")
    record = {
        "arn": arn,
        "status": described["status"],
        "error": described.get("error"),
        "input": json.loads(described.get("input") or "{}"),
        "path": orchestration.path(sfn, arn),
        "gate": (gate or {}).get("gate", {}).get("verdict"),
    }
    outcome.orchestration.setdefault("executions", []).append(record)
    return record


def _answer_approval(lifecycle: Lifecycle, deployed, arn: str) -> bool:
    """Show the request, let the demo (or the person) decide, answer by task token."""
    sfn = lifecycle.sandbox.client("stepfunctions")
    orchestration.wait(sfn, arn, for_approval=True)
    request = "\n".join(_messages(lifecycle, deployed.queue_url))
    approved = lifecycle.approve(request or f"execution {arn} waits for approval")
    verb = "approve" if approved else "reject"
    with lifecycle.progress.stage("Approval by task token", f"{verb} --execution-arn ...") as log:
        for line in request.splitlines():
            log.say(f"| {line}")
        reason = "approved by the sandbox demo" if approved else "rejected in the sandbox demo"
        command = str(Path(sys.executable).parent / verb)
        log.run([command, "--execution-arn", arn, "--reason", reason], lifecycle.environment)
    return approved


def stepfunctions(lifecycle: Lifecycle, outcome: Outcome, data_uri: str) -> None:
    upsert_pipeline(lifecycle)
    deployed = deploy_orchestration(lifecycle)
    sfn = lifecycle.sandbox.client("stepfunctions")
    _messages(lifecycle, deployed.queue_url)  # a previous run's notices
    with lifecycle.progress.stage("State machine", "validate → pipeline → champion gate") as log:
        arn = sfn.start_execution(
            stateMachineArn=deployed.state_machine, input=json.dumps({"InputDataUri": data_uri})
        )["executionArn"]
        log.say(f"started {arn}")
        execution = orchestration.wait(sfn, arn, for_approval=True)
        log.say(" → ".join(orchestration.path(sfn, arn)))
        if execution["status"] != "RUNNING":
            raise StageFailed("State machine", f"{execution['status']}: {execution.get('error')}")
    approved = _answer_approval(lifecycle, deployed, arn)
    with lifecycle.progress.stage(
        "Deploy", "the state machine's Deploy (deploy Lambda → staging)"
    ) as log:
        execution = orchestration.wait(sfn, arn)
        log.say(f"{execution['status']}: {' → '.join(orchestration.path(sfn, arn))}")
    record = _record(lifecycle, outcome, arn)
    package = (record["gate"] or {}).get("candidate", {}).get("model_package_arn")
    staging = lifecycle.served_package("staging")
    if approved:
        outcome.expected = record["status"] == "SUCCEEDED" and staging == package
        outcome.message = (
            f"approved by task token: the state machine deployed {package} to staging"
            if outcome.expected
            else f"expected staging to serve {package}: execution {record['status']}, "
            f"staging serves {staging}"
        )
    else:
        outcome.expected = record["error"] == "ApprovalRejected" and staging != package
        outcome.message = f"rejected by task token: {package} was not deployed"


def _monitored(lifecycle: Lifecycle) -> bool:
    summaries = lifecycle.sagemaker.list_monitoring_schedules(
        EndpointName=f"{lifecycle.project.name}-prod"
    )["MonitoringScheduleSummaries"]
    return bool(summaries) and lifecycle.served_package("prod") is not None


def _shifted_traffic(lifecycle: Lifecycle, endpoint: str) -> None:
    from pipelines.churn.generate_data import write_churn_csv
    from pipelines.churn.schema import FEATURE_COLUMNS

    detail = f"{TRAFFIC_ROWS:,} customers, {SHIFTED_FEATURE} ×{SHIFT_FACTOR:g} → {endpoint}"
    with lifecycle.progress.stage("Shifted traffic", detail) as log:
        path = write_churn_csv(lifecycle.work_dir / "traffic.csv", TRAFFIC_ROWS, seed=TRAFFIC_SEED)
        frame = pd.read_csv(path)[FEATURE_COLUMNS]
        frame[SHIFTED_FEATURE] = (frame[SHIFTED_FEATURE] * SHIFT_FACTOR).round(2)
        runtime = lifecycle.sandbox.client("sagemaker-runtime")
        for start in range(0, len(frame), 100):
            body = frame.iloc[start : start + 100].to_csv(header=False, index=False)
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body)
        log.say(f"{len(frame) // 100} requests of 100 rows, captured by the endpoint")


def _feature_drift(lifecycle: Lifecycle, report_uri: str) -> dict:
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    body = lifecycle.sandbox.client("s3").get_object(Bucket=bucket, Key=f"{key}/feature_drift.json")
    return json.loads(body["Body"].read())["features"]


def drift(lifecycle: Lifecycle, outcome: Outcome, summary: Path) -> None:
    endpoint = f"{lifecycle.project.name}-prod"
    if not _monitored(lifecycle):
        print("  prod serves no monitored model yet: promoting one first")
        _promote(lifecycle, outcome, {}, summary)
    deployed = deploy_orchestration(lifecycle)
    sfn = lifecycle.sandbox.client("stepfunctions")
    before = {e["executionArn"] for e in orchestration.executions(sfn, deployed.state_machine)}
    packages_before = len(lifecycle.packages())
    _shifted_traffic(lifecycle, endpoint)
    with lifecycle.progress.stage("Monitoring", f"run-monitoring {endpoint}") as log:
        run = run_schedule(lifecycle.sandbox, endpoint, Path(lifecycle.sandbox.home))
        log.say(f"schedule {run.schedule}: {run.status} (report {run.report_uri})")
        for violation in run.violations:
            log.say(
                f"  {violation['feature_name']}: {violation['constraint_check_type']}: "
                f"{violation['description']}"
            )
        if run.status == "Failed":
            raise StageFailed("Monitoring", run.exit_message, run.log)
        outcome.orchestration["drift"] = _feature_drift(lifecycle, run.report_uri)
        outcome.orchestration["violations"] = run.violations
    with lifecycle.progress.stage(
        "Retraining", f"EventBridge rule {deployed.rule} → state machine"
    ) as log:
        deadline = time.monotonic() + 30
        while not (
            started := [
                e
                for e in orchestration.executions(sfn, deployed.state_machine)
                if e["executionArn"] not in before
            ]
        ):
            if time.monotonic() > deadline or not run.violations:
                raise StageFailed("Retraining", "the rule started no state machine execution")
            time.sleep(0.5)
        arn = started[0]["executionArn"]
        log.say(f"the rule started {arn}")
        orchestration.wait(sfn, arn, for_approval=True)
        log.say(" → ".join(orchestration.path(sfn, arn)))
    record = _record(lifecycle, outcome, arn)
    newest = lifecycle.packages()[-1]
    outcome.expected = (
        record["input"].get("Trigger", {}).get("reason") == "drift"
        and record["path"][-1] == "RequestApproval"
        and len(lifecycle.packages()) == packages_before + 1
        and newest["ModelApprovalStatus"] == "PendingManualApproval"
    )
    outcome.message = (
        f"{len(run.violations)} violation(s) on {endpoint} started retraining: package "
        f"v{newest['ModelPackageVersion']} awaits approval (approve --execution-arn {arn})"
        if outcome.expected
        else f"expected a drift-started execution waiting for approval with a new package; "
        f"got path {record['path']}, newest package {newest['ModelPackageArn']} "
        f"{newest['ModelApprovalStatus']}"
    )
