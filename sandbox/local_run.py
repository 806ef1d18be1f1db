"""What `run-pipeline --local` adds around the AWS flow: a sandbox, defaults for the
arguments AWS would supply, sample input data, and the failing step's log."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from botocore.exceptions import ClientError

from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION
from sandbox.daemon import connect

SAMPLE_ROWS = 10_000
LOG_TAIL_LINES = 15


@contextlib.contextmanager
def local_sandbox() -> Iterator:
    """The running sandbox (or a new one for this command), exported to this process and
    to every process it starts, for as long as the block runs."""
    with connect() as sandbox, mock.patch.dict(os.environ, sandbox.environment):
        yield sandbox


def local_defaults(kwargs: dict, role_arn: str | None) -> tuple[dict, str]:
    """Fill in what a SageMaker Project would pass: region, role and bucket."""
    filled = {
        "region": REGION,
        "role": role_arn or PIPELINE_ROLE_ARN,
        "default_bucket": DEFAULT_BUCKET,
        **kwargs,
    }
    return filled, role_arn or filled["role"]


def ensure_bucket(s3, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def upload_sample_data(s3, uri: str, home: Path) -> None:
    """Generate the churn sample (seeded, so every run sees the same data) and put it at
    `uri` unless something is already there."""
    from pipelines.churn.generate_data import write_churn_csv
    from sandbox.runner.s3 import list_objects, split_uri

    if list_objects(s3, uri):
        return
    bucket, key = split_uri(uri)
    path = write_churn_csv(home / "data" / f"churn-{SAMPLE_ROWS}.csv", SAMPLE_ROWS)
    s3.upload_file(str(path), bucket, key)
    print(f"Uploaded {SAMPLE_ROWS} generated rows to {uri}")


def failed_step_log(home: Path, execution_arn: str, step: str) -> str | None:
    """The last lines of a failed step's log, with the log's path."""
    log = home / "executions" / execution_arn.rsplit("/", 1)[-1] / "logs" / f"{step}.log"
    if not log.exists():
        return None
    tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join([f"--- last lines of {log} ---", *tail])
