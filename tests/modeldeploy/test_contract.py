"""The smoke test knows no model: it checks each package against the contract registered
with it. A house-price regression with other columns, another request and response shape
and its own inference script passes or fails by its own contract; a package without a
contract fails with one line naming it. Nothing under modeldeploy/ changes for any of it."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from modeldeploy.contract import ContractError, parse_contract
from modeldeploy.smoke import served_package

INFERENCE_SCRIPT = '''"""House prices: base + area and room rates + a district bonus."""
import csv
import io
import json

COLUMNS = ["area_m2", "rooms", "district"]


class PayloadError(ValueError):
    status_code = 400


def model_fn(model_dir):
    with open(f"{model_dir}/weights.json") as f:
        return json.load(f)


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    if content_type == "text/csv":
        rows = list(csv.reader(io.StringIO(text.strip())))
        if not rows or any(len(r) != len(COLUMNS) for r in rows):
            raise PayloadError(f"each CSV row needs {len(COLUMNS)} values")
        return [dict(zip(COLUMNS, r)) for r in rows]
    if content_type == "application/json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PayloadError("the body must be a JSON list of records")
        return rows
    raise PayloadError(f"unsupported content type {content_type}")


def predict_fn(rows, weights):
    try:
        return [
            weights["base"]
            + weights["per_m2"] * float(r["area_m2"])
            + weights["per_room"] * float(r["rooms"])
            + weights["district"].get(r["district"], 0)
            for r in rows
        ]
    except (KeyError, ValueError) as err:
        raise PayloadError(f"bad row: {err}") from None


def output_fn(prediction, accept):
    return json.dumps({"prices": [round(p, 2) for p in prediction]}), "application/json"
'''
WEIGHTS = {"base": 20_000, "per_m2": 3_000, "per_room": 5_000, "district": {"centre": 90_000}}


def regression_contract(maximum: float = 2_000_000) -> dict:
    return {
        "contract_version": 1,
        "columns": ["area_m2", "rooms", "district"],
        "content_types": ["application/json", "text/csv"],
        "json_instances_key": None,
        "sample": [
            {"area_m2": 70.5, "rooms": 3, "district": "centre"},
            {"area_m2": 120, "rooms": 5, "district": "north"},
            {"area_m2": 35, "rooms": 1, "district": "south"},
        ],
        "response": {
            "predictions_key": "prices",
            "value": {"type": "number", "minimum": 10_000, "maximum": maximum},
        },
        "invalid_payload": {"content_type": "application/json", "body": '{"not": "a list"}'},
    }


@pytest.fixture(name="regression_archive", scope="module")
def fixture_regression_archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("regression") / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (
            ("code/inference.py", INFERENCE_SCRIPT),
            ("weights.json", json.dumps(WEIGHTS)),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _serving(registry, endpoint: str) -> str:
    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    return served_package(registry.sagemaker, described)


def test_a_regression_model_passes_by_its_own_contract(registry, flow, regression_archive):
    arn = registry.register(flow.group, contract=regression_contract(), archive=regression_archive)
    assert flow.promote() == (0, 0, 0, 0, 0)
    assert _serving(registry, f"{flow.project}-prod") == arn
    results = flow.results("prod")
    assert results["passed"], results
    checks = {c["name"]: c["detail"] for c in results["checks"]}
    assert set(checks) == {
        "in-service",
        "serves-manifest-package",
        "contract",
        "json-predictions",
        "csv-predictions",
        "csv-json-agree",
        "latency-p95",
        "malformed-payload-4xx",
    }
    assert checks["json-predictions"] == "3 rows scored"
    assert "400" in checks["malformed-payload-4xx"]


def test_a_regression_model_fails_when_its_answers_break_its_contract(
    registry, flow, regression_archive, capsys
):
    # 70.5 m2 and 3 rooms in the centre cost 336,500: out of a contract capped at 100,000.
    registry.register(
        flow.group, contract=regression_contract(maximum=100_000), archive=regression_archive
    )
    assert flow.promote() == (0, 0, 1)  # build, deploy staging, smoke staging fails
    results = flow.results("staging")
    failed = [c for c in results["checks"] if not c["passed"]]
    assert not results["passed"] and failed[0]["name"] == "json-predictions"
    assert failed[0]["detail"] == "bad prediction 336500.0: value must be a number <= 100000"
    assert "FAIL json-predictions: bad prediction 336500.0" in capsys.readouterr().out


def test_the_churn_contract_does_not_fit_another_model(registry, flow, regression_archive):
    registry.register(flow.group, contract="churn", archive=regression_archive)
    assert flow.promote() == (0, 0, 1)
    failed = [c for c in flow.results("staging")["checks"] if not c["passed"]]
    assert failed[0]["name"] == "csv-predictions"
    assert "invocation failed" in failed[0]["detail"]
    assert "each CSV row needs 3 values" in failed[0]["detail"]


def test_a_served_package_without_a_contract_fails_in_one_line_and_changes_nothing(
    registry, flow, capsys
):
    registry.register(flow.group)
    assert flow.build() == 0
    # Deploy a package without a contract (build.py itself refuses one) to staging by hand.
    bare = registry.register(flow.group, contract=None)
    for name, field in (("staging-config-export.json", None), ("promotion-manifest.json", 1)):
        path = flow.path(name)
        document = json.loads(path.read_text())
        if field is None:
            document["Parameters"]["ModelPackageName"] = bare
        else:
            document["model_package_arn"] = bare
        path.write_text(json.dumps(document))
    assert flow.deploy("staging") == 0
    endpoint = f"{flow.project}-staging"
    before = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    capsys.readouterr()

    assert flow.smoke("staging") == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    failures = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert failures == [
        f"FAIL contract: model package {bare} has no inference contract: no "
        "CustomerMetadataProperties 'InferenceContractUri' (the S3 URI of its JSON contract; "
        "see modeldeploy/README.md)"
    ]
    after = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert after["EndpointConfigName"] == before["EndpointConfigName"]
    assert _serving(registry, endpoint) == bare


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contract_version": 2}, "contract_version must be 1"),
        ({"columns": []}, "columns must be a non-empty list of names"),
        ({"sample": [{"area_m2": 1, "rooms": 1}]}, "sample[0] has no district"),
        ({"response": {"predictions_key": "p"}}, "response needs exactly one of fields"),
        (
            {"response": {"predictions_key": None, "value": {"kind": "number"}}},
            "response.value has unknown key(s) kind",
        ),
        ({"invalid_payload": None}, "invalid_payload must be {content_type: one of"),
    ],
)
def test_a_malformed_contract_is_named_by_its_field(change, message):
    with pytest.raises(ContractError) as raised:
        parse_contract({**regression_contract(), **change}, "s3://b/c.json", "arn:pkg")
    assert str(raised.value).startswith("model package arn:pkg: inference contract s3://b/c.json: ")
    assert message in str(raised.value)
