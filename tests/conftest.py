"""Fixtures shared by the whole suite: fake AWS credentials, a moto server, sample data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pipelines.churn.generate_data import write_churn_csv

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerPipelineRole"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}


REMOVED = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "SANDBOX_HOME")
NO_FILES = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}

# Before any test module imports SDK v3 (it builds a boto3 client at import time): fake
# credentials, a fixed region, no profile or credentials file, so no test reaches real AWS.
for _name in REMOVED:
    os.environ.pop(_name, None)
os.environ.update({**FAKE_AWS, **NO_FILES})


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, restored before each test (a test may have changed it)."""
    for name in REMOVED:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**FAKE_AWS, **NO_FILES}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(name="moto_server", scope="session")
def fixture_moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(name="aws_endpoint")
def fixture_aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and SDK v3) at the moto server for this test, with a clean state."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    return moto_server


@pytest.fixture(name="sagemaker_client")
def fixture_sagemaker_client(aws_endpoint: str):
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=aws_endpoint)


@pytest.fixture(name="s3_client")
def fixture_s3_client(aws_endpoint: str):
    return boto3.client("s3", region_name=REGION, endpoint_url=aws_endpoint)


@pytest.fixture(name="churn_csv", scope="session")
def fixture_churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 generated customers, written once for the session."""
    return write_churn_csv(tmp_path_factory.mktemp("raw") / "churn.csv", rows=2_000, seed=7)
