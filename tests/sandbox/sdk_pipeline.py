"""Pipelines written with SDK v3 classes, upserted and run against the session sandbox as a
user's own would be (PipelineSession, `Pipeline.upsert`, `start`), for the step-type tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from sandbox import Sandbox
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION

ROLE = PIPELINE_ROLE_ARN
BUCKET = DEFAULT_BUCKET
TERMINAL = ("Succeeded", "Failed", "Stopped")


@contextmanager
def pointed_at(sandbox: Sandbox) -> Iterator[None]:
    """boto3 and SDK v3 in this process talk to the sandbox, with its bucket there."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.environment.items():
            patch.setenv(name, value)
        s3 = sandbox.client("s3")
        if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=BUCKET)
        yield


def pipeline_session():
    """A PipelineSession on the sandbox (call inside `pointed_at`)."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = boto3.Session(region_name=REGION)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        default_bucket=BUCKET,
    )


def run(pipeline, sandbox: Sandbox, timeout: float = 300) -> tuple[dict, dict[str, dict]]:
    """Upsert and start `pipeline`, wait for its end; returns (DescribePipelineExecution,
    its steps by name)."""
    pipeline.upsert(role_arn=ROLE)
    arn = pipeline.start().arn
    sagemaker = sandbox.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(arn)
        time.sleep(0.1)
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
        "PipelineExecutionSteps"
    ]
    return described, {s["StepName"]: s for s in steps}
