"""`python -m sandbox demo` end to end: the three scenarios, chained in one sandbox as a
user would run them (happy, then gate-failure, then rollback), with outcomes asserted from
the sandbox's own state, the smoke tests' result files and the report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from modeldeploy.stage_config import _CfnLoader
from sandbox.demo.lifecycle import DEPLOY_TEMPLATE
from sandbox.demo.run import run_demo
from tests.conftest import fresh_sandbox

PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Run:
    code: int
    report: Path  # a copy: the next scenario rewrites .sandbox/report
    work: Path
    output: str


@pytest.fixture(name="demo", scope="module")
def fixture_demo(tmp_path_factory):
    """Runs scenarios one after another in one sandbox; returns each one's results."""
    with fresh_sandbox(tmp_path_factory.mktemp("demo-home")) as sandbox:
        runs: dict[str, Run] = {}

        def run(scenario: str, capsys) -> Run:
            if scenario not in runs:
                code = run_demo(
                    scenario,
                    False,
                    sandbox.home,
                    sandbox=sandbox,
                    # Behaviour, not speed, is under test: a busy machine must not fail it.
                    codebuild_overrides={"LATENCY_BUDGET_MS": "5000", "LATENCY_REQUESTS": "5"},
                )
                keep = tmp_path_factory.mktemp(scenario)
                shutil.copytree(sandbox.home / "report", keep / "report")
                shutil.copytree(sandbox.home / "demo", keep / "work", ignore=_data_files)
                runs[scenario] = Run(code, keep / "report", keep / "work", capsys.readouterr().out)
            return runs[scenario]

        yield sandbox, run


def _data_files(folder, names):
    return [n for n in names if n.endswith(".csv") or n == "artifacts"]


def served_package(sagemaker, endpoint: str) -> str:
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return model["PrimaryContainer"]["ModelPackageName"]


def packages(sagemaker) -> list[dict]:
    found = sagemaker.list_model_packages(ModelPackageGroupName="churn")
    return sorted(found["ModelPackageSummaryList"], key=lambda p: p["ModelPackageVersion"])


def smoke_results(work: Path, deploy_run: int, stage: str) -> dict:
    path = work / f"deploy-{deploy_run}" / "builds" / stage / "test-results.json"
    return json.loads(path.read_text())


def test_happy_path_promotes_the_approved_package_through_both_smoke_tests(demo, capsys):
    sandbox, run = demo
    happy = run("happy", capsys)
    assert happy.code == 0, happy.output[-3000:]
    sagemaker = sandbox.client("sagemaker")
    (package,) = packages(sagemaker)
    assert package["ModelApprovalStatus"] == "Approved"
    for endpoint in ("churn-staging", "churn-prod"):
        assert served_package(sagemaker, endpoint) == package["ModelPackageArn"]
    for stage in ("TestStaging", "TestProd"):
        results = smoke_results(happy.work, 1, stage)
        assert results["passed"], results
    assert "Auto-approved: this run is not interactive" in happy.output
    assert "matched rule ModelPackageStateChangeRule" in happy.output


def test_the_deploy_stages_run_are_exactly_the_templates(demo, capsys):
    _, run = demo
    happy = run("happy", capsys)
    template = yaml.load(DEPLOY_TEMPLATE.read_text(), Loader=_CfnLoader)
    stages = template["Resources"]["ModelDeployPipeline"]["Properties"]["Stages"]
    logs = sorted(p.name for p in (happy.report / "logs").iterdir())
    ran = [name.split("-", 1)[1].removesuffix(".log") for name in logs]
    expected = [s["Name"].lower() for s in stages]
    assert ran[-len(expected) :] == expected
    assert "TestProd" in [s["Name"] for s in stages]


def test_report_has_metrics_images_graph_endpoints_and_timings(demo, capsys):
    _, run = demo
    report = run("happy", capsys).report
    page = (report / "index.html").read_text()
    for image in ("roc_curve.png", "confusion_matrix.png"):
        assert f'<img src="{image}"' in page
        assert (report / image).read_bytes().startswith(PNG)
    for step in ("Preprocess", "Train", "Evaluate", "CheckEvaluation", "Register", "Fail"):
        assert f">{step}</text>" in page  # a box in the pipeline graph
    assert "churn-prod" in page and "<td>auc</td>" in page
    markdown = (report / "report.md").read_text()
    assert "| auc |" in markdown and "```mermaid" in markdown
    for link in ("logs/04-model-build.log", "logs/12-deployprod.log"):
        assert f"({link})" in markdown and (report / link).exists()


def test_gate_failure_stops_at_fail_and_changes_nothing(demo, capsys):
    sandbox, run = demo
    run("happy", capsys)
    sagemaker = sandbox.client("sagemaker")
    before = served_package(sagemaker, "churn-prod")
    gate = run("gate-failure", capsys)
    assert gate.code == 0, gate.output[-3000:]
    assert "Fail: Model ROC AUC" in gate.output and "MinRocAuc = 0.999" in gate.output
    assert "Log:" in gate.output and "model-build.log" in gate.output
    assert len(packages(sagemaker)) == 1  # nothing registered
    assert served_package(sagemaker, "churn-prod") == before  # nothing deployed
    assert "Fail · Failed" in (gate.report / "report.md").read_text()


def test_rollback_returns_prod_to_the_first_package(demo, capsys):
    sandbox, run = demo
    run("gate-failure", capsys)
    sagemaker = sandbox.client("sagemaker")
    first = served_package(sagemaker, "churn-prod")
    rollback = run("rollback", capsys)
    assert rollback.code == 0, rollback.output[-3000:]
    first_package, second_package = packages(sagemaker)
    assert first_package["ModelPackageArn"] == first
    assert second_package["ModelApprovalStatus"] == "Rejected"
    # The second model reached prod through the whole pipeline before it was rejected...
    assert smoke_results(rollback.work, 1, "TestProd")["passed"]
    # ...and the rejection's deploy run put the first package back in both stages.
    assert smoke_results(rollback.work, 2, "TestProd")["passed"]
    for endpoint in ("churn-staging", "churn-prod"):
        assert served_package(sagemaker, endpoint) == first


def test_multi_account_promotes_into_the_stage_accounts(demo, capsys):
    """After the others (one Approved package left): the stage configs name accounts, and
    the deploy pipeline puts that package in the staging account, then the prod account,
    as the CodeBuild role assuming each account's deploy role."""
    import boto3

    from sandbox.accounts import admin_environment
    from sandbox.demo.lifecycle import STAGE_ACCOUNTS

    sandbox, run = demo
    run("rollback", capsys)
    sagemaker = sandbox.client("sagemaker")
    tooling = {e: served_package(sagemaker, e) for e in ("churn-staging", "churn-prod")}
    multi = run("multi-account", capsys)
    assert multi.code == 0, multi.output[-3000:]
    assert len(packages(sagemaker)) == 2  # nothing built: the newest Approved is promoted
    approved = [p for p in packages(sagemaker) if p["ModelApprovalStatus"] == "Approved"]
    for stage, account in STAGE_ACCOUNTS.items():
        assert f"Deploying to account {account} as arn:aws:iam::{account}:role/" in multi.output
        # The deploy template's cross-account actions (StagingAccountId/ProdAccountId) name
        # the roles deploy.py assumed (the sandbox fails the action otherwise).
        assert (
            f"action role arn:aws:iam::{account}:role/churn-stage-deploy, "
            f"stack role arn:aws:iam::{account}:role/churn-stage-cloudformation"
        ) in multi.output
        admin = admin_environment(sandbox.endpoint_url, account)
        there = boto3.client(
            "sagemaker",
            endpoint_url=sandbox.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
        )
        assert served_package(there, f"churn-{stage}") == approved[-1]["ModelPackageArn"]
    for stage in ("TestStaging", "TestProd"):
        assert smoke_results(multi.work, 1, stage)["passed"]
    # The tooling account's own endpoints are as the other scenarios left them.
    assert {e: served_package(sagemaker, e) for e in tooling} == tooling


def test_a_failed_prod_smoke_test_in_the_pipeline_restores_the_previous_package(
    demo, capsys, tmp_path
):
    """After the rollback scenario (first package Approved and served, second Rejected): the
    second is approved again and goes through the deploy pipeline as the template declares
    it, but the prod smoke test fails (a latency budget nothing meets, for TestProd only).
    TestProd restores the first package in prod and fails, saying so."""
    from sandbox.demo.codepipeline import DeployPipelineRun
    from sandbox.demo.lifecycle import REPO, Lifecycle
    from sandbox.demo.progress import Progress, StageFailed
    from sandbox.demo.run import auto_approve

    sandbox, run = demo
    run("rollback", capsys)
    sagemaker = sandbox.client("sagemaker")
    first, second = (p["ModelPackageArn"] for p in packages(sagemaker))
    assert served_package(sagemaker, "churn-prod") == first
    progress = Progress(tmp_path / "logs")
    lifecycle = Lifecycle(sandbox, tmp_path, progress, auto_approve, rows=0)
    lifecycle.foundation()  # unchanged: its exports and the deploy template
    lifecycle.set_approval(second, "Approved", "approved again by the test")
    pipeline = DeployPipelineRun(
        template=lifecycle.deploy_template,
        workspace=tmp_path / "deploy",
        repo=REPO,
        environment=lifecycle.environment,
        progress=progress,
        approve=auto_approve,
        codebuild_overrides={
            "LATENCY_BUDGET_MS": "5000",
            "RESTORE_LATENCY_BUDGET_MS": "5000",
            "LATENCY_REQUESTS": "5",
        },
        stage_overrides={"TestProd": {"LATENCY_BUDGET_MS": "0.001"}},
    )
    with pytest.raises(StageFailed) as failed:
        pipeline.run()
    assert failed.value.stage == "TestProd"
    assert failed.value.reason == (
        "ERROR: prod smoke test failed; restored churn-prod to the package it served before"
    )
    assert pipeline.stages_run[-2:] == ["DeployProd", "TestProd"]
    log = failed.value.log.read_text()
    assert f"Rolling churn-prod back from {second} to {first}" in log
    assert f"churn-prod now serves {first} (smoke test passed)" in log
    assert served_package(sagemaker, "churn-prod") == first
    assert served_package(sagemaker, "churn-staging") == second  # staging passed its test
    statuses = {p["ModelPackageArn"]: p["ModelApprovalStatus"] for p in packages(sagemaker)}
    assert statuses == {first: "Approved", second: "Rejected"}
