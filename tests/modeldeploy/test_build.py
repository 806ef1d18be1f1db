"""build.py: the newest Approved package, the exported configs, nothing written on error."""

from __future__ import annotations

import json

import pytest

from modeldeploy import build
from modeldeploy.registry import latest_approved

from .conftest import ROLE


def _argv(tmp_path, group: str, *extra: str) -> list[str]:
    return [
        "--model-execution-role",
        ROLE,
        "--model-package-group-name",
        group,
        "--sagemaker-project-id",
        "p-abc",
        "--sagemaker-project-name",
        "churn",
        "--s3-bucket",
        "artifacts",
        "--export-staging-config",
        str(tmp_path / "staging.json"),
        "--export-prod-config",
        str(tmp_path / "prod.json"),
        "--export-manifest",
        str(tmp_path / "manifest.json"),
        *extra,
    ]


def test_picks_newest_approved_across_pages(registry):
    statuses = [
        "Approved",
        "Rejected",
        "Approved",
        "PendingManualApproval",
        "Approved",
        "Rejected",
        "PendingManualApproval",
    ]
    arns = [registry.register("paging-group", status) for status in statuses]
    chosen = latest_approved(registry.sagemaker, "paging-group", page_size=2)
    assert chosen.arn == arns[4]
    assert chosen.version == 5


def test_writes_template_configurations_and_manifest(registry, tmp_path, capsys):
    arn = registry.register("build-group")
    assert (
        build.main(
            _argv(
                tmp_path,
                "build-group",
                "--sagemaker-project-arn",
                "arn:aws:sagemaker:us-east-1:123456789012:project/churn",
            )
        )
        == 0
    )
    staging = json.loads((tmp_path / "staging.json").read_text())
    assert staging["Parameters"]["ModelPackageName"] == arn
    assert staging["Parameters"]["StageName"] == "staging"
    assert staging["Parameters"]["DataCaptureUploadPath"] == "s3://artifacts/datacapture-staging"
    assert staging["Tags"]["sagemaker:project-name"] == "churn"
    prod = json.loads((tmp_path / "prod.json").read_text())
    assert prod["Parameters"]["StageName"] == "prod"
    assert prod["Parameters"]["ModelExecutionRoleArn"] == ROLE
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["model_package_arn"] == arn
    assert manifest["metrics"] == {"auc": 0.9}
    assert manifest["inference_contract_uri"].endswith("/inference-contract.json")
    assert len(manifest["git_commit"]) >= 7


def test_no_approved_package_exits_1_and_writes_nothing(registry, tmp_path, capsys):
    registry.register("pending-group", "PendingManualApproval")
    registry.register("pending-group", "Rejected")
    assert build.main(_argv(tmp_path, "pending-group")) == 1
    err = capsys.readouterr().err
    assert err.strip() == "build.py: no Approved model package in group 'pending-group'"
    assert list(tmp_path.iterdir()) == []


def test_package_without_a_contract_is_one_line_error_and_writes_nothing(
    registry, tmp_path, capsys
):
    arn = registry.register("no-contract-group", contract=None)
    assert build.main(_argv(tmp_path, "no-contract-group")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"build.py: model package {arn} has no inference contract")
    assert "CustomerMetadataProperties 'InferenceContractUri'" in err
    assert list(tmp_path.iterdir()) == []


def test_package_with_an_invalid_contract_names_the_field(registry, tmp_path, capsys):
    contract = {**registry.churn_contract, "content_types": ["text/plain"]}
    arn = registry.register("bad-contract-group", contract=contract)
    assert build.main(_argv(tmp_path, "bad-contract-group")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"model package {arn}: inference contract s3://" in err
    assert "content_types must be a non-empty list of text/csv, application/json" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"EndpointInstanceCount": "0"}, "parameter EndpointInstanceCount=0 is below 1"),
        ({"InstanceKind": "big"}, "unknown parameter 'InstanceKind'"),
        ({"DataCaptureEnabled": "yes"}, "DataCaptureEnabled='yes' is not one of"),
        ({"EndpointInstanceType": "m5.large"}, "does not match"),
        ({"StageName": "prod"}, "staging config has StageName 'prod'"),
    ],
)
def test_malformed_stage_config_is_one_clear_error(change, message, registry, tmp_path, capsys):
    registry.register("config-group")
    config = json.loads((build.HERE / "staging-config.json").read_text())
    config["Parameters"].update(change)
    bad = tmp_path / "in" / "staging-config.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(config))
    out = tmp_path / "out"
    out.mkdir()
    assert build.main(_argv(out, "config-group", "--import-staging-config", str(bad))) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert list(out.iterdir()) == []
