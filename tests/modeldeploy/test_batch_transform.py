"""Batch inference as a deployment target, in the sandbox: a stage config with a
BatchTransform object gets a batch export from build.py; deploy.py deploys the batch
template (model + EventBridge Scheduler schedule starting CreateTransformJob) and, for
prod, runs one transform job on the contract's sample and checks every output row against
the contract; the schedule, fired, scores the stage's input."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from modeldeploy import build, deploy
from modeldeploy.batch_config import BATCH_TEMPLATE
from modeldeploy.errors import ConfigError
from modeldeploy.manifest import MANIFEST_FILE
from sandbox import schedules
from sandbox.constants import DEFAULT_BUCKET
from tests.modeldeploy.conftest import ROLE

HERE = BATCH_TEMPLATE.parent


def _build(flow, batch: dict | None) -> int:
    config = json.loads((HERE / "prod-config.json").read_text())
    if batch is not None:
        config["BatchTransform"] = batch
    flow.path("prod-stage.json").write_text(json.dumps(config))
    argv = ["--model-execution-role", ROLE, "--model-package-group-name", flow.group]
    argv += ["--sagemaker-project-id", "p-test1234", "--sagemaker-project-name", flow.project]
    argv += [
        "--s3-bucket",
        DEFAULT_BUCKET,
        "--import-prod-config",
        str(flow.path("prod-stage.json")),
    ]
    argv += ["--export-staging-config", str(flow.path("staging-config-export.json"))]
    argv += ["--export-prod-config", str(flow.path("prod-config-export.json"))]
    argv += ["--export-manifest", str(flow.path(MANIFEST_FILE))]
    return build.main(argv)


def _deploy_batch(flow) -> int:
    return deploy.main(
        ["--stack-name", f"{flow.project}-prod-batch"]
        + ["--config-file", str(flow.path("prod-config-export-batch.json"))]
        + ["--template-file", str(BATCH_TEMPLATE), "--manifest", str(flow.path(MANIFEST_FILE))]
        + ["--poll-seconds", "0.1", "--smoke-timeout-seconds", "120"]
    )


def _wait(sagemaker, name: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] != "InProgress" or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def test_scheduled_batch_transform_is_deployed_smoke_tested_and_scores_the_input(
    registry, flow, sandbox, capsys
):
    package = registry.register(flow.group)
    assert _build(flow, {"Parameters": {"ScheduleExpression": "rate(1 day)"}}) == 0
    exported = json.loads(flow.path("prod-config-export-batch.json").read_text())["Parameters"]
    assert exported["ModelPackageName"] == package
    assert exported["BatchInputUri"] == f"s3://{DEFAULT_BUCKET}/batch-prod/input"

    capsys.readouterr()
    assert _deploy_batch(flow) == 0
    out = capsys.readouterr().out
    assert "PASS output-contract: 20 rows scored within the contract" in out
    assert f"Batch smoke test of {flow.project}-prod-batch passed" in out

    # The schedule, fired, starts CreateTransformJob on the stage's input.
    contract = registry.churn_contract
    rows = contract["sample"][:7]
    body = "\n".join(
        ",".join("" if r[c] is None else str(r[c]) for c in contract["columns"]) for r in rows
    )
    s3 = boto3.client("s3")
    s3.put_object(Bucket=DEFAULT_BUCKET, Key="batch-prod/input/today.csv", Body=body.encode())
    name = f"{flow.project}-prod-batch"
    schedule = boto3.client("scheduler").get_schedule(Name=name)
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:createTransformJob"
    job_arn = schedules.fire(sandbox.client, name)
    job = _wait(registry.sagemaker, job_arn.rsplit("/", 1)[-1])
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    output = job["TransformOutput"]["S3OutputPath"]
    assert output.startswith(f"s3://{DEFAULT_BUCKET}/batch-prod/output/")
    key = output.split(f"{DEFAULT_BUCKET}/", 1)[1] + "/today.csv.out"
    lines = s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read().decode().splitlines()
    assert len(lines) == len(rows)
    assert all(0 <= json.loads(line)["predictions"][0]["churn_probability"] <= 1 for line in lines)


def test_a_batch_model_that_breaks_the_contract_is_restored(
    registry, flow, failing_archive, capsys
):
    good = registry.register(flow.group)
    assert _build(flow, {"Parameters": {}}) == 0
    assert _deploy_batch(flow) == 0
    registry.register(flow.group, archive=failing_archive)
    assert _build(flow, {"Parameters": {}}) == 0
    capsys.readouterr()
    assert _deploy_batch(flow) == 1
    out, err = capsys.readouterr()
    assert "FAIL transform-job" in out and "the new model cannot score" in out
    assert f"restored {flow.project}-prod-batch, scheduled with {good}" in err
    stack = boto3.client("cloudformation").describe_stacks(StackName=f"{flow.project}-prod-batch")
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
    assert parameters["ModelPackageName"] == good


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ("nightly", "'BatchTransform' must be an object with a 'Parameters' object"),
        ({"Parameters": {"Schedule": "x"}}, "unknown BatchTransform parameter 'Schedule'"),
        ({"Parameters": {"ScheduleExpression": "daily"}}, "ScheduleExpression='daily' does not"),
        ({"Parameters": {"TransformInstanceCount": 0}}, "TransformInstanceCount=0 is below 1"),
    ],
)
def test_a_bad_batch_config_is_refused_in_one_line(tmp_path, batch, message):
    from modeldeploy.batch_config import load_batch_config

    path = tmp_path / "prod-config.json"
    path.write_text(json.dumps({"Parameters": {"StageName": "prod"}, "BatchTransform": batch}))
    with pytest.raises(ConfigError) as refused:
        load_batch_config(path, "prod")
    assert str(path) in str(refused.value) and message in str(refused.value)


def test_batch_template_parameters_are_constrained():  # tests/codepipeline lints it
    from modeldeploy.stage_config import template_parameters

    for name, rule in template_parameters(BATCH_TEMPLATE).items():
        assert rule.get("Description"), name
        assert {"AllowedValues", "AllowedPattern", "MinValue", "Default"} & set(rule), name
