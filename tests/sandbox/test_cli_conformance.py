"""The AWS CLI (the venv's `aws`) and boto3's waiters against the sandbox, for every
Pipelines call the sandbox README lists: what a user types in a shell works as on AWS.

The pipelines are small hand-written definitions (test_execution_semantics.py's Processing
step, a tiny built-in XGBoost training, model, transform and tuning, a Callback step), so
the file runs in seconds. The CLI's own waiters poll every 60 s: they are used only on jobs
that have ended; a running job is waited for with boto3's waiter at a 1 s delay.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN
from tests.sandbox.test_execution_semantics import (  # noqa: F401 — code_uri is a fixture
    fixture_code_uri,
    record,
    step,
    steps_of,
    wait_for_step,
)
from tests.sandbox.test_local_pipeline import _wait

AWS = Path(sys.executable).with_name("aws")
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
FAST = {"Delay": 1, "MaxAttempts": 60}
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")


@pytest.fixture(name="cli")
def fixture_cli(sandbox, monkeypatch):
    """`aws sagemaker ARGS... --output json` with the sandbox's environment; its JSON.

    The CLI's own driver, as the venv's `aws` script runs it, in this process: a new `aws`
    process spent 0.7 s of CPU starting, for each of this file's 33 calls.
    test_the_aws_executable_reaches_the_sandbox runs the script itself."""
    from awscli.clidriver import create_clidriver

    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)

    def cli(*arguments: str) -> dict:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = create_clidriver().main(["sagemaker", *arguments, "--output", "json"])
        assert code == 0, f"aws sagemaker {arguments[0]}: {err.getvalue()}"
        return json.loads(out.getvalue()) if out.getvalue().strip() else {}

    return cli


def test_the_aws_executable_reaches_the_sandbox(sandbox):
    group = f"cli-{uuid.uuid4().hex[:8]}"
    sandbox.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    done = subprocess.run(
        [str(AWS), "sagemaker", "list-model-package-groups", "--output", "json"],
        env={**os.environ, **sandbox.environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["ModelPackageGroupSummaryList"]
    assert group in [listed_group["ModelPackageGroupName"] for listed_group in listed]


def create(sagemaker, steps: list[dict], parameters: list[dict] | None = None) -> str:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    definition = {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": steps}
    sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=PIPELINE_ROLE_ARN
    )
    return name


def job_name(step: dict, kind: str) -> str:
    return step["Metadata"][kind]["Arn"].rsplit("/", 1)[-1]


def test_start_describe_list_parameters_and_selective_execution(sandbox, cli, code_uri):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    parameters = [
        {"Name": "Greeting", "Type": "String", "DefaultValue": "hello"},
        {"Name": "Rounds", "Type": "Integer", "DefaultValue": 3},
    ]
    steps = [
        step("A", code_uri, "ok"),
        step("B", code_uri, "ok", environment={"SAID": {"Get": "Parameters.Greeting"}}),
    ]
    name = create(sagemaker, steps, parameters)
    arn = cli(
        "start-pipeline-execution",
        "--pipeline-name",
        name,
        "--pipeline-parameters",
        "Name=Greeting,Value=hi",
        "--parallelism-configuration",
        "MaxParallelExecutionSteps=1",
        "--client-request-token",
        uuid.uuid4().hex,
    )["PipelineExecutionArn"]
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    described = cli("describe-pipeline-execution", "--pipeline-execution-arn", arn)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert described["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    a, b = sorted([record(s3, arn, "A"), record(s3, arn, "B")], key=lambda r: r["start"])
    assert a["end"] <= b["start"], "one step at a time was asked for"

    listed = cli("list-pipeline-executions", "--pipeline-name", name)
    assert [
        (e["PipelineExecutionArn"], e["PipelineExecutionStatus"])
        for e in listed["PipelineExecutionSummaries"]
    ] == [(arn, "Succeeded")]
    values = cli("list-pipeline-parameters-for-execution", "--pipeline-execution-arn", arn)
    assert {p["Name"]: p["Value"] for p in values["PipelineParameters"]} == {
        "Greeting": "hi",
        "Rounds": "3",
    }
    executed = {
        s["StepName"]: s
        for s in cli("list-pipeline-execution-steps", "--pipeline-execution-arn", arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert {n: s["StepStatus"] for n, s in executed.items()} == dict.fromkeys("AB", "Succeeded")

    # The steps' processing jobs, as describe/list/wait see them.
    b_job = job_name(executed["B"], "ProcessingJob")
    job = cli("describe-processing-job", "--processing-job-name", b_job)
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["Environment"]["SAID"] == "hi"
    jobs = cli("list-processing-jobs", "--name-contains", arn.rsplit("/", 1)[-1])
    # Metadata's ARNs are lower case, as SageMaker writes a job's ARN; its name keeps the case.
    assert sorted(j["ProcessingJobArn"] for j in jobs["ProcessingJobSummaries"]) == sorted(
        s["Metadata"]["ProcessingJob"]["Arn"] for s in executed.values()
    )
    cli("wait", "processing-job-completed-or-stopped", "--processing-job-name", b_job)

    # Selective execution: B alone; the description names its source.
    config = {"SourcePipelineExecutionArn": arn, "SelectedSteps": [{"StepName": "B"}]}
    selective = cli(
        "start-pipeline-execution",
        "--pipeline-name",
        name,
        "--selective-execution-config",
        json.dumps(config),
    )["PipelineExecutionArn"]
    assert _wait(sagemaker, [selective])[selective] == "Succeeded"
    assert set(steps_of(sagemaker, selective)) == {"B"}
    assert record(s3, selective, "B")["pid"] != record(s3, arn, "B")["pid"]  # ran again
    described = cli("describe-pipeline-execution", "--pipeline-execution-arn", selective)
    assert described["SelectiveExecutionConfig"]["SourcePipelineExecutionArn"] == arn


def test_stop_and_retry_with_the_cli_and_a_boto3_waiter(sandbox, cli, code_uri, tmp_path):
    sagemaker = sandbox.client("sagemaker")
    environment = {"SECONDS": "120", "MARKERS": str(tmp_path)}
    name = create(sagemaker, [step("Once", code_uri, "slow-once", environment=environment)])
    arn = cli("start-pipeline-execution", "--pipeline-name", name)["PipelineExecutionArn"]
    wait_for_step(sagemaker, arn, "Once", "Executing")
    deadline = time.monotonic() + 30
    while "ProcessingJob" not in steps_of(sagemaker, arn)["Once"].get("Metadata", {}):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    running = job_name(steps_of(sagemaker, arn)["Once"], "ProcessingJob")

    cli("stop-pipeline-execution", "--pipeline-execution-arn", arn)
    sagemaker.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=running, WaiterConfig=FAST
    )
    assert _wait(sagemaker, [arn], timeout=30)[arn] == "Stopped"
    assert (
        cli("describe-processing-job", "--processing-job-name", running)["ProcessingJobStatus"]
        == "Stopped"
    )

    cli("retry-pipeline-execution", "--pipeline-execution-arn", arn)
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    [once] = cli("list-pipeline-execution-steps", "--pipeline-execution-arn", arn)[
        "PipelineExecutionSteps"
    ]
    assert (once["StepStatus"], once["AttemptCount"]) == ("Succeeded", 2)
    assert job_name(once, "ProcessingJob") != running


def _callback_step(queue_url: str) -> dict:
    return {
        "Name": "Approve",
        "Type": "Callback",
        "Arguments": {"model": "m-1"},
        "SqsQueueUrl": queue_url,
        "OutputParameters": [{"OutputName": "verdict", "OutputType": "String"}],
    }


def _token(sqs, queue_url: str, arn: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if body["pipelineExecutionArn"] == arn:
                return body["token"]
    raise AssertionError("no callback message")


def test_callback_step_answered_with_the_cli(sandbox, cli):
    sagemaker, sqs = sandbox.client("sagemaker"), sandbox.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"cli-callback-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    name = create(sagemaker, [_callback_step(queue_url)])

    arn = cli("start-pipeline-execution", "--pipeline-name", name)["PipelineExecutionArn"]
    answered = cli(
        "send-pipeline-execution-step-success",
        "--callback-token",
        _token(sqs, queue_url, arn),
        "--output-parameters",
        "Name=verdict,Value=go",
    )
    assert answered["PipelineExecutionArn"] == arn
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    [approve] = steps_of(sagemaker, arn).values()
    assert approve["Metadata"]["Callback"]["OutputParameters"] == [
        {"Name": "verdict", "Value": "go"}
    ]

    arn = cli("start-pipeline-execution", "--pipeline-name", name)["PipelineExecutionArn"]
    cli(
        "send-pipeline-execution-step-failure",
        "--callback-token",
        _token(sqs, queue_url, arn),
        "--failure-reason",
        "rejected by the reviewer",
    )
    assert _wait(sagemaker, [arn])[arn] == "Failed"
    assert "rejected by the reviewer" in steps_of(sagemaker, arn)["Approve"]["FailureReason"]


def _csv(features, labels) -> str:
    return "".join(
        ",".join(map(repr, [float(y), *map(float, x)])) + "\n"
        for x, y in zip(features, labels, strict=True)
    )


def _channel(prefix: str, name: str) -> dict:
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{DEFAULT_BUCKET}/{prefix}/{name}/",
            }
        },
    }


def _model_steps(prefix: str) -> list[dict]:
    """Train (built-in XGBoost) -> Model -> Transform, and a Tuning step beside them."""
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    training = {
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "InputDataConfig": [_channel(prefix, "train"), _channel(prefix, "validation")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{DEFAULT_BUCKET}/{prefix}/models"},
        "ResourceConfig": resources,
        "RoleArn": PIPELINE_ROLE_ARN,
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    return [
        {
            "Name": "Train",
            "Type": "Training",
            "Arguments": {
                **training,
                "HyperParameters": {"objective": "reg:squarederror", "num_round": "10"},
            },
        },
        {
            "Name": "Model",
            "Type": "Model",
            "Arguments": {
                "ExecutionRoleArn": PIPELINE_ROLE_ARN,
                "PrimaryContainer": {
                    "Image": XGBOOST_IMAGE,
                    "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                },
            },
        },
        {
            "Name": "Score",
            "Type": "Transform",
            "Arguments": {
                "ModelName": {"Get": "Steps.Model.ModelName"},
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{DEFAULT_BUCKET}/{prefix}/batch/",
                        }
                    },
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                },
                "TransformOutput": {"S3OutputPath": f"s3://{DEFAULT_BUCKET}/{prefix}/scored"},
                "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            },
        },
        {
            "Name": "Tune",
            "Type": "Tuning",
            "Arguments": {
                "HyperParameterTuningJobConfig": {
                    "Strategy": "Random",
                    "RandomSeed": 1,
                    "ResourceLimits": {
                        "MaxNumberOfTrainingJobs": 2,
                        "MaxParallelTrainingJobs": 2,
                    },
                    "HyperParameterTuningJobObjective": {
                        "Type": "Minimize",
                        "MetricName": "validation:rmse",
                    },
                    "ParameterRanges": {
                        "IntegerParameterRanges": [
                            {"Name": "max_depth", "MinValue": "1", "MaxValue": "5"}
                        ]
                    },
                },
                "TrainingJobDefinition": {
                    **training,
                    "StaticHyperParameters": {"objective": "reg:squarederror", "num_round": "5"},
                },
            },
        },
    ]


def test_training_transform_and_tuning_jobs_through_the_cli_and_waiters(sandbox, cli):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    prefix = f"cli-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(2)
    features = rng.random((120, 3))
    labels = 2 * features[:, 0] - features[:, 1]
    if DEFAULT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=DEFAULT_BUCKET)
    put = {
        "train/t.csv": _csv(features[:80], labels[:80]),
        "validation/v.csv": _csv(features[80:], labels[80:]),
        "batch/b.csv": "".join(",".join(map(repr, map(float, x))) + "\n" for x in features[80:]),
    }
    for key, body in put.items():
        s3.put_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/{key}", Body=body)
    name = create(sagemaker, _model_steps(prefix))
    arn = cli("start-pipeline-execution", "--pipeline-name", name)["PipelineExecutionArn"]

    # boto3's waiters, at a 1 s delay, on jobs that may still be running.
    deadline = time.monotonic() + 60
    while "TrainingJob" not in steps_of(sagemaker, arn).get("Train", {}).get("Metadata", {}):
        assert time.monotonic() < deadline, "the training job never started"
        time.sleep(0.05)
    training = job_name(steps_of(sagemaker, arn)["Train"], "TrainingJob")
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=training, WaiterConfig=FAST
    )
    while "TransformJob" not in steps_of(sagemaker, arn).get("Score", {}).get("Metadata", {}):
        assert time.monotonic() < deadline, "the transform job never started"
        time.sleep(0.05)
    transform = job_name(steps_of(sagemaker, arn)["Score"], "TransformJob")
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=transform, WaiterConfig=FAST
    )
    assert _wait(sagemaker, [arn])[arn] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps_of(sagemaker, arn).items()
    }
    execution_id = arn.rsplit("/", 1)[-1]

    # The CLI: describe, list and (on ended jobs) wait.
    cli("wait", "training-job-completed-or-stopped", "--training-job-name", training)
    cli("wait", "transform-job-completed-or-stopped", "--transform-job-name", transform)
    described = cli("describe-training-job", "--training-job-name", training)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["HyperParameters"] == {"objective": "reg:squarederror", "num_round": "10"}
    listed = cli("list-training-jobs", "--name-contains", execution_id)["TrainingJobSummaries"]
    assert described["TrainingJobArn"] in {j["TrainingJobArn"] for j in listed}
    assert {j["TrainingJobStatus"] for j in listed} == {"Completed"}

    scored = cli("describe-transform-job", "--transform-job-name", transform)
    assert scored["TransformJobStatus"] == "Completed"
    assert scored["TransformOutput"]["S3OutputPath"] == f"s3://{DEFAULT_BUCKET}/{prefix}/scored"
    transforms = cli("list-transform-jobs", "--name-contains", execution_id)
    assert [j["TransformJobArn"] for j in transforms["TransformJobSummaries"]] == [
        scored["TransformJobArn"]
    ]
    output = s3.get_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/scored/b.csv.out")["Body"].read()
    assert len(output.split()) == 40  # one prediction a row

    tuning = job_name(steps_of(sagemaker, arn)["Tune"], "TuningJob")
    tuned = cli("describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", tuning)
    assert tuned["HyperParameterTuningJobStatus"] == "Completed"
    assert tuned["TrainingJobStatusCounters"]["Completed"] == 2
    tunings = cli("list-hyper-parameter-tuning-jobs", "--name-contains", tuning)
    assert [
        j["HyperParameterTuningJobArn"] for j in tunings["HyperParameterTuningJobSummaries"]
    ] == [tuned["HyperParameterTuningJobArn"]]
    trials = cli(
        "list-training-jobs-for-hyper-parameter-tuning-job",
        "--hyper-parameter-tuning-job-name",
        tuning,
    )["TrainingJobSummaries"]
    assert len(trials) == 2
    assert tuned["BestTrainingJob"]["TrainingJobName"] in {t["TrainingJobName"] for t in trials}
    for trial in trials:
        assert (
            cli("describe-training-job", "--training-job-name", trial["TrainingJobName"])[
                "TrainingJobStatus"
            ]
            == "Completed"
        )
