"""Following an execution: a line per step status change, the end state and failures."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from pipelines.execution import wait_for_execution

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc"


def _steps(*states):
    return {
        "PipelineExecutionSteps": [
            {"StepName": name, "StepStatus": status, **({"FailureReason": why} if why else {})}
            for name, status, why in states
        ]
    }


def test_prints_each_change_once_and_reports_the_failed_step():
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    polls = [
        ("Executing", _steps(("Preprocess", "Executing", None))),
        ("Executing", _steps(("Preprocess", "Executing", None))),
        ("Executing", _steps(("Preprocess", "Succeeded", None), ("Train", "Executing", None))),
        (
            "Failed",
            _steps(
                ("Preprocess", "Succeeded", None),
                ("Train", "Failed", "AlgorithmError: out of memory"),
            ),
        ),
    ]
    for status, steps in polls:
        stubber.add_response(
            "describe_pipeline_execution",
            {"PipelineExecutionStatus": status, "PipelineExecutionArn": ARN},
            {"PipelineExecutionArn": ARN},
        )
        stubber.add_response(
            "list_pipeline_execution_steps",
            steps,
            {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"},
        )
    lines: list[str] = []
    with stubber:
        result = wait_for_execution(
            client, ARN, poll_seconds=0, emit=lines.append, sleep=lambda _: None
        )
    changes = [line.split("]", 1)[1].split() for line in lines]
    assert [c[:2] for c in changes] == [
        ["Preprocess", "Executing"],
        ["Preprocess", "Succeeded"],
        ["Train", "Executing"],
        ["Train", "Failed"],
    ]
    assert "AlgorithmError: out of memory" in lines[-1]
    assert result.status == "Failed" and not result.succeeded
    assert result.failed_steps == [("Train", "AlgorithmError: out of memory")]
