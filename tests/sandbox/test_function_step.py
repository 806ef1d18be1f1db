"""`@step` functions (SDK v3): the pickled function runs locally and its return value is
what the next step gets, through the SDK's own DelayedReturn / JsonGet references."""

from __future__ import annotations

import json

from sandbox.runner.s3 import read_json
from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at, run

# SDK v3 has no default image for this Python; the image is never pulled locally.
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-python:3.11"


def test_a_function_return_feeds_the_next_step_and_a_condition(sandbox):
    from sagemaker.core.workflow.conditions import ConditionGreaterThan
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # Defined here, so cloudpickle pickles them by value (as a notebook's functions are).
    @step(name="Stats", image_uri=IMAGE, instance_type="ml.m5.large", role=ROLE)
    def stats(values: list) -> dict:
        import statistics

        return {
            "mean": statistics.mean(values),
            "count": len(values),
            "spread": [min(values), max(values)],
        }

    @step(name="Scale", image_uri=IMAGE, instance_type="ml.m5.large", role=ROLE)
    def scale(mean: float, factor: int) -> float:
        return mean * factor

    summary = stats([1, 2, 3, 10])
    scaled = scale(summary["mean"], 3)
    check = ConditionStep(
        name="Check",
        conditions=[ConditionGreaterThan(left=scaled, right=10)],
        if_steps=[],
        else_steps=[FailStep(name="TooSmall", error_message="scaled mean too small")],
    )
    with pointed_at(sandbox):
        pipeline = Pipeline(
            name="function-steps", steps=[check], sagemaker_session=pipeline_session()
        )
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Succeeded", steps
    assert steps["Check"]["Metadata"]["Condition"]["Outcome"] == "True"
    # The return values where the SDK reads them: <S3OutputPath>/results.json.
    s3 = sandbox.client("s3")
    definition = json.loads(  # as upserted: each render stages the pickles anew
        sandbox.client("sagemaker").describe_pipeline(PipelineName="function-steps")[
            "PipelineDefinition"
        ]
    )
    execution_id = described["PipelineExecutionArn"].rsplit("/", 1)[-1]
    results = {}
    for name in ("Stats", "Scale"):
        [spec] = [s for s in definition["Steps"] if s["Name"] == name]
        parts = spec["Arguments"]["OutputDataConfig"]["S3OutputPath"]["Std:Join"]["Values"]
        prefix = "/".join(execution_id if isinstance(p, dict) else p for p in parts)
        results[name] = read_json(s3, f"{prefix}/results.json")["Result"]
    assert results == {
        "Stats": {"mean": 4, "count": 4, "spread": [1, 10]},
        "Scale": 12,
    }


def test_a_function_that_raises_fails_its_step_with_the_error(sandbox):
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline

    @step(name="Divide", image_uri=IMAGE, instance_type="ml.m5.large", role=ROLE)
    def divide(a: int, b: int) -> float:
        return a / b

    with pointed_at(sandbox):
        pipeline = Pipeline(
            name="function-fails", steps=[divide(1, 0)], sagemaker_session=pipeline_session()
        )
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "ZeroDivisionError" in steps["Divide"]["FailureReason"]
