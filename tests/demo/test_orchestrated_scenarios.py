"""`python -m sandbox demo stepfunctions` and `demo drift`, chained in one sandbox as a user
would run them: the state machine deploys a model approved by task token, then shifted
traffic on the monitored prod endpoint starts retraining up to a new package awaiting
approval. Outcomes are asserted from the sandbox's own state and the report."""

from __future__ import annotations

import json
import shutil

import pytest

from sandbox.demo.run import run_demo
from tests.conftest import fresh_sandbox

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(name="runs", scope="module")
def fixture_runs(tmp_path_factory):
    with fresh_sandbox(tmp_path_factory.mktemp("orchestrated-home")) as sandbox:
        done = {}
        for scenario in ("stepfunctions", "drift"):
            code = run_demo(
                scenario,
                False,
                sandbox.home,
                rows=3_000,
                sandbox=sandbox,
                codebuild_overrides={
                    "LATENCY_BUDGET_MS": "5000",
                    "LATENCY_REQUESTS": "5",
                },  # a busy machine
            )
            keep = tmp_path_factory.mktemp(scenario)
            shutil.copytree(sandbox.home / "report", keep / "report")
            done[scenario] = (code, keep / "report")
        yield sandbox, done


def _packages(sandbox) -> list[tuple[int, str]]:
    found = sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName="churn")
    return sorted(
        (p["ModelPackageVersion"], p["ModelApprovalStatus"])
        for p in found["ModelPackageSummaryList"]
    )


def _executions(sandbox) -> list[dict]:
    sfn = sandbox.client("stepfunctions")
    [machine] = [
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"] == "churn-model-lifecycle"
    ]
    found = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [
        sfn.describe_execution(executionArn=e["executionArn"])
        for e in sorted(found, key=lambda e: e["startDate"])
    ]


def test_stepfunctions_approves_by_task_token_and_deploys(runs):
    sandbox, done = runs
    code, report = done["stepfunctions"]
    assert code == 0
    first = _executions(sandbox)[0]
    assert first["status"] == "SUCCEEDED"
    assert json.loads(first["input"]) == {
        "InputDataUri": json.loads(first["input"])["InputDataUri"]
    }  # started by the demo, not by a rule
    page = (report / "index.html").read_text()
    path = "Configure → ValidateData → StartPipeline"
    assert path in page and "RequestApproval → Deploy → Deployed" in page
    assert "Champion gate: candidate v1 auc=" in page and "no champion yet" in page


def test_drift_starts_retraining_up_to_a_package_awaiting_approval(runs):
    sandbox, done = runs
    code, report = done["drift"]
    assert code == 0
    latest = _executions(sandbox)[-1]
    assert latest["status"] == "RUNNING"  # waiting at RequestApproval
    assert json.loads(latest["input"])["Trigger"]["reason"] == "drift"
    assert _packages(sandbox)[-1][1] == "PendingManualApproval"
    markdown = (report / "report.md").read_text()
    assert "| monthly_charges |" in markdown and "started by drift" in markdown
    assert (report / "drift.png").read_bytes().startswith(PNG)
    assert "monthly_charges: baseline_drift_check" in (report / "index.html").read_text()
