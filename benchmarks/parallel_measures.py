"""The parallel-step measure: a pipeline with two independent branches, run with its steps
side by side (the sandbox's default, as SageMaker's) and one at a time
(ParallelismConfiguration MaxParallelExecutionSteps=1), alternated, in one sandbox.

Each branch is one Processing step whose script does about a second of CPU work (pure
Python, so one core each): on a 2-core machine the two branches can overlap fully, and
the speedup says how much of that the runner delivers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.report import Measure, median
from sandbox import Sandbox
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN

TARGET_SPEEDUP = 1.5
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = """
import time
started = time.process_time()
while time.process_time() - started < 1.0:
    sum(i * i for i in range(10_000))
"""


def _branch(name: str) -> dict:
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
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/busy.py"],
            },
            "RoleArn": PIPELINE_ROLE_ARN,
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{DEFAULT_BUCKET}/bench-parallel/code",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
    }


def two_branches(home: Path, runs: int) -> Measure:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [_branch("Left"), _branch("Right")],
    }
    walls: dict[str, list[float]] = {"parallel": [], "serial": []}
    with Sandbox(home=home) as sandbox:
        s3, sagemaker = sandbox.client("s3"), sandbox.client("sagemaker")
        s3.create_bucket(Bucket=DEFAULT_BUCKET)
        s3.put_object(
            Bucket=DEFAULT_BUCKET, Key="bench-parallel/code/busy.py", Body=SCRIPT.encode()
        )
        sagemaker.create_pipeline(
            PipelineName="bench-parallel",
            PipelineDefinition=json.dumps(definition),
            RoleArn=PIPELINE_ROLE_ARN,
        )
        for _ in range(runs):
            for mode, limit in (("parallel", None), ("serial", 1)):
                request = {"ParallelismConfiguration": {"MaxParallelExecutionSteps": limit}}
                started = time.perf_counter()
                arn = sagemaker.start_pipeline_execution(
                    PipelineName="bench-parallel", **(request if limit else {})
                )["PipelineExecutionArn"]
                sandbox.service.wait_for_executions()
                walls[mode].append(time.perf_counter() - started)
                status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
                if status["PipelineExecutionStatus"] != "Succeeded":
                    raise RuntimeError(f"bench-parallel run ended {status}")
    parallel, serial = median(walls["parallel"]), median(walls["serial"])
    speedup = serial / parallel
    return Measure(
        name="parallel steps: two independent 1-CPU-second branches, one at a time / side by side",
        target=f"≥ {TARGET_SPEEDUP}× (2 cores)",
        result=f"{speedup:.2f}× ({serial:.2f} s / {parallel:.2f} s, medians of {runs} alternated)",
        met=speedup >= TARGET_SPEEDUP,
        raw=walls,
    )
