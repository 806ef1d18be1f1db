"""run-pipeline against moto: what it creates, starts and reports; its exit codes."""

from __future__ import annotations

import json

import pytest

from pipelines import run_pipeline
from pipelines.execution import ExecutionResult

ROLE = "arn:aws:iam::123456789012:role/PipelineRole"
BUCKET = "run-pipeline-tests"


def _argv(*extra: str, kwargs: dict | None = None) -> list[str]:
    kwargs = kwargs or {
        "region": "us-east-1",
        "role": ROLE,
        "default_bucket": BUCKET,
        "pipeline_name": "churn-test",
        "model_package_group_name": "churn-group",
    }
    return [
        "-n",
        "pipelines.churn.pipeline",
        "--role-arn",
        ROLE,
        "--kwargs",
        json.dumps(kwargs),
        "--poll-seconds",
        "0",
        *extra,
    ]


@pytest.fixture(name="bucket")
def fixture_bucket(s3_client) -> str:
    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET


def test_upserts_starts_and_waits(bucket, sagemaker_client, s3_client, capsys):
    tags = '[{"Key": "sagemaker:project-name", "Value": "churn"}]'
    code = run_pipeline.main(
        _argv(
            "--tags",
            tags,
            "--description",
            "nightly",
            "--parameters",
            '{"MinRocAuc": 0.7, "InputDataUri": "s3://x/y"}',
        )
    )
    out = capsys.readouterr().out
    assert code == 0, out

    pipeline = sagemaker_client.describe_pipeline(PipelineName="churn-test")
    assert pipeline["RoleArn"] == ROLE
    assert pipeline["PipelineDescription"] == "nightly"
    definition = json.loads(pipeline["PipelineDefinition"])
    register = definition["Steps"][3]["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == "churn-group"
    assert {"Key": "sagemaker:project-name", "Value": "churn"} in sagemaker_client.list_tags(
        ResourceArn=pipeline["PipelineArn"]
    )["Tags"]

    executions = sagemaker_client.list_pipeline_executions(PipelineName="churn-test")
    arn = executions["PipelineExecutionSummaries"][0]["PipelineExecutionArn"]
    parameters = sagemaker_client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)[
        "PipelineParameters"
    ]
    assert {"Name": "MinRocAuc", "Value": "0.7"} in parameters
    assert {"Name": "InputDataUri", "Value": "s3://x/y"} in parameters
    assert f"Pipeline execution {arn} Succeeded" in out

    # The step code was uploaded where the definition says it is.
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith("/preprocess.py") for k in keys)
    assert any(k.endswith("/input/code/train.py") for k in keys)


def test_second_run_updates_the_same_pipeline(bucket, sagemaker_client, capsys):
    assert run_pipeline.main(_argv("--no-wait")) == 0
    assert run_pipeline.main(_argv("--no-wait", "--description", "v2")) == 0
    names = [p["PipelineName"] for p in sagemaker_client.list_pipelines()["PipelineSummaries"]]
    assert names == ["churn-test"]
    assert (
        sagemaker_client.describe_pipeline(PipelineName="churn-test")["PipelineDescription"] == "v2"
    )
    assert (
        len(
            sagemaker_client.list_pipeline_executions(PipelineName="churn-test")[
                "PipelineExecutionSummaries"
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "-n",
                "pipelines.churn.nope",
                "--role-arn",
                ROLE,
                "--kwargs",
                '{"region": "us-east-1"}',
            ],
            "pipeline module 'pipelines.churn.nope' not found",
        ),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", '{"region": "us-east-1"}'],
            "--role-arn is required",
        ),
        (_argv("--tags", '{"Key": "a"}'), "--tags must be a JSON list"),
        (_argv("--parameters", '{"MinAuc": 0.5}'), "unknown pipeline parameter 'MinAuc'"),
        (_argv("--parameters", '{"MinRocAuc": "high"}'), "parameter 'MinRocAuc' must be a Float"),
        (_argv("--parameters", '{"InputDataUri": 3}'), "parameter 'InputDataUri' must be a String"),
    ],
    ids=[
        "missing-module",
        "missing-role",
        "bad-tags",
        "unknown-parameter",
        "wrong-type-float",
        "wrong-type-string",
    ],
)
def test_usage_errors_exit_2_and_create_nothing(argv, message, bucket, sagemaker_client, capsys):
    assert run_pipeline.main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()]
    assert message in err
    assert sagemaker_client.list_pipelines()["PipelineSummaries"] == []


@pytest.mark.parametrize(("status", "code"), [("Succeeded", 0), ("Failed", 1), ("Stopped", 1)])
def test_final_status_maps_to_exit_code(status, code, capsys):
    result = ExecutionResult(
        arn="arn:exec",
        status=status,
        failed_steps=[("Train", "AlgorithmError: boom")] if status == "Failed" else [],
        failure_reason="Stopped by user" if status == "Stopped" else None,
    )
    assert run_pipeline.report(result) == code
    out = capsys.readouterr().out
    assert f"Pipeline execution arn:exec {status}" in out
    if status == "Failed":
        assert "Failed step: Train: AlgorithmError: boom" in out
    if status == "Stopped":
        assert "Reason: Stopped by user" in out


def test_failed_execution_exits_1_through_main(bucket, monkeypatch, capsys):
    def failed(client, arn, *_args, **_kwargs):
        return ExecutionResult(
            arn=arn, status="Failed", failed_steps=[("Preprocess", "InputError: file is empty")]
        )

    monkeypatch.setattr(run_pipeline, "wait_for_execution", failed)
    assert run_pipeline.main(_argv()) == 1
    assert "Failed step: Preprocess: InputError: file is empty" in capsys.readouterr().out
