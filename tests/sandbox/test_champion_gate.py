"""The champion gate, run for real in the sandbox: the first model passes on the floor alone,
a later one must not fall more than ChampionTolerance below the newest Approved package.
The state machine's ChampionGate Lambda is checked on the same executions."""

from __future__ import annotations

import json

import pytest

from orchestration.lambdas import champion_gate
from sandbox.constants import DEFAULT_BUCKET
from sandbox.runner.s3 import read_json

PIPELINE = "churn-champion"
GROUP = f"{PIPELINE}-group"


def _latest(sagemaker) -> str:
    summaries = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)[
        "PipelineExecutionSummaries"
    ]
    return max(summaries, key=lambda s: s["StartTime"])["PipelineExecutionArn"]


def _steps(sagemaker, arn: str) -> dict[str, dict]:
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
    return {s["StepName"]: s for s in steps["PipelineExecutionSteps"]}


def _champion_report(sandbox, arn: str) -> dict:
    """The Champion step's champion.json, where the execution wrote it."""
    execution_id = arn.rsplit("/", 1)[-1]
    return read_json(
        sandbox.client("s3"),
        f"s3://{DEFAULT_BUCKET}/{PIPELINE}/{execution_id}/champion/champion.json",
    )


@pytest.fixture(name="gate")
def fixture_gate(sandbox, monkeypatch):
    """The ChampionGate Lambda's handler, with boto3 pointed at the sandbox."""
    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)

    def run(execution_arn: str, tolerance: str = "0.02") -> dict:
        event = {
            "pipeline_execution_arn": execution_arn,
            "model_package_group_name": GROUP,
            "tolerance": tolerance,
        }
        return champion_gate.handler(event, None)

    return run


def _versions(sagemaker) -> list[int]:
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    return sorted(p["ModelPackageVersion"] for p in summaries["ModelPackageSummaryList"])


@pytest.fixture(name="first_run", scope="module")
def fixture_first_run(local_run, sandbox):
    """The group's first model: no champion yet."""
    assert local_run(PIPELINE) == 0
    return _latest(sandbox.client("sagemaker"))


def test_first_model_passes_on_the_floor_alone(first_run, sandbox, gate):
    sagemaker = sandbox.client("sagemaker")
    steps = _steps(sagemaker, first_run)
    assert steps["CheckChampion"]["Metadata"]["Condition"]["Outcome"] == "True"
    report = _champion_report(sandbox, first_run)
    assert report["champion"] is None and report["minimum_to_pass"] == 0
    assert 0.8 <= report["candidate"]["value"] <= 1
    assert _versions(sagemaker) == [1]
    verdict = gate(first_run)
    assert verdict["passed"] is True and verdict["champion"] is None
    assert verdict["candidate"]["version"] == 1
    assert verdict["candidate"]["value"] == report["candidate"]["value"]


def test_model_as_good_as_the_champion_passes_and_both_numbers_are_reported(
    first_run, local_run, sandbox, gate, capsys
):
    sagemaker = sandbox.client("sagemaker")
    v1 = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"][0]
    sagemaker.update_model_package(
        ModelPackageArn=v1["ModelPackageArn"], ModelApprovalStatus="Approved"
    )
    # The same data and code: Evaluate comes from the cache, the Champion step never does.
    capsys.readouterr()
    assert local_run(PIPELINE) == 0
    out = capsys.readouterr().out
    arn = _latest(sagemaker)
    steps = _steps(sagemaker, arn)
    assert "CacheHitResult" in steps["Evaluate"] and "CacheHitResult" not in steps["Champion"]
    assert steps["CheckChampion"]["Metadata"]["Condition"]["Outcome"] == "True"
    report = _champion_report(sandbox, arn)
    first = _champion_report(sandbox, first_run)["candidate"]["value"]
    assert report["champion"]["model_package_arn"] == v1["ModelPackageArn"]
    assert report["champion"]["value"] == report["candidate"]["value"] == first
    assert report["minimum_to_pass"] == pytest.approx(first - 0.02)  # dev's tolerance
    # Both numbers, as run-pipeline prints them and the registry keeps them.
    assert f"  champion gate: {report['summary']}\n" in out
    assert f"champion v1 auc={first:.4f}" in report["summary"]
    registered = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    metadata = sagemaker.describe_model_package(ModelPackageName=registered)[
        "CustomerMetadataProperties"
    ]
    assert metadata["ChampionGate"] == report["summary"]
    assert _versions(sagemaker) == [1, 2]
    verdict = gate(arn)
    assert verdict["passed"] is True
    assert (verdict["candidate"]["version"], verdict["champion"]["version"]) == (2, 1)


def _approve_a_better_champion(sandbox, auc: float) -> str:
    """An Approved package whose registered report has ROC AUC `auc`; returns its ARN."""
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    key = f"{PIPELINE}/better-champion/evaluation.json"
    report = {"binary_classification_metrics": {"auc": {"value": auc}}}
    s3.put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=json.dumps(report))
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{DEFAULT_BUCKET}/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{DEFAULT_BUCKET}/{key}",
                }
            }
        },
    )["ModelPackageArn"]


def test_regression_beyond_the_tolerance_fails_and_registers_nothing(
    first_run, local_run, sandbox, capsys, gate
):
    sagemaker = sandbox.client("sagemaker")
    champion = _approve_a_better_champion(sandbox, 0.999)
    before = _versions(sagemaker)
    assert local_run(PIPELINE) == 1
    out = capsys.readouterr().out
    assert "is more than ChampionTolerance = 0.02 below the champion's 0.999" in out
    arn = _latest(sagemaker)
    steps = _steps(sagemaker, arn)
    assert steps["CheckEvaluation"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert steps["CheckChampion"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["FailChampion"]["StepStatus"] == "Failed"
    assert "Register" not in steps
    assert _versions(sagemaker) == before
    report = _champion_report(sandbox, arn)
    assert report["champion"]["model_package_arn"] == champion
    assert report["minimum_to_pass"] == pytest.approx(0.979)
    with pytest.raises(champion_gate.ChampionGateError, match="registered no model package"):
        gate(arn)

    # A wider tolerance, given for this run only, lets the same model through.
    assert local_run(PIPELINE, "--parameters", '{"ChampionTolerance": 0.5}') == 0
    assert _versions(sagemaker) == [*before, before[-1] + 1]
    # The Lambda, with the deployment's own tolerance, still holds it back.
    verdict = gate(_latest(sagemaker), tolerance="0.02")
    assert verdict["passed"] is False
    assert verdict["champion"]["model_package_arn"] == champion
    assert verdict["minimum_to_pass"] == pytest.approx(0.979)


def test_tolerance_outside_zero_to_one_is_a_usage_error(first_run, local_run, capsys):
    assert local_run(PIPELINE, "--parameters", '{"ChampionTolerance": 2}') == 2
    assert "ChampionTolerance" in capsys.readouterr().err
