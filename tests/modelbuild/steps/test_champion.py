"""Champion step: the newest Approved package's metric, looked up in a real (moto) registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines.churn.steps import champion
from tests.conftest import REGION

GROUP = "champion-group"
BUCKET = "champion-bucket"


def register(sagemaker, s3, auc: float | None, status: str, version_tag: str) -> str:
    """A package in GROUP whose model-quality report has ROC AUC `auc` (no report if None)."""
    request = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    if auc is not None:
        key = f"{version_tag}/evaluation.json"
        body = {"binary_classification_metrics": {"auc": {"value": auc}}}
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body))
        request["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}
            }
        }
    return sagemaker.create_model_package(**request)["ModelPackageArn"]


@pytest.fixture(name="registry")
def fixture_registry(sagemaker_client, s3_client):
    s3_client.create_bucket(Bucket=BUCKET)
    sagemaker_client.create_model_package_group(ModelPackageGroupName=GROUP)
    return sagemaker_client, s3_client


def run(tmp_path: Path, candidate: float, tolerance: float = 0.02, group: str = GROUP) -> int:
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir(exist_ok=True)
    report = {"binary_classification_metrics": {"auc": {"value": candidate}}}
    (evaluation / "evaluation.json").write_text(json.dumps(report))
    argv = ["--model-package-group-name", group, "--tolerance", str(tolerance)]
    argv += ["--region", REGION, "--evaluation-dir", str(evaluation)]
    return champion.main([*argv, "--output-dir", str(tmp_path / "out")])


def written(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / champion.REPORT_FILE).read_text())


def test_first_model_has_no_champion_and_passes_on_the_floor(aws_endpoint, tmp_path):
    assert run(tmp_path, candidate=0.85, group="no-such-group") == 0
    assert written(tmp_path) == {
        "metric": "auc",
        "candidate": {"value": 0.85},
        "champion": None,
        "tolerance": 0.02,
        "minimum_to_pass": 0.0,
        "summary": "candidate auc=0.8500 no champion yet",
    }


def test_champion_is_the_newest_approved_package_never_pending_or_rejected(registry, tmp_path):
    sagemaker, s3 = registry
    register(sagemaker, s3, 0.81, "Approved", "v1")
    newest_approved = register(sagemaker, s3, 0.88, "Approved", "v2")
    register(sagemaker, s3, 0.99, "Rejected", "v3")
    register(sagemaker, s3, 0.97, "PendingManualApproval", "v4")
    assert run(tmp_path, candidate=0.86) == 0
    report = written(tmp_path)
    assert report["champion"] == {"value": 0.88, "model_package_arn": newest_approved, "version": 2}
    assert report["minimum_to_pass"] == pytest.approx(0.86)
    assert report["candidate"] == {"value": 0.86}
    assert report["summary"] == (
        "candidate auc=0.8600 champion v2 auc=0.8800 tolerance=0.02 minimum=0.8600"
    )
    # Registered as package metadata, whose values allow no parentheses or commas.
    assert re.fullmatch(r"[\w .:/=+\-@]{1,256}", report["summary"])


def test_group_with_only_pending_packages_has_no_champion(registry, tmp_path):
    sagemaker, s3 = registry
    register(sagemaker, s3, 0.99, "PendingManualApproval", "v1")
    assert run(tmp_path, candidate=0.7) == 0
    assert written(tmp_path)["champion"] is None


def test_champion_without_a_report_fails_naming_the_package(registry, tmp_path, capsys):
    sagemaker, s3 = registry
    arn = register(sagemaker, s3, None, "Approved", "v1")
    assert run(tmp_path, candidate=0.9) == 1
    assert capsys.readouterr().err.strip() == (
        f"ChampionError: champion {arn} has no ModelQuality statistics to compare with"
    )
    assert not (tmp_path / "out" / champion.REPORT_FILE).exists()


def test_unreachable_registry_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert run(tmp_path, candidate=0.9) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("ChampionError: Could not connect to the endpoint URL")


@pytest.mark.parametrize("tolerance", ["-0.1", "1.5"])
def test_tolerance_out_of_range_is_a_usage_error(tolerance, capsys):
    with pytest.raises(SystemExit) as exit_info:
        champion.parse_args(["--model-package-group-name", GROUP, "--tolerance", tolerance])
    assert exit_info.value.code == 2
    assert "--tolerance must be in [0, 1]" in capsys.readouterr().err


def test_step_script_imports_nothing_from_the_project():
    """Only the script file is shipped to the container."""
    source = Path(champion.__file__).read_text()
    assert "from pipelines" not in source and "import pipelines" not in source
