"""ChampionGate Lambda's registry look-ups against a real (moto) registry. The whole handler,
on packages a real pipeline execution registered, runs in tests/sandbox/test_champion_gate.py."""

from __future__ import annotations

import json

import pytest

from orchestration.lambdas import champion_gate
from orchestration.lambdas.champion_gate import ChampionGateError

GROUP = "gate-group"
BUCKET = "gate-bucket"


@pytest.fixture(name="registry")
def fixture_registry(sagemaker_client, s3_client):
    s3_client.create_bucket(Bucket=BUCKET)
    sagemaker_client.create_model_package_group(ModelPackageGroupName=GROUP)

    def register(auc: float | None, status: str) -> str:
        request = {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
        if auc is not None:
            key = f"reports/{auc}-{status}.json"
            report = {"binary_classification_metrics": {"auc": {"value": auc}}}
            s3_client.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report))
            request["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{BUCKET}/{key}",
                    }
                }
            }
        return sagemaker_client.create_model_package(**request)["ModelPackageArn"]

    return sagemaker_client, s3_client, register


def test_newest_approved_skips_the_candidate_pending_and_rejected(registry):
    sagemaker, _, register = registry
    register(0.8, "Approved")
    champion = register(0.85, "Approved")
    register(0.99, "Rejected")
    candidate = register(0.9, "Approved")  # approved meanwhile: still not its own champion
    assert champion_gate.newest_approved(sagemaker, GROUP, excluding=candidate) == champion
    assert champion_gate.newest_approved(sagemaker, "empty", excluding=candidate) is None


def test_package_metric_reads_the_registered_report(registry):
    sagemaker, s3, register = registry
    arn = register(0.87, "PendingManualApproval")
    metric = champion_gate.package_metric(sagemaker, s3, arn, "auc")
    assert metric == {
        "model_package_arn": arn,
        "version": 1,
        "value": 0.87,
        "metrics_uri": f"s3://{BUCKET}/reports/0.87-PendingManualApproval.json",
    }
    with pytest.raises(ChampionGateError, match="no f1 in its report"):
        champion_gate.package_metric(sagemaker, s3, arn, "f1")


def test_package_without_a_report_is_named(registry):
    sagemaker, s3, register = registry
    arn = register(None, "Approved")
    with pytest.raises(ChampionGateError, match=f"{arn} has no ModelQuality statistics"):
        champion_gate.package_metric(sagemaker, s3, arn, "auc")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"model_package_group_name": "g", "tolerance": "0.1"},
            "'pipeline_execution_arn' is missing",
        ),
        (
            {"pipeline_execution_arn": "a", "tolerance": "0.1"},
            "'model_package_group_name' is missing",
        ),
        (
            {"pipeline_execution_arn": "a", "model_package_group_name": "g", "tolerance": "lots"},
            "'tolerance' must be a number in \\[0, 1\\]",
        ),
        (
            {"pipeline_execution_arn": "a", "model_package_group_name": "g", "tolerance": "1.5"},
            "got '1.5'",
        ),
    ],
)
def test_malformed_event_is_named(event, message):
    with pytest.raises(ValueError, match=message):
        champion_gate.handler(event, None)
