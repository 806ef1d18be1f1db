"""Drift -> retraining, end to end in the sandbox: the churn pipeline registers a package
with its data-quality baseline, the endpoint stack (modeldeploy's template, with prod's
monitoring schedule) serves it and captures its traffic, the schedule's job (the product's
monitor.py, fetched from S3 by the schedule's own entrypoint) compares the captured traffic
with the baseline, and a violation's event reaches the orchestration stack's rule, which
starts the state machine: a new execution that retrains and waits for approval.

The deploy function is a stand-in (as in test_lifecycle_in_sandbox.py); the state
machine, its Lambdas, the pipeline, the endpoint, the capture and the rule are real.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from modeldeploy.monitoring.parameters import monitoring_parameters
from pipelines.churn.generate_data import write_churn_csv
from pipelines.churn.schema import FEATURE_COLUMNS
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION
from sandbox.demo import orchestration
from sandbox.monitoring import run_schedule

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "drift"
ENDPOINT = f"{PROJECT}-prod"
CAPTURE = f"s3://{DEFAULT_BUCKET}/datacapture-prod"
ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
DEPLOY_STAND_IN = "def handler(event, context):\n    return {'deployed': event['detail']}\n"


def _wait_pipeline(sagemaker, arn: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
        if status not in ("Executing", "Stopping"):
            return status
        time.sleep(0.5)
    raise TimeoutError(arn)


def _deploy_function(client) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("deploy.py", DEPLOY_STAND_IN)
    role = client("iam").create_role(RoleName=f"{PROJECT}-deploy", AssumeRolePolicyDocument="{}")
    return client("lambda").create_function(
        FunctionName=f"{PROJECT}-deploy",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="deploy.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]


def _endpoint_stack(sandbox, package: str) -> None:
    """modeldeploy's template with prod's monitoring, its parameters as build.py makes them."""
    prod = json.loads((ROOT / "modeldeploy" / "prod-config.json").read_text())
    monitoring = monitoring_parameters(
        sandbox.client("sagemaker"), sandbox.client("s3"), package, DEFAULT_BUCKET, prod
    )
    parameters = {
        "SageMakerProjectName": PROJECT,
        "SageMakerProjectId": "p-drift",
        "ModelExecutionRoleArn": ROLE,
        "ModelPackageName": package,
        "StageName": "prod",
        "EndpointInstanceType": "ml.m5.large",
        "EndpointInstanceCount": "1",
        "DataCaptureEnabled": "true",
        "SamplingPercentage": "100",
        "DataCaptureUploadPath": CAPTURE,
        "MonitoringScheduleExpression": prod["Parameters"]["MonitoringScheduleExpression"],
        **monitoring,
    }
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack(
        StackName=ENDPOINT,
        TemplateBody=(ROOT / "modeldeploy" / "endpoint-config-template.yml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=ENDPOINT, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


@pytest.fixture(name="world", scope="module")
def fixture_world(sandbox, tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.environment.items():
            patch.setenv(name, value)
        s3, sagemaker = sandbox.client("s3"), sandbox.client("sagemaker")
        if DEFAULT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=DEFAULT_BUCKET)
        data = write_churn_csv(folder / "churn.csv", rows=3_000, seed=3)
        s3.upload_file(str(data), DEFAULT_BUCKET, f"{PROJECT}/data/churn.csv")
        from pipelines.churn.pipeline import get_pipeline

        get_pipeline(
            region=REGION,
            role=PIPELINE_ROLE_ARN,
            default_bucket=DEFAULT_BUCKET,
            pipeline_name=PROJECT,
            model_package_group_name=PROJECT,
            base_job_prefix=PROJECT,
        ).upsert(role_arn=PIPELINE_ROLE_ARN)
        arn = sagemaker.start_pipeline_execution(PipelineName=PROJECT)["PipelineExecutionArn"]
        assert _wait_pipeline(sagemaker, arn) == "Succeeded"
        [package] = sagemaker.list_model_packages(ModelPackageGroupName=PROJECT)[
            "ModelPackageSummaryList"
        ]
        _endpoint_stack(sandbox, package["ModelPackageArn"])
        deployed = orchestration.deploy(
            sandbox.client, PROJECT, _deploy_function(sandbox.client), DEFAULT_BUCKET
        )
        # Customers the model has not seen, from the same population: what prod serves.
        traffic = pd.read_csv(write_churn_csv(folder / "traffic.csv", rows=1_000, seed=21))
        yield {
            "sandbox": sandbox,
            "package": package["ModelPackageArn"],
            "orchestration": deployed,
            "traffic": traffic[FEATURE_COLUMNS],
            "home": folder,
        }
        sfn = sandbox.client("stepfunctions")
        for execution in orchestration.executions(sfn, deployed.state_machine):
            if execution["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution["executionArn"], cause="test over")


def _invoke(sandbox, frame: pd.DataFrame) -> None:
    runtime = sandbox.client("sagemaker-runtime")
    for start in range(0, len(frame), 100):
        body = frame.iloc[start : start + 100].to_csv(header=False, index=False)
        runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=body)


def _captured(sandbox) -> list[dict]:
    s3 = sandbox.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=DEFAULT_BUCKET, Prefix=f"datacapture-prod/{ENDPOINT}/"
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return [
        {"key": key, **json.loads(s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read())}
        for key in keys
    ]


def test_the_package_carries_its_baseline_and_prod_a_monitoring_schedule(world):
    sagemaker = world["sandbox"].client("sagemaker")
    described = sagemaker.describe_model_package(ModelPackageName=world["package"])
    quality = described["DriftCheckBaselines"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"].endswith("/baseline/statistics.json")
    assert quality["Constraints"]["S3Uri"].endswith("/baseline/constraints.json")
    [summary] = sagemaker.list_monitoring_schedules(EndpointName=ENDPOINT)[
        "MonitoringScheduleSummaries"
    ]
    schedule = sagemaker.describe_monitoring_schedule(
        MonitoringScheduleName=summary["MonitoringScheduleName"]
    )
    job = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    assert job["BaselineConfig"]["StatisticsResource"]["S3Uri"] == quality["Statistics"]["S3Uri"]
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == (
        "cron(0 * ? * * *)"
    )


def test_the_endpoint_captures_in_sagemakers_format(world):
    sandbox = world["sandbox"]
    _invoke(sandbox, world["traffic"].iloc[:100])
    deadline = time.monotonic() + 10  # capture is written in the background, as on AWS
    while not (records := _captured(sandbox)):
        assert time.monotonic() < deadline, "nothing captured"
        time.sleep(0.1)
    [record] = records
    parts = record["key"].split("/")
    assert parts[:3] == ["datacapture-prod", ENDPOINT, "AllTraffic"]
    assert [len(p) for p in parts[3:7]] == [4, 2, 2, 2] and parts[7].endswith(".jsonl")
    request = record["captureData"]["endpointInput"]
    assert (request["observedContentType"], request["mode"], request["encoding"]) == (
        "text/csv",
        "INPUT",
        "CSV",
    )
    assert request["data"] == world["traffic"].iloc[:100].to_csv(header=False, index=False)
    response = record["captureData"]["endpointOutput"]
    assert (response["mode"], response["encoding"]) == ("OUTPUT", "JSON")
    assert len(json.loads(response["data"])["predictions"]) == 100
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}


def test_traffic_like_training_starts_nothing(world):
    sandbox, deployed = world["sandbox"], world["orchestration"]
    _invoke(sandbox, world["traffic"].iloc[100:])
    run = run_schedule(sandbox, ENDPOINT, world["home"])
    assert (run.status, run.violations) == ("Completed", [])
    time.sleep(1)  # what a rule would have started, it starts within this
    assert orchestration.executions(sandbox.client("stepfunctions"), deployed.state_machine) == []


def test_shifted_traffic_is_a_violation_that_starts_retraining(world):
    sandbox, deployed = world["sandbox"], world["orchestration"]
    shifted = world["traffic"].copy()
    shifted["monthly_charges"] = shifted["monthly_charges"] * 2
    _invoke(sandbox, shifted)
    run = run_schedule(sandbox, ENDPOINT, world["home"])
    assert run.status == "CompletedWithViolations"
    assert {(v["feature_name"], v["constraint_check_type"]) for v in run.violations} == {
        ("monthly_charges", "baseline_drift_check")
    }
    s3 = sandbox.client("s3")
    bucket, _, key = run.report_uri.removeprefix("s3://").partition("/")
    report = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{key}/constraint_violations.json")["Body"].read()
    )
    assert report["violations"] == run.violations
    sfn = sandbox.client("stepfunctions")
    deadline = time.monotonic() + 30
    while not (started := orchestration.executions(sfn, deployed.state_machine)):
        assert time.monotonic() < deadline, "the rule started no execution"
        time.sleep(0.3)
    [execution] = started
    given = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert given == {
        "InputDataUri": f"s3://{DEFAULT_BUCKET}/{PROJECT}/data/",
        "Trigger": {
            "reason": "drift",
            "endpoint": ENDPOINT,
            "monitoringSchedule": run.schedule,
            "violations": 1,
        },
    }
    # Retraining: validated, trained, registered, and waiting for a person's approval.
    orchestration.wait(sfn, execution["executionArn"], for_approval=True)
    assert orchestration.path(sfn, execution["executionArn"])[-3:] == [
        "ChampionVerdict",
        "FormatApprovalRequest",
        "RequestApproval",
    ]
    packages = sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName=PROJECT)
    statuses = sorted(
        (p["ModelPackageVersion"], p["ModelApprovalStatus"])
        for p in packages["ModelPackageSummaryList"]
    )
    assert statuses[-1] == (2, "PendingManualApproval")
