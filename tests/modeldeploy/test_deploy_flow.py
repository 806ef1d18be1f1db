"""The deploy half end to end in the sandbox: build -> staging -> smoke -> prod -> smoke."""

from __future__ import annotations

import json

import boto3

from modeldeploy.smoke import served_package


def _serving(registry, endpoint: str) -> str:
    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    return served_package(registry.sagemaker, described)


def test_approved_package_reaches_prod_and_passes_both_smoke_tests(registry, flow):
    registry.register(flow.group, status="Approved")
    newest = registry.register(flow.group, status="Approved")
    registry.register(flow.group, status="PendingManualApproval")  # never deployed
    assert flow.promote() == (0, 0, 0, 0, 0)
    assert _serving(registry, f"{flow.project}-prod") == newest
    results = flow.results("prod")  # of the prod smoke test that promote() passed
    assert results["passed"]
    assert {c["name"] for c in results["checks"]} == {
        "in-service",
        "serves-manifest-package",
        "contract",
        "csv-predictions",
        "json-predictions",
        "csv-json-agree",
        "latency-p95",
        "malformed-payload-4xx",
    }
    assert 0 < results["latency_ms"]["p50"] <= results["latency_ms"]["p95"]


def test_redeploying_the_same_package_is_no_change(registry, flow, capsys):
    registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    capsys.readouterr()
    assert flow.deploy("prod") == 0
    assert "no changes to deploy" in capsys.readouterr().out


def test_broken_model_fails_staging_and_leaves_prod_untouched(registry, flow, capsys):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    registry.register(flow.group, broken=True)
    capsys.readouterr()
    # The staging update's new fleet cannot load the model: the blue/green update fails
    # before any traffic moves, and the stack rolls back (as UpdateEndpoint does on AWS).
    assert flow.promote() == (0, 1)  # build, deploy staging fails
    error = capsys.readouterr().err
    assert "UPDATE_ROLLBACK_COMPLETE" in error and "weights missing" in error
    described = registry.sagemaker.describe_endpoint(EndpointName=f"{flow.project}-staging")
    assert described["EndpointStatus"] == "InService"
    assert "weights missing" in described["FailureReason"]
    assert _serving(registry, f"{flow.project}-staging") == good
    assert _serving(registry, f"{flow.project}-prod") == good


def test_rejecting_the_live_package_brings_the_previous_one_back(registry, flow, capsys):
    first = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    second = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    assert _serving(registry, f"{flow.project}-prod") == second

    assert flow.rollback("prod", "drift") == 0
    assert f"{flow.project}-prod now serves {first} (smoke test passed)" in capsys.readouterr().out
    assert _serving(registry, f"{flow.project}-prod") == first
    assert (
        registry.sagemaker.describe_model_package(ModelPackageName=second)["ModelApprovalStatus"]
        == "Rejected"
    )
    # The approval-status event runs the same deploy flow; it picks the first package too.
    assert flow.promote() == (0, 0, 0, 0, 0)
    assert _serving(registry, f"{flow.project}-prod") == first
    assert _serving(registry, f"{flow.project}-staging") == first


def test_prod_deploy_of_another_package_is_refused(registry, flow, capsys):
    registry.register(flow.group)
    assert flow.build() == 0
    config_path = flow.path("prod-config-export.json")
    config = json.loads(config_path.read_text())
    config["Parameters"]["ModelPackageName"] = registry.register(
        flow.group, status="PendingManualApproval"
    )
    config_path.write_text(json.dumps(config))
    assert flow.deploy("prod") == 2
    assert "refusing to deploy a package that did not pass staging" in capsys.readouterr().err
    cloudformation = boto3.client("cloudformation")
    names = [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]]
    assert f"{flow.project}-prod" not in names
