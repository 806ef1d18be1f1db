"""`run-pipeline --local` in this process, finding the session sandbox via SANDBOX_HOME."""

from __future__ import annotations

import json

import pytest

from pipelines import run_pipeline
from sandbox import Sandbox

# How often run-pipeline asks about the execution: a fifth of the local default, so a test
# waits less for a run that has already ended.
POLL_SECONDS = "0.1"


@pytest.fixture(name="local_run", scope="session")
def fixture_local_run(sandbox: Sandbox):
    """`run-pipeline --local` in this process, for fixtures of any scope; returns the exit code."""

    def run(pipeline: str, *extra: str, group: str | None = None) -> int:
        kwargs = {
            "pipeline_name": pipeline,
            "model_package_group_name": group or f"{pipeline}-group",
            "base_job_prefix": pipeline,
        }
        argv = ["--local", "-n", "pipelines.churn.pipeline", "--kwargs", json.dumps(kwargs)]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SANDBOX_HOME", str(sandbox.home))
            return run_pipeline.main([*argv, "--poll-seconds", POLL_SECONDS, *extra])

    return run


@pytest.fixture(name="run_local")
def fixture_run_local(local_run, capsys):
    """`run-pipeline --local` in this process; returns (exit code, stdout, stderr)."""

    def run(pipeline: str, *extra: str, group: str | None = None) -> tuple[int, str, str]:
        code = local_run(pipeline, *extra, group=group)
        out, err = capsys.readouterr()
        return code, out, err

    return run
