"""`python -m sandbox run-monitoring ENDPOINT_OR_SCHEDULE`: a Model Monitor schedule's job,
run now on what the endpoint captured.

The sandbox keeps no clock for schedules (an hourly one would make a test wait an hour):
a schedule's job runs on demand, as Model Monitor starts it at a tick. The schedule is the
one the endpoint stack created (patch `monitoring_schedule_resource`); its job definition
is run as Model Monitor runs a custom job: the EndpointInput's captured data (the
endpoint config's DataCaptureConfig destination, `<endpoint>/<variant>/yyyy/mm/dd/hh/`)
and the BaselineConfig's files are downloaded into the job's folder, the container
contract's variables (`dataset_source`, `output_path`, `baseline_statistics`,
`baseline_constraints`, `sagemaker_endpoint_name`, `sagemaker_monitoring_schedule_name`,
`start_time`, `end_time`, `dataset_format`) are set beside the definition's Environment,
the ContainerEntrypoint runs on this interpreter (its `python3`) with the sandbox's AWS
variables, and what it wrote to its output path is uploaded to the MonitoringOutputs S3
URI under `<endpoint>/<schedule>/yyyy/mm/dd/hh/`, as Model Monitor files its reports.

Differences: the job gets everything captured so far (not one hour's window), runs on this
machine, not in the image; the job's own calls (PutEvents on a violation) reach the sandbox.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from sandbox.runner.s3 import S3Error, download_prefix, split_uri, upload_directory

DATASET_FORMAT = json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput"]}})
VIOLATIONS_FILE = "constraint_violations.json"


class MonitoringRunError(Exception):
    """The schedule cannot run (unknown, no capture, no baseline); the message says why."""


@dataclass
class MonitoringRun:
    schedule: str
    endpoint: str
    status: str  # Completed, CompletedWithViolations or Failed
    violations: list[dict] = field(default_factory=list)
    report_uri: str | None = None
    log: Path | None = None
    exit_message: str = ""


def find_schedule(sagemaker, name: str) -> dict:
    """The schedule named `name`, or the one schedule of endpoint `name`."""
    try:
        return sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    except ClientError:
        pass
    summaries = sagemaker.list_monitoring_schedules(EndpointName=name)[
        "MonitoringScheduleSummaries"
    ]
    if len(summaries) != 1:
        found = ", ".join(s["MonitoringScheduleName"] for s in summaries) or "none"
        raise MonitoringRunError(
            f"{name!r} is no monitoring schedule, and the endpoint of that name has "
            f"{len(summaries)} ({found}): name the schedule"
        )
    return sagemaker.describe_monitoring_schedule(
        MonitoringScheduleName=summaries[0]["MonitoringScheduleName"]
    )


def _capture_uri(sagemaker, endpoint: str) -> str:
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=described["EndpointConfigName"]
        )
    except ClientError as err:
        raise MonitoringRunError(f"endpoint {endpoint}: {err}") from None
    capture = config.get("DataCaptureConfig") or {}
    if not capture.get("EnableCapture") or not capture.get("DestinationS3Uri"):
        raise MonitoringRunError(f"endpoint {endpoint} does not capture data")
    return f"{capture['DestinationS3Uri'].rstrip('/')}/{endpoint}"


def _download(s3, uri: str, destination: Path, what: str) -> None:
    try:
        download_prefix(s3, uri, destination)
    except (S3Error, ClientError) as err:
        raise MonitoringRunError(f"{what}: {err}") from None


def _local(path: str, job: Path) -> Path:
    """A container path (/opt/ml/...) inside the job's folder."""
    return job / path.lstrip("/")


def run_schedule(sandbox, name: str, home: Path) -> MonitoringRun:
    """Run schedule `name`'s job now (see the module docstring). Raises MonitoringRunError."""
    from sandbox import data_capture

    data_capture.flush()  # captures this process's endpoint runtime still has queued
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    schedule = find_schedule(sagemaker, name)
    schedule_name = schedule["MonitoringScheduleName"]
    definition = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    [endpoint_input] = [i["EndpointInput"] for i in definition["MonitoringInputs"]]
    endpoint = endpoint_input["EndpointName"]
    now = datetime.datetime.now(datetime.UTC)
    job = home / "monitoring" / schedule_name / now.strftime("%Y%m%dT%H%M%S%f")
    source = _local(endpoint_input.get("LocalPath", "/opt/ml/processing/input/endpoint"), job)
    _download(s3, _capture_uri(sagemaker, endpoint), source / endpoint, "captured data")
    environment = {
        **definition.get("Environment", {}),
        "dataset_format": DATASET_FORMAT,
        "dataset_source": str(source),
        "sagemaker_endpoint_name": endpoint,
        "sagemaker_monitoring_schedule_name": schedule_name,
        "start_time": "1970-01-01T00:00:00Z",  # everything captured so far
        "end_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "MONITORING_METRICS_DIR": str(job / "opt/ml/output/metrics/cloudwatch"),
    }
    for kind, variable in (
        ("Statistics", "baseline_statistics"),
        ("Constraints", "baseline_constraints"),
    ):
        uri = definition.get("BaselineConfig", {}).get(f"{kind}Resource", {}).get("S3Uri")
        if uri:
            target = job / "opt/ml/processing/baseline" / kind.lower()
            _download(s3, uri, target, f"baseline {kind.lower()}")
            environment[variable] = str(target / Path(split_uri(uri)[1]).name)
    [output] = [o["S3Output"] for o in definition["MonitoringOutputConfig"]["MonitoringOutputs"]]
    output_dir = _local(output["LocalPath"], job)
    output_dir.mkdir(parents=True, exist_ok=True)
    environment["output_path"] = str(output_dir)
    app = definition["MonitoringAppSpecification"]
    command = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
    if not command:
        raise MonitoringRunError(f"schedule {schedule_name}: its job has no ContainerEntrypoint")
    command = [sys.executable if part == "python3" else part for part in command]
    log = job / "job.log"
    timeout = definition.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 3600)
    with log.open("w") as out:
        try:
            finished = subprocess.run(
                command,
                env={**_process_environment(), **sandbox.environment, **environment},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=job,
                timeout=float(timeout),
                check=False,
            )
            code = finished.returncode
        except subprocess.TimeoutExpired:
            code = -1
    last = (log.read_text().strip().splitlines() or [""])[-1]
    if code != 0:
        return MonitoringRun(schedule_name, endpoint, "Failed", log=log, exit_message=last)
    report = "/".join(
        [output["S3Uri"].rstrip("/"), endpoint, schedule_name, now.strftime("%Y/%m/%d/%H")]
    )
    upload_directory(s3, output_dir, report)
    violations_file = output_dir / VIOLATIONS_FILE
    violations = (
        json.loads(violations_file.read_text()).get("violations", [])
        if violations_file.exists()
        else []
    )
    status = "CompletedWithViolations" if violations else "Completed"
    return MonitoringRun(schedule_name, endpoint, status, violations, report, log, last)


def _process_environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
