"""Definitions rendered once per session, as get-pipeline-definition renders them: against
an AWS endpoint (the session's moto server), which SDK v3 calls while it renders."""

from __future__ import annotations

import json

import pytest

from pipelines.get_pipeline_definition import render_definition

RENDER_KWARGS = {
    "region": "us-east-1",
    "role": "arn:aws:iam::111122223333:role/r",
    "default_bucket": "test-bucket",
}


def _render(moto_server: str, environment: str) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto_server)
        rendered = render_definition(
            "pipelines.churn.pipeline", {**RENDER_KWARGS, "environment": environment}
        )
    return json.loads(rendered)


@pytest.fixture(name="definition", scope="session")
def fixture_definition(moto_server: str) -> dict:
    return _render(moto_server, "dev")


@pytest.fixture(name="prod_definition", scope="session")
def fixture_prod_definition(moto_server: str) -> dict:
    return _render(moto_server, "prod")
