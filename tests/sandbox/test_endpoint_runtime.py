"""The sandbox's endpoint runtime is as strict as InvokeEndpoint: the 6 MB request limit,
and the model's 4xx answers (malformed CSV, non-finite values, unknown categories) reach
the caller as SageMaker relays them, as ModelError carrying the container's status and
message. Concurrent calls each get their own rows' answer."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.constants import DEFAULT_BUCKET

ENDPOINT = "runtime-strictness"
ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"


@pytest.fixture(name="endpoint", scope="module")
def fixture_endpoint(sandbox, model_archive: Path) -> str:
    """An InService endpoint serving the trained churn model through a package."""
    s3, sagemaker = sandbox.client("s3"), sandbox.client("sagemaker")
    if DEFAULT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=DEFAULT_BUCKET)
    key = f"{ENDPOINT}/model.tar.gz"
    s3.upload_file(str(model_archive / "model.tar.gz"), DEFAULT_BUCKET, key)
    sagemaker.create_model_package_group(ModelPackageGroupName=ENDPOINT)
    package = sagemaker.create_model_package(
        ModelPackageGroupName=ENDPOINT,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{DEFAULT_BUCKET}/{key}",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName=ENDPOINT, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=ENDPOINT,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": ENDPOINT,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    return ENDPOINT


@pytest.fixture(name="runtime", scope="module")
def fixture_runtime(sandbox):
    return sandbox.client("sagemaker-runtime")


@pytest.fixture(name="rows", scope="module")
def fixture_rows(splits: Path, model_dir: Path) -> pd.DataFrame:
    """Test rows in the model's feature order (no label)."""
    features = json.loads((model_dir / "features.json").read_text())
    return pd.read_csv(splits / "test" / "test.csv")[features].head(40)


def _csv(rows: pd.DataFrame) -> str:
    return rows.to_csv(header=False, index=False)


def _invoke(runtime, endpoint: str, body: str | bytes, content_type: str = "text/csv") -> list:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=content_type, Accept="application/json"
    )
    return json.loads(answer["Body"].read())["predictions"]


def _refusal(runtime, endpoint: str, body: str | bytes, content_type: str = "text/csv") -> dict:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type)
    return refused.value.response


def test_a_body_over_6_mb_is_refused_before_the_model(runtime, endpoint, rows):
    line = _csv(rows.head(1)).encode()
    body = line * (10 * 1024 * 1024 // len(line))  # 10 MB of valid rows
    response = _refusal(runtime, endpoint, body)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "ValidationError"
    assert "exceeds the InvokeEndpoint limit of 6291456 bytes" in response["Error"]["Message"]
    # The refused call leaves the endpoint (and the client's connection) serving.
    assert len(_invoke(runtime, endpoint, line)) == 1


def test_a_body_of_6_mb_is_served(runtime, endpoint, rows):
    line = _csv(rows.head(1)).encode()
    body = line * (6 * 1024 * 1024 // len(line))
    assert len(_invoke(runtime, endpoint, body)) == 6 * 1024 * 1024 // len(line)


def _model_error(response: dict) -> tuple[int, str]:
    """(the container's status, its message) from a ModelError answer."""
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return response["OriginalStatusCode"], response["OriginalMessage"]


def test_an_unbalanced_quote_is_a_400_naming_the_line(runtime, endpoint, rows):
    lines = _csv(rows.head(3)).splitlines()
    lines[1] = '"' + lines[1]  # the quote opened on line 2 is never closed
    status, message = _model_error(_refusal(runtime, endpoint, "\n".join(lines) + "\n"))
    assert status == 400
    assert "malformed CSV at line 2" in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_a_non_finite_csv_value_is_a_400_naming_the_feature(runtime, endpoint, rows, value):
    row = rows.head(2).astype(object)
    row.iloc[1, list(row.columns).index("monthly_charges")] = value
    status, message = _model_error(_refusal(runtime, endpoint, _csv(row)))
    assert status == 400
    assert f"CSV line 2: feature 'monthly_charges' has non-finite value '{value}'" in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_json_value_is_a_400(runtime, endpoint, rows, literal):
    records = json.loads(rows.head(1).to_json(orient="records"))
    body = json.dumps({"instances": records}).replace(
        f'"age": {records[0]["age"]}', f'"age": {literal}'
    )
    assert literal in body
    status, message = _model_error(_refusal(runtime, endpoint, body, "application/json"))
    assert status == 400
    assert "row 0: feature 'age' has non-finite value" in message


def test_an_unknown_category_is_a_400_naming_the_known_ones(runtime, endpoint, rows):
    records = json.loads(rows.head(1).to_json(orient="records"))
    records[0]["contract"] = "Weekly"
    body = json.dumps({"instances": records})
    status, message = _model_error(_refusal(runtime, endpoint, body, "application/json"))
    assert status == 400
    assert "feature 'contract' has unknown category 'Weekly'" in message
    assert "'Month-to-month'" in message


def test_missing_values_are_still_accepted(runtime, endpoint, rows):
    records = json.loads(rows.head(2).to_json(orient="records"))
    records[0]["age"] = None
    records[1]["contract"] = None
    body = json.dumps({"instances": records})
    assert len(_invoke(runtime, endpoint, body, "application/json")) == 2
    row = rows.head(1).astype(object)
    row.iloc[0, list(row.columns).index("tenure_months")] = ""
    assert len(_invoke(runtime, endpoint, _csv(row))) == 1


def test_concurrent_calls_each_get_their_own_answer(sandbox, endpoint, runtime, rows):
    bodies = [_csv(rows.iloc[[i]]) for i in range(len(rows))]
    alone = [_invoke(runtime, endpoint, body)[0] for body in bodies]
    pooled = boto3.client(
        "sagemaker-runtime",
        endpoint_url=sandbox.endpoint_url,
        config=Config(max_pool_connections=len(bodies)),
    )
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        together = list(pool.map(lambda body: _invoke(pooled, endpoint, body)[0], bodies))
    assert together == alone
    assert len({p["churn_probability"] for p in alone}) > 1  # the rows do differ
