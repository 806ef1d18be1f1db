"""moto with Step Functions executing state machines for real (its interpreter)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests


@pytest.fixture(name="executing_moto")
def fixture_executing_moto(aws_endpoint: str, monkeypatch):
    """The session's moto server, executing state machines for this test. Its interpreter
    calls other services at localhost:$MOTO_PORT; Lambda runs without Docker."""
    monkeypatch.setenv("MOTO_PORT", str(urlparse(aws_endpoint).port))
    config = f"{aws_endpoint}/moto-api/config"
    on = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    requests.post(config, json=on, timeout=10)
    # Left on afterwards: the switch is process-wide, and a sandbox in this process (the
    # session fixture) executes state machines too.
    return aws_endpoint
