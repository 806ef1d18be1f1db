"""run-pipeline against moto: what it creates, starts and reports; its exit codes."""

from __future__ import annotations

import json
from types import SimpleNamespace

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
            '{"MinRocAuc": 0.7, "InputDataUri": "s3://other-bucket/y"}',
        )
    )
    out = capsys.readouterr().out
    assert code == 0, out

    pipeline = sagemaker_client.describe_pipeline(PipelineName="churn-test")
    assert pipeline["RoleArn"] == ROLE
    assert pipeline["PipelineDescription"] == "nightly"
    definition = json.loads(pipeline["PipelineDefinition"])
    # Register sits behind both gates: CheckEvaluation -> CheckChampion -> Register.
    floor = definition["Steps"][5]["Arguments"]  # after the Baseline step
    register = floor["IfSteps"][0]["Arguments"]["IfSteps"][0]["Arguments"]
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
    assert {"Name": "InputDataUri", "Value": "s3://other-bucket/y"} in parameters
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


# Values of the right type that mean nothing to the pipeline: stopped before anything runs.
MEANINGLESS_PARAMETERS = {
    "negative-min-roc-auc": (
        {"MinRocAuc": -0.5},
        "parameter 'MinRocAuc' must be between 0 and 1, got -0.5",
    ),
    "min-roc-auc-above-1": (
        {"MinRocAuc": 1.5},
        "parameter 'MinRocAuc' must be between 0 and 1, got 1.5",
    ),
    "bad-approval-status": (
        {"ModelApprovalStatus": "approved"},
        "parameter 'ModelApprovalStatus' must be one of Approved, Rejected, "
        "PendingManualApproval, got 'approved'",
    ),
    "bad-processing-instance-type": (
        {"ProcessingInstanceType": "ml.m5.larg"},
        "parameter 'ProcessingInstanceType' must be one of SageMaker's ProcessingInstanceType "
        "values, got 'ml.m5.larg' (did you mean 'ml.m5.large'?)",
    ),
    "bad-training-instance-type": (
        {"TrainingInstanceType": "m5.large"},
        "parameter 'TrainingInstanceType' must be one of SageMaker's TrainingInstanceType values, "
        "got 'm5.large' (did you mean 'ml.m5.large'?)",
    ),
    "s3-uri-without-scheme": (
        {"InputDataUri": "my-bucket/data/churn.csv"},
        "parameter 'InputDataUri' must be an S3 URI s3://bucket/key, "
        "got 'my-bucket/data/churn.csv'",
    ),
    "s3-uri-without-key": (
        {"InputDataUri": "s3://my-bucket"},
        "parameter 'InputDataUri' must be an S3 URI s3://bucket/key, got 's3://my-bucket'",
    ),
    "s3-uri-bad-bucket": (
        {"InputDataUri": "s3://My_Bucket/churn.csv"},
        "parameter 'InputDataUri' must be an S3 URI s3://bucket/key",
    ),
    "wrong-type": (
        {"MinRocAuc": True},
        "parameter 'MinRocAuc' must be a Float, got True",
    ),
}


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("overrides", "message"), MEANINGLESS_PARAMETERS.values(), ids=MEANINGLESS_PARAMETERS.keys()
)
def test_meaningless_parameter_exits_2_and_creates_nothing(
    overrides, message, bucket, sagemaker_client, s3_client, capsys
):
    assert run_pipeline.main(_argv("--parameters", json.dumps(overrides))) == 2
    captured = capsys.readouterr()
    assert _one_line(captured.err).startswith(f"run-pipeline: {message}")
    assert "Upserting" not in captured.out
    assert sagemaker_client.list_pipelines()["PipelineSummaries"] == []
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)  # no code uploaded


def test_meaningless_parameter_leaves_an_existing_pipeline_alone(bucket, sagemaker_client, capsys):
    """Nothing upserted (the description stays), nothing started (the executions stay)."""
    assert run_pipeline.main(_argv("--no-wait", "--description", "v1")) == 0

    def state():
        pipelines = sagemaker_client.list_pipelines()["PipelineSummaries"]
        executions = sagemaker_client.list_pipeline_executions(PipelineName="churn-test")
        described = sagemaker_client.describe_pipeline(PipelineName="churn-test")
        return (
            [p["PipelineName"] for p in pipelines],
            described["PipelineDescription"],
            described["PipelineDefinition"],
            [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]],
        )

    before = state()
    capsys.readouterr()
    argv = _argv("--description", "v2", "--parameters", '{"MinRocAuc": -0.5}')
    assert run_pipeline.main(argv) == 2
    assert _one_line(capsys.readouterr().err) == (
        "run-pipeline: parameter 'MinRocAuc' must be between 0 and 1, got -0.5"
    )
    assert state() == before


def test_defaults_are_checked_too(sagemaker_client, capsys):
    """A default built from --kwargs (here the bucket in InputDataUri) meets the same rules."""
    kwargs = {"region": "us-east-1", "role": ROLE, "default_bucket": "Bad_Bucket"}
    assert run_pipeline.main(_argv(kwargs=kwargs)) == 2
    assert _one_line(capsys.readouterr().err) == (
        "run-pipeline: parameter 'InputDataUri' must be an S3 URI s3://bucket/key, "
        "got 's3://Bad_Bucket/Churn/data/churn.csv'"
    )
    assert sagemaker_client.list_pipelines()["PipelineSummaries"] == []


def test_a_pipeline_without_validate_parameters_gets_only_the_type_check(monkeypatch):
    """run-pipeline knows no parameter names: the checks come from the pipeline module."""
    from pipelines.churn import pipeline as churn

    parameter = SimpleNamespace(to_request=lambda: {"Name": "MinRocAuc", "Type": "Float"})
    fake = SimpleNamespace(parameters=[parameter])
    with pytest.raises(run_pipeline.UsageError, match="between 0 and 1"):
        run_pipeline.check_parameters(fake, {"MinRocAuc": -0.5}, churn.__name__)
    monkeypatch.delattr(churn, "validate_parameters")
    assert run_pipeline.check_parameters(fake, {"MinRocAuc": -0.5}, churn.__name__)
    assert run_pipeline.check_parameters(fake, {"MinRocAuc": -0.5})
    with pytest.raises(run_pipeline.UsageError, match="must be a Float"):
        run_pipeline.check_parameters(fake, {"MinRocAuc": "low"}, churn.__name__)


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
