"""`run-pipeline` against the sandbox: the churn definition executed end to end."""

from __future__ import annotations

import json
import re
import time

import pytest

from pipelines.churn.generate_data import write_churn_csv
from sandbox.constants import DEFAULT_BUCKET
from sandbox.runner.s3 import read_json
from tests.sandbox.conftest import seed as seed_data

HAPPY = "churn-happy"


def _steps(sagemaker, arn: str) -> dict[str, dict]:
    steps = sagemaker.list_pipeline_execution_steps(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in steps}


def _latest_execution(sagemaker, pipeline: str) -> str:
    summaries = sagemaker.list_pipeline_executions(PipelineName=pipeline)[
        "PipelineExecutionSummaries"
    ]
    return max(summaries, key=lambda s: s["StartTime"])["PipelineExecutionArn"]


def _packages(sagemaker, group: str) -> list[dict]:
    try:
        return sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    except sagemaker.exceptions.ClientError:
        return []


@pytest.fixture(name="happy_run", scope="module")
def fixture_happy_run(local_run, sandbox):
    """The first full run of the pipeline, shared by the tests that inspect it."""
    code = local_run(HAPPY)
    return code, _latest_execution(sandbox.client("sagemaker"), HAPPY)


def test_full_run_registers_a_pending_package_with_metrics(happy_run, sandbox):
    code, arn = happy_run
    assert code == 0
    sagemaker = sandbox.client("sagemaker")
    assert (
        sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        == "Succeeded"
    )
    steps = _steps(sagemaker, arn)
    # Baseline runs beside Train (both need only Preprocess): either may be listed first.
    assert list(steps)[1:3] in (["Baseline", "Train"], ["Train", "Baseline"])
    assert [name for name in steps if name != "Baseline"] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "Champion",
        "CheckEvaluation",
        "CheckChampion",
        "Register",
    ]
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    assert steps["CheckEvaluation"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert steps["CheckChampion"]["Metadata"]["Condition"]["Outcome"] == "True"

    [package] = _packages(sagemaker, f"{HAPPY}-group")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert steps["Register"]["Metadata"]["RegisterModel"]["Arn"] == package["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].endswith("/output/model.tar.gz")
    metrics_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    report = read_json(sandbox.client("s3"), metrics_uri)["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert 0 <= report[name]["value"] <= 1, name
    assert report["auc"]["value"] >= 0.8  # it passed the dev gate


def test_outputs_are_under_the_execution_id(happy_run, sandbox):
    _, arn = happy_run
    execution_id = arn.rsplit("/", 1)[-1]
    keys = [
        o["Key"]
        for o in sandbox.client("s3").list_objects_v2(
            Bucket=DEFAULT_BUCKET, Prefix=f"{HAPPY}/{execution_id}/"
        )["Contents"]
    ]
    assert f"{HAPPY}/{execution_id}/preprocess/train/train.csv" in keys
    assert f"{HAPPY}/{execution_id}/evaluation/evaluation.json" in keys


def test_cached_rerun_skips_every_job_step(happy_run, run_local, sandbox, tmp_path):
    summary = tmp_path / "summary.md"
    code, out, _ = run_local(HAPPY, "--summary-markdown", str(summary))
    assert code == 0
    sagemaker = sandbox.client("sagemaker")
    first_arn = happy_run[1]
    steps = _steps(sagemaker, _latest_execution(sagemaker, HAPPY))
    for name in ("Preprocess", "Train", "Evaluate"):
        assert steps[name]["CacheHitResult"]["SourcePipelineExecutionArn"] == first_arn
        assert f"{name:<18} Succeeded (cached)" in out
    versions = sorted(p["ModelPackageVersion"] for p in _packages(sagemaker, f"{HAPPY}-group"))
    assert versions == [1, 2]
    # The table the GitHub build workflow writes to its job summary.
    table = summary.read_text()
    assert f"model-package/{HAPPY}-group/2" in table
    assert re.search(r"^\| auc \| 0\.\d{4} \|$", table, re.MULTILINE)


def test_unmet_threshold_fails_with_metric_and_threshold(happy_run, run_local, sandbox):
    # The happy pipeline again (its job steps come from the cache), registering
    # into a group of its own so that "nothing registered" is visible.
    code, out, _ = run_local(HAPPY, "--parameters", '{"MinRocAuc": 0.999}', group="gate-group")
    assert code == 1
    assert "is below the threshold MinRocAuc = 0.999" in out
    sagemaker = sandbox.client("sagemaker")
    arn = _latest_execution(sagemaker, HAPPY)
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "Fail" in described["FailureReason"]
    steps = _steps(sagemaker, arn)
    assert steps["CheckEvaluation"]["Metadata"]["Condition"]["Outcome"] == "False"
    fail = steps["Fail"]
    assert fail["StepStatus"] == "Failed"
    auc = float(fail["FailureReason"].split()[3])
    assert 0.5 < auc < 0.999
    assert "Register" not in steps
    assert _packages(sagemaker, "gate-group") == []


def test_crashing_step_fails_the_run_and_stops_there(run_local, sandbox, tmp_path):
    corrupt = tmp_path / "corrupt.csv"
    corrupt.write_text("customer_id,age,churn\nC1,abc,1\n")
    seed_data(sandbox, corrupt, "corrupt")
    code, out, _ = run_local(
        "churn-crash",
        "--parameters",
        json.dumps({"InputDataUri": f"s3://{DEFAULT_BUCKET}/corrupt/data/"}),
    )
    assert code == 1
    sagemaker = sandbox.client("sagemaker")
    arn = _latest_execution(sagemaker, "churn-crash")
    steps = _steps(sagemaker, arn)
    assert list(steps) == ["Preprocess"]
    reason = steps["Preprocess"]["FailureReason"]
    assert reason.startswith("InputError: churn.csv: missing column(s): tenure_months")
    assert (
        sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        == "Failed"
    )
    assert f"Failed step: Preprocess: {reason}" in out
    assert _packages(sagemaker, "churn-crash-group") == []


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ('{"MinRocAuc": "high"}', "parameter 'MinRocAuc' must be a Float"),
        ('{"Threshold": 0.5}', "unknown pipeline parameter 'Threshold'"),
    ],
)
def test_bad_parameter_override_is_a_usage_error(parameters, message, run_local, sandbox):
    code, _, err = run_local("churn-usage", "--parameters", parameters)
    assert code == 2
    assert err.strip().splitlines() == [f"run-pipeline: {err.strip().split(': ', 1)[1]}"]
    assert message in err
    names = [
        p["PipelineName"] for p in sandbox.client("sagemaker").list_pipelines()["PipelineSummaries"]
    ]
    assert "churn-usage" not in names


def _wait(sagemaker, arns: list[str], timeout: float = 300) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = {
            arn: sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
                "PipelineExecutionStatus"
            ]
            for arn in arns
        }
        if all(s in ("Succeeded", "Failed", "Stopped") for s in status.values()):
            return status
        time.sleep(0.1)  # the executions run in this process: asking is cheap
    raise TimeoutError(arns)


def test_two_executions_at_once_use_disjoint_prefixes(happy_run, sandbox, tmp_path):
    """The definition exactly as rendered, started twice at once with different data."""
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")
    definition = sagemaker.describe_pipeline(PipelineName=HAPPY)["PipelineDefinition"]
    # Register sits behind both gates: CheckEvaluation -> CheckChampion -> Register.
    gates = {s["Name"]: s for s in json.loads(definition)["Steps"]}
    register = gates["CheckEvaluation"]["Arguments"]["IfSteps"][0]["Arguments"]["IfSteps"][0]
    register = register["Arguments"]
    group = register["ModelPackageGroupName"]
    before = len(_packages(sagemaker, group))
    sagemaker.create_pipeline(
        PipelineName="churn-twins",
        PipelineDefinition=definition,
        RoleArn="arn:aws:iam::123456789012:role/r",
    )
    arns = []
    for seed in (11, 12):
        path = write_churn_csv(tmp_path / f"{seed}.csv", 3_000, seed=seed)
        s3.upload_file(str(path), DEFAULT_BUCKET, f"twins/{seed}/churn.csv")
        arns.append(
            sagemaker.start_pipeline_execution(
                PipelineName="churn-twins",
                PipelineParameters=[
                    {"Name": "InputDataUri", "Value": f"s3://{DEFAULT_BUCKET}/twins/{seed}/"}
                ],
            )["PipelineExecutionArn"]
        )
    assert set(_wait(sagemaker, arns).values()) == {"Succeeded"}
    uris = set()
    for arn in arns:
        register = _steps(sagemaker, arn)["Register"]["Metadata"]["RegisterModel"]["Arn"]
        package = sagemaker.describe_model_package(ModelPackageName=register)
        uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        assert f"/{arn.rsplit('/', 1)[-1]}/evaluation/" in uri
        uris.add(uri)
    assert len(uris) == 2
    assert len(_packages(sagemaker, group)) == before + 2


def test_unsupported_step_type_fails_the_execution_at_start_naming_it(sandbox):
    """A step type the sandbox cannot run fails the execution before any step starts: the
    Fail step first in the definition, which would otherwise run, never does."""
    sagemaker = sandbox.client("sagemaker")
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {"Name": "First", "Type": "Fail", "Arguments": {"ErrorMessage": "ran"}},
            {
                "Name": "Cluster",
                "Type": "EMR",
                "Arguments": {"ClusterId": "j-1", "StepConfig": {}},
            },
        ],
    }
    sagemaker.create_pipeline(
        PipelineName="unsupported-step",
        PipelineDefinition=json.dumps(definition),
        RoleArn="arn:aws:iam::123456789012:role/r",
    )
    arn = sagemaker.start_pipeline_execution(PipelineName="unsupported-step")[
        "PipelineExecutionArn"
    ]
    assert _wait(sagemaker, [arn])[arn] == "Failed"
    reason = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["FailureReason"]
    assert "step 'Cluster' has type 'EMR'" in reason
    assert "no step was started" in reason
    assert _steps(sagemaker, arn) == {}


def test_start_outside_enum_values_is_refused_as_on_aws(happy_run, sandbox):
    """ModelApprovalStatus is declared with EnumValues: SageMaker refuses another value at
    StartPipelineExecution, before any execution exists."""
    sagemaker = sandbox.client("sagemaker")
    before = sagemaker.list_pipeline_executions(PipelineName=HAPPY)["PipelineExecutionSummaries"]
    with pytest.raises(sagemaker.exceptions.ClientError) as refused:
        sagemaker.start_pipeline_execution(
            PipelineName=HAPPY,
            PipelineParameters=[{"Name": "ModelApprovalStatus", "Value": "Maybe"}],
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "'ModelApprovalStatus': 'Maybe' is not one of Approved" in str(refused.value)
    after = sagemaker.list_pipeline_executions(PipelineName=HAPPY)["PipelineExecutionSummaries"]
    assert len(after) == len(before)


def test_jobs_and_parameters_are_described_as_the_api_types_them(happy_run, sandbox):
    """HyperParameters are strings (the pipeline resolves typed parameters into them),
    the pipeline's jobs are in ListTrainingJobs, and ListPipelineParametersForExecution
    gives every parameter with the value the run used, defaults included."""
    _, arn = happy_run
    sagemaker = sandbox.client("sagemaker")
    train = _steps(sagemaker, arn)["Train"]["Metadata"]["TrainingJob"]["Arn"]
    described = sagemaker.describe_training_job(TrainingJobName=train.rsplit("/", 1)[-1])
    assert described["HyperParameters"]
    assert all(isinstance(v, str) for v in described["HyperParameters"].values())
    assert described["TrainingJobStatus"] == "Completed"
    listed = sagemaker.list_training_jobs(NameContains=arn.rsplit("/", 1)[-1])
    assert [j["TrainingJobArn"] for j in listed["TrainingJobSummaries"]] == [train]

    definition = json.loads(
        sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)[
            "PipelineDefinition"
        ]
    )
    parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    values = {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]}
    assert set(values) == {p["Name"] for p in definition["Parameters"]}
    # run-pipeline overrides a few parameters; the others are listed with their defaults.
    defaults = [
        p["Name"]
        for p in definition["Parameters"]
        if "DefaultValue" in p and values[p["Name"]] == str(p["DefaultValue"])
    ]
    assert len(defaults) >= len(definition["Parameters"]) // 2, values
    assert all(isinstance(v, str) for v in values.values())
