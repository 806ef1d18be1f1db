"""`python -m sandbox exec | seed-data`: the product's own commands against the sandbox,
the seed buildspec's run-pipeline command line byte for byte."""

from __future__ import annotations

from sandbox import daemon
from tests.sandbox.conftest import sandbox_cli as _sandbox

# The model-build command line of AWS's SageMaker Projects seed buildspec, unchanged but for
# the module name (the seed's is pipelines.abalone.pipeline).
SEED_RUN_PIPELINE = r"""run-pipeline --module-name pipelines.churn.pipeline \
          --role-arn $SAGEMAKER_PIPELINE_ROLE_ARN \
          --tags "[{\"Key\":\"sagemaker:project-name\", \"Value\":\"${SAGEMAKER_PROJECT_NAME}\"}, {\"Key\":\"sagemaker:project-id\", \"Value\":\"${SAGEMAKER_PROJECT_ID}\"}]" \
          --kwargs "{\"region\":\"${AWS_REGION}\",\"role\":\"${SAGEMAKER_PIPELINE_ROLE_ARN}\",\"default_bucket\":\"${ARTIFACT_BUCKET}\",\"pipeline_name\":\"${SAGEMAKER_PROJECT_NAME_ID}\",\"model_package_group_name\":\"${SAGEMAKER_PROJECT_NAME_ID}\",\"base_job_prefix\":\"${SAGEMAKER_PROJECT_NAME_ID}\"}"
"""  # noqa: E501


def test_seed_buildspec_command_runs_byte_for_byte(home):
    """seed-data (explicit), a multipart upload, then the seed buildspec's run-pipeline
    line through `exec` in that same sandbox, then a restart: the execution, its steps and
    the package are still there."""
    assert _sandbox(home, "up").returncode == 0
    seeded = _sandbox(home, "seed-data", "--rows", "3000")
    assert seeded.returncode == 0, seeded.stderr
    assert "s3://sagemaker-sandbox-artifacts/sandbox-p-sandbox/data/churn.csv" in seeded.stdout
    again = _sandbox(home, "seed-data", "--rows", "3000")
    assert again.returncode == 1 and "not overwritten" in again.stderr
    running = daemon.find_running(home)
    # A multipart upload in progress (moto's debug dump then answers 500): run-pipeline
    # must still find and use this sandbox, not start an empty one.
    running.client("s3").create_multipart_upload(
        Bucket="sagemaker-sandbox-artifacts", Key="uploads/big.csv"
    )
    assert "already running" in _sandbox(home, "up").stdout

    done = _sandbox(home, "exec", "--", "bash", "-c", SEED_RUN_PIPELINE, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Registered model package arn:aws:sagemaker:us-east-1:123456789012:model-package/" in (
        done.stdout
    )
    assert daemon.find_running(home) == running
    assert _sandbox(home, "down").returncode == 0
    assert _sandbox(home, "up").returncode == 0
    sagemaker = daemon.find_running(home).client("sagemaker")
    [execution] = sagemaker.list_pipeline_executions(PipelineName="sandbox-p-sandbox")[
        "PipelineExecutionSummaries"
    ]
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    steps = sagemaker.list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineExecutionSteps"]
    assert {s["StepName"] for s in steps} >= {"Preprocess", "Train", "Evaluate", "Register"}
    packages = sagemaker.list_model_packages(ModelPackageGroupName="sandbox-p-sandbox")
    assert len(packages["ModelPackageSummaryList"]) == 1


def test_exec_with_nothing_running_starts_and_stops_its_own(home):
    done = _sandbox(home, "exec", "--", "bash", "-c", 'echo "$AWS_ENDPOINT_URL"; exit 3')
    assert done.returncode == 3, done.stderr  # the command's own exit code
    assert done.stdout.startswith("http://127.0.0.1:")
    assert daemon.find_running(home) is None  # it stopped with the command
