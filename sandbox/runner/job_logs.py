"""A job's log in CloudWatch Logs, where SageMaker puts it: the log group
/aws/sagemaker/<Kind>Jobs, a stream `<job name>/algo-1-<epoch seconds>`, one event a line.
So `aws logs tail /aws/sagemaker/TrainingJobs` and the SDK's log readers find the sandbox's
jobs as they find AWS's.
"""

from __future__ import annotations

import time
from pathlib import Path

from botocore.exceptions import ClientError

# CloudWatch Logs' PutLogEvents limits: 10,000 events and 1 MiB (with 26 bytes an event).
_MAX_EVENTS = 10_000
_MAX_BYTES = 1_048_576 - 1024
_MAX_EVENT = 256 * 1024 - 26


def log_group(job_kind: str) -> str:
    """ "TrainingJob" -> "/aws/sagemaker/TrainingJobs"."""
    return f"/aws/sagemaker/{job_kind}s"


def publish(logs, job_kind: str, job_name: str, log_path: Path, started: float) -> str:
    """Send the lines of `log_path` to the job's stream; returns the stream name."""
    group, stream = log_group(job_kind), f"{job_name}/algo-1-{int(started)}"
    for create, arguments in (
        (logs.create_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
    ):
        try:
            create(**arguments)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    now = int(time.time() * 1000)
    batch: list[dict] = []
    size = 0
    for line in lines or ["(the job wrote nothing)"]:
        event = {"timestamp": now, "message": line[:_MAX_EVENT] or " "}
        event_size = len(event["message"].encode()) + 26
        if len(batch) == _MAX_EVENTS or size + event_size > _MAX_BYTES:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append(event)
        size += event_size
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    return stream
