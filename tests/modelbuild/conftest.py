"""Definitions rendered once per session, offline, as get-pipeline-definition renders them."""

from __future__ import annotations

import json

import pytest

from pipelines.get_pipeline_definition import render_definition

RENDER_KWARGS = {
    "region": "us-east-1",
    "role": "arn:aws:iam::111122223333:role/r",
    "default_bucket": "test-bucket",
}


def _render(environment: str) -> dict:
    return json.loads(
        render_definition("pipelines.churn.pipeline", {**RENDER_KWARGS, "environment": environment})
    )


@pytest.fixture(name="definition", scope="session")
def fixture_definition() -> dict:
    return _render("dev")


@pytest.fixture(name="prod_definition", scope="session")
def fixture_prod_definition() -> dict:
    return _render("prod")
