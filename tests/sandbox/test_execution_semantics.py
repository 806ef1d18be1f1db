"""How the sandbox runs an execution, as SageMaker Pipelines does: independent steps side by
side, RetryPolicy, StopPipelineExecution, RetryPipelineExecution, selective execution, jobs
listed and logged where AWS lists and logs them.

The pipelines here are small hand-written definitions of Processing steps running a few
lines of Python, so each test shows one behaviour in a couple of seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN
from tests.sandbox.test_local_pipeline import _wait

# Each script prints what it does and records it in its output folder; `MARKERS` is a host
# folder the test gives it (through the Environment) to remember earlier attempts.
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    out = "/opt/ml/processing/output"
    behaviour = os.environ["BEHAVIOUR"]
    markers = os.environ.get("MARKERS", "")
    print("step starts:", behaviour, flush=True)
    record = {"start": time.time(), "pid": os.getpid()}
    if markers:
        with open(os.path.join(markers, os.environ["STEP"] + ".pid"), "w") as f:
            f.write(str(os.getpid()))
        runs = os.path.join(markers, os.environ["STEP"] + ".runs")
        with open(runs, "a") as f:
            f.write("run\\n")
        first = open(runs).read().count("run") == 1
    if behaviour == "sleep" or (behaviour == "slow-once" and first):
        time.sleep(float(os.environ.get("SECONDS", "1")))
    elif behaviour == "killed-once" and first:
        os.kill(os.getpid(), signal.SIGKILL)
    elif behaviour == "fails-once" and first:
        sys.exit("fails on its first run")
    elif behaviour == "fails":
        sys.exit("always fails")
    upstream = "/opt/ml/processing/upstream/record.json"
    if os.path.exists(upstream):
        record["upstream"] = json.load(open(upstream))
    record["end"] = time.time()
    json.dump(record, open(os.path.join(out, "record.json"), "w"))
    print("step ends", flush=True)
    """
)


IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(name="code_uri", scope="module")
def fixture_code_uri(sandbox) -> str:
    s3 = sandbox.client("s3")
    if DEFAULT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=DEFAULT_BUCKET)
    s3.put_object(Bucket=DEFAULT_BUCKET, Key="semantics/code/step.py", Body=SCRIPT.encode())
    return f"s3://{DEFAULT_BUCKET}/semantics/code"


def step(name: str, code_uri: str, behaviour: str, upstream: str | None = None, **extra) -> dict:
    """A Processing step running SCRIPT; with `upstream`, it reads that step's record."""
    environment = {"BEHAVIOUR": behaviour, "STEP": name, **extra.pop("environment", {})}
    inputs = [
        {
            "InputName": "code",
            "S3Input": {
                "S3Uri": code_uri,
                "LocalPath": "/opt/ml/processing/input/code",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
    ]
    if upstream:
        inputs.append(
            {
                "InputName": "upstream",
                "S3Input": {
                    "S3Uri": {
                        "Get": f"Steps.{upstream}.ProcessingOutputConfig.Outputs['out']"
                        ".S3Output.S3Uri"
                    },
                    "LocalPath": "/opt/ml/processing/upstream",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        )
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/step.py"],
            },
            "RoleArn": PIPELINE_ROLE_ARN,
            "Environment": environment,
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        f"s3://{DEFAULT_BUCKET}/semantics",
                                        {"Get": "Execution.PipelineExecutionId"},
                                        name,
                                    ],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
        **extra,
    }


def create(sagemaker, steps: list[dict]) -> str:
    """Create a pipeline of `steps`; returns its name."""
    name = f"semantics-{uuid.uuid4().hex[:8]}"
    definition = {"Version": "2020-12-01", "Parameters": [], "Steps": steps}
    sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=PIPELINE_ROLE_ARN
    )
    return name


def start(sagemaker, steps: list[dict], **request) -> tuple[str, str]:
    """Create a pipeline of `steps` and start it; returns (pipeline name, execution ARN)."""
    name = create(sagemaker, steps)
    arn = sagemaker.start_pipeline_execution(PipelineName=name, **request)["PipelineExecutionArn"]
    return name, arn


def steps_of(sagemaker, arn: str) -> dict[str, dict]:
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def record(s3, arn: str, name: str) -> dict:
    key = f"semantics/{arn.rsplit('/', 1)[-1]}/{name}/record.json"
    return json.loads(s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read())


def wait_for_step(sagemaker, arn: str, name: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while steps_of(sagemaker, arn).get(name, {}).get("StepStatus") != status:
        assert time.monotonic() < deadline, f"{name} never reached {status}"
        time.sleep(0.05)


def test_independent_steps_run_side_by_side(sandbox, code_uri):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    branches = [step(n, code_uri, "sleep", environment={"SECONDS": "1.5"}) for n in "AB"]
    _, arn = start(sagemaker, branches)
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    a, b = record(s3, arn, "A"), record(s3, arn, "B")
    assert a["start"] < b["end"] and b["start"] < a["end"], "the two branches did not overlap"


def test_parallelism_configuration_of_one_runs_them_in_turn(sandbox, code_uri):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    branches = [step(n, code_uri, "sleep", environment={"SECONDS": "0.5"}) for n in "AB"]
    _, arn = start(sagemaker, branches, ParallelismConfiguration={"MaxParallelExecutionSteps": 1})
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    a, b = sorted([record(s3, arn, "A"), record(s3, arn, "B")], key=lambda r: r["start"])
    assert a["end"] <= b["start"]


def test_a_step_waits_for_the_step_whose_output_it_reads(sandbox, code_uri):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    _, arn = start(sagemaker, [step("A", code_uri, "ok"), step("B", code_uri, "ok", "A")])
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    assert record(s3, arn, "B")["upstream"]["pid"] == record(s3, arn, "A")["pid"]


def test_stop_ends_the_running_job_and_starts_nothing_after_it(sandbox, code_uri, tmp_path):
    sagemaker = sandbox.client("sagemaker")
    group = f"stopped-{uuid.uuid4().hex[:6]}"
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "DependsOn": ["Slow"],
        "Arguments": {
            "ModelPackageGroupName": group,
            "InferenceSpecification": {
                "Containers": [{"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelApprovalStatus": "PendingManualApproval",
        },
    }
    slow = step("Slow", code_uri, "sleep", environment={"SECONDS": "120", "MARKERS": str(tmp_path)})
    _, arn = start(sagemaker, [slow, register])
    wait_for_step(sagemaker, arn, "Slow", "Executing")
    pid_file = tmp_path / "Slow.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pid_file.read_text())

    sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
        "PipelineExecutionStatus"
    ] in ("Stopping", "Stopped")
    assert _wait(sagemaker, [arn], timeout=30)[arn] == "Stopped"

    steps = steps_of(sagemaker, arn)
    assert steps["Slow"]["StepStatus"] == "Stopped"
    assert "Register" not in steps
    job = steps["Slow"]["Metadata"]
    assert job == {} or "ProcessingJob" in job
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the job's process is gone
    assert not sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    jobs = sagemaker.list_processing_jobs(NameContains=arn.rsplit("/", 1)[-1])
    assert [j["ProcessingJobStatus"] for j in jobs["ProcessingJobSummaries"]] == ["Stopped"]

    with pytest.raises(sagemaker.exceptions.ClientError, match="only an Executing one"):
        sagemaker.stop_pipeline_execution(
            PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex
        )


def test_retry_policy_retries_the_failures_it_names(sandbox, code_uri, tmp_path):
    sagemaker = sandbox.client("sagemaker")
    policy = [
        {
            "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"],
            "IntervalSeconds": 0,
            "BackoffRate": 1.0,
            "MaxAttempts": 2,
        }
    ]
    markers = {"MARKERS": str(tmp_path)}
    killed = step("Killed", code_uri, "killed-once", environment=markers, RetryPolicies=policy)
    erring = step("Erring", code_uri, "fails-once", environment=markers, RetryPolicies=policy)
    _, arn = start(sagemaker, [killed])
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    assert steps_of(sagemaker, arn)["Killed"]["AttemptCount"] == 2

    # The script's own error is an AlgorithmError on AWS, which no policy retries.
    _, arn = start(sagemaker, [erring])
    assert _wait(sagemaker, [arn])[arn] == "Failed"
    erred = steps_of(sagemaker, arn)["Erring"]
    assert erred["AttemptCount"] == 1
    assert "fails on its first run" in erred["FailureReason"]


def test_retry_pipeline_execution_resumes_from_the_failed_step(sandbox, code_uri, tmp_path):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    markers = {"MARKERS": str(tmp_path)}
    first = step("First", code_uri, "ok", environment=markers)
    flaky = step("Flaky", code_uri, "fails-once", "First", environment=markers)
    _, arn = start(sagemaker, [first, flaky])
    assert _wait(sagemaker, [arn])[arn] == "Failed"
    with pytest.raises(sagemaker.exceptions.ClientError, match="Failed or Stopped"):
        done_name, done = start(sagemaker, [step("Fine", code_uri, "ok")])
        _wait(sagemaker, [done])
        sagemaker.retry_pipeline_execution(
            PipelineExecutionArn=done, ClientRequestToken=uuid.uuid4().hex
        )

    sagemaker.retry_pipeline_execution(
        PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex
    )
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    steps = steps_of(sagemaker, arn)
    assert steps["Flaky"]["StepStatus"] == "Succeeded"
    assert steps["Flaky"]["AttemptCount"] == 2
    assert "FailureReason" not in steps["Flaky"]
    assert steps["Flaky"]["StartTime"] >= steps["First"]["EndTime"]
    assert steps["Flaky"]["EndTime"] >= steps["Flaky"]["StartTime"]
    assert (tmp_path / "First.runs").read_text().count("run") == 1  # not run again
    assert record(s3, arn, "Flaky")["upstream"]["pid"] == record(s3, arn, "First")["pid"]


def test_selective_execution_runs_the_selected_steps_on_earlier_outputs(sandbox, code_uri):
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    name, source = start(sagemaker, [step("A", code_uri, "ok"), step("B", code_uri, "ok", "A")])
    assert _wait(sagemaker, [source])[source] == "Succeeded"
    arn = sagemaker.start_pipeline_execution(
        PipelineName=name,
        SelectiveExecutionConfig={
            "SourcePipelineExecutionArn": source,
            "SelectedSteps": [{"StepName": "B"}],
        },
    )["PipelineExecutionArn"]
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    assert set(steps_of(sagemaker, arn)) == {"B"}
    assert record(s3, arn, "B")["upstream"]["pid"] == record(s3, source, "A")["pid"]

    with pytest.raises(sagemaker.exceptions.ClientError, match="no step named Nope"):
        sagemaker.start_pipeline_execution(
            PipelineName=name,
            SelectiveExecutionConfig={
                "SourcePipelineExecutionArn": source,
                "SelectedSteps": [{"StepName": "Nope"}],
            },
        )


def test_selective_execution_refuses_a_step_whose_inputs_never_ran(sandbox, code_uri):
    sagemaker = sandbox.client("sagemaker")
    steps = [step("A", code_uri, "fails"), step("B", code_uri, "ok", "A")]
    name, source = start(sagemaker, steps)
    assert _wait(sagemaker, [source])[source] == "Failed"
    with pytest.raises(sagemaker.exceptions.ClientError, match="needs the output of A"):
        sagemaker.start_pipeline_execution(
            PipelineName=name,
            SelectiveExecutionConfig={
                "SourcePipelineExecutionArn": source,
                "SelectedSteps": [{"StepName": "B"}],
            },
        )


def test_jobs_are_listed_described_and_logged_as_on_aws(sandbox, code_uri):
    sagemaker, logs = sandbox.client("sagemaker"), sandbox.client("logs")
    _, arn = start(sagemaker, [step("Logged", code_uri, "ok")])
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    job_arn = steps_of(sagemaker, arn)["Logged"]["Metadata"]["ProcessingJob"]["Arn"]
    job_name = job_arn.rsplit("/", 1)[-1]

    listed = sagemaker.list_processing_jobs(NameContains=arn.rsplit("/", 1)[-1])
    [summary] = listed["ProcessingJobSummaries"]
    assert summary["ProcessingJobStatus"] == "Completed"
    assert summary["ProcessingJobArn"] == job_arn
    described = sagemaker.describe_processing_job(ProcessingJobName=job_name)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingEndTime"] >= described["ProcessingStartTime"]

    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=f"{described['ProcessingJobName']}/",
    )["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamName=streams[0]["logStreamName"],
    )["events"]
    messages = [e["message"] for e in events]
    assert "step starts: ok" in messages and "step ends" in messages


def test_a_failed_step_lets_running_ones_finish_and_starts_no_more(sandbox, code_uri):
    sagemaker = sandbox.client("sagemaker")
    steps = [
        step("Broken", code_uri, "fails"),
        step("Slow", code_uri, "sleep", environment={"SECONDS": "1"}),
        step("After", code_uri, "ok", "Broken"),
    ]
    _, arn = start(sagemaker, steps)
    assert _wait(sagemaker, [arn])[arn] == "Failed"
    listed = steps_of(sagemaker, arn)
    assert listed["Broken"]["StepStatus"] == "Failed"
    assert listed["Slow"]["StepStatus"] == "Succeeded"
    assert "After" not in listed
    reason = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["FailureReason"]
    assert reason.startswith("Step failure: Broken: always fails")


def test_the_aws_cli_and_boto3_waiters_drive_an_execution(sandbox, code_uri, tmp_path):
    """Stop, retry and wait as a user would from a shell, with the venv's `aws`."""
    sagemaker = sandbox.client("sagemaker")
    environment = {"SECONDS": "120", "MARKERS": str(tmp_path)}
    name = create(sagemaker, [step("Once", code_uri, "slow-once", environment=environment)])
    aws = [str(Path(sys.executable).with_name("aws")), "sagemaker", "--output", "json"]
    env = {**os.environ, **sandbox.environment}

    def cli(*arguments: str) -> dict:
        done = subprocess.run(
            [*aws, *arguments], env=env, capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    arn = cli("start-pipeline-execution", "--pipeline-name", name)["PipelineExecutionArn"]
    wait_for_step(sagemaker, arn, "Once", "Executing")
    job = steps_of(sagemaker, arn)["Once"]
    while "ProcessingJob" not in job.get("Metadata", {}):
        time.sleep(0.05)  # the job's ARN is in the metadata once the job has started
        job = steps_of(sagemaker, arn)["Once"]
    cli("stop-pipeline-execution", "--pipeline-execution-arn", arn)
    job_name = job["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    sagemaker.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=job_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert (
        cli("describe-processing-job", "--processing-job-name", job_name)["ProcessingJobStatus"]
        == "Stopped"
    )
    described = cli("describe-pipeline-execution", "--pipeline-execution-arn", arn)
    assert _wait(sagemaker, [arn])[arn] == "Stopped", described

    cli("retry-pipeline-execution", "--pipeline-execution-arn", arn)
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    steps = cli("list-pipeline-execution-steps", "--pipeline-execution-arn", arn)
    [once] = steps["PipelineExecutionSteps"]
    assert (once["StepStatus"], once["AttemptCount"]) == ("Succeeded", 2)
    new_job = once["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    cli("wait", "processing-job-completed-or-stopped", "--processing-job-name", new_job)


def test_listed_executions_carry_a_failure_reason_only_when_they_failed(sandbox, code_uri):
    sagemaker = sandbox.client("sagemaker")
    name = create(sagemaker, [step("Maybe", code_uri, "ok")])
    arn = sagemaker.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert _wait(sagemaker, [arn])[arn] == "Succeeded"
    [summary] = sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert "PipelineExecutionFailureReason" not in summary
