"""`run-pipeline --local` in this process, finding the session sandbox via SANDBOX_HOME."""

from __future__ import annotations

import json

import pytest

from pipelines import run_pipeline
from sandbox import Sandbox


@pytest.fixture(name="run_local")
def fixture_run_local(sandbox: Sandbox, monkeypatch, capsys):
    """`run-pipeline --local` in this process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("SANDBOX_HOME", str(sandbox.home))

    def run(pipeline: str, *extra: str, group: str | None = None) -> tuple[int, str, str]:
        kwargs = {
            "pipeline_name": pipeline,
            "model_package_group_name": group or f"{pipeline}-group",
            "base_job_prefix": pipeline,
        }
        code = run_pipeline.main(
            ["--local", "-n", "pipelines.churn.pipeline", "--kwargs", json.dumps(kwargs), *extra]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run
