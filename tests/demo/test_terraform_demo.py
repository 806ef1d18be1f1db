"""`make demo IAC=terraform` end to end: Terraform applies the dev environment to a sandbox,
new data starts the pipeline through the rule Terraform made, the approval rule's deploy
Lambda deploys the approved package to staging, and destroy leaves nothing of it behind.
Skipped, with the reason, when terraform or a provider mirror is missing (as tests/terraform/
are)."""

from __future__ import annotations

import re

import pytest

from sandbox.demo.run import run_demo
from sandbox.demo.terraform import PROJECT, unavailable
from tests.conftest import fresh_sandbox

ROWS = 2_000  # the lifecycle, not the model, is under test


@pytest.fixture(name="terraform_demo", scope="module")
def fixture_terraform_demo(tmp_path_factory):
    why_not = unavailable()
    if why_not:
        pytest.skip(why_not)
    with fresh_sandbox(tmp_path_factory.mktemp("terraform-demo")) as sandbox:
        code = run_demo("happy", False, sandbox.home, rows=ROWS, sandbox=sandbox, iac="terraform")
        yield code, sandbox


def test_the_approved_package_reaches_staging_through_the_deploy_lambda(terraform_demo):
    code, sandbox = terraform_demo
    logs = sandbox.home / "report" / "logs"
    report = (sandbox.home / "report" / "report.md").read_text()
    assert code == 0, report[:3000]
    stages = sorted(p.name for p in logs.iterdir())
    assert [re.sub(r"^\d+-|\.log$", "", s) for s in stages] == [
        "sandbox",
        "terraform-apply",
        "data",
        "model-build",
        "approve-package",
        "deploy-lambda",
        "terraform-destroy",
    ]
    # The Lambda's own CloudWatch log: the rule invoked it once, and it returned.
    deploy_log = (logs / "06-deploy-lambda.log").read_text().splitlines()
    group = f"[/aws/lambda/{PROJECT.name}-deploy]"
    assert len([line for line in deploy_log if line.startswith(f"{group} START")]) == 1
    assert [line for line in deploy_log if line.startswith(f"{group} END")]
    # What the endpoint serves (endpoint -> config -> model -> package), read before destroy.
    package = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{PROJECT.name}/1"
    assert f"| {PROJECT.name}-staging | InService | v1 `{package}` |" in report


def test_destroy_leaves_nothing_of_the_environment(terraform_demo):
    _, sandbox = terraform_demo
    buckets = [b["Name"] for b in sandbox.client("s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if PROJECT.name in b]
    roles = [r["RoleName"] for r in sandbox.client("iam").list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(f"{PROJECT.name}-")]
    stacks = sandbox.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])
    assert not [s for s in stacks["StackSummaries"] if s["StackName"].startswith(PROJECT.name)]
    functions = sandbox.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(PROJECT.name)]


def test_without_terraform_it_says_so_and_does_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform on it
    assert run_demo("happy", False, tmp_path / "home", iac="terraform") == 0
    assert "IAC=terraform skipped: terraform is not on PATH" in capsys.readouterr().out
    assert not (tmp_path / "home").exists()


def test_only_the_happy_scenario_runs_on_terraform(tmp_path, capsys):
    assert run_demo("rollback", False, tmp_path / "home", iac="terraform") == 2
    assert "runs the happy scenario" in capsys.readouterr().err
