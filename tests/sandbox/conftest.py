"""`run-pipeline` in this process against the session sandbox, as `python -m sandbox exec`
runs it: boto3's standard variables point at the sandbox, and sample data is seeded first,
as an explicit step, never by run-pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import run_pipeline
from sandbox import Sandbox
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION

# How often run-pipeline asks about the execution: a fifth of what the sandbox exports, so
# a test waits less for a run that has already ended.
POLL_SECONDS = "0.1"
BIN = Path(sys.executable).parent


def seed(sandbox: Sandbox, csv: Path, prefix: str) -> str:
    """Put `csv` where the pipeline reads by default with base_job_prefix `prefix`."""
    s3 = sandbox.client("s3")
    if DEFAULT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=DEFAULT_BUCKET)
    key = f"{prefix}/data/churn.csv"
    s3.upload_file(str(csv), DEFAULT_BUCKET, key)
    return f"s3://{DEFAULT_BUCKET}/{key}"


def _clean_environment() -> dict[str, str]:
    """No AWS variables: everything the command gets comes from the sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["SANDBOX_WARM_START"] = "lazy"  # most of these run no job: spare the warm imports
    return env


def sandbox_cli(home, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "--home", str(home), *argv],
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@pytest.fixture(name="home")
def fixture_home(tmp_path):
    """A state folder; whatever `up` started there is stopped at the end."""
    home = tmp_path / "state"
    yield home
    sandbox_cli(home, "down")


@pytest.fixture(name="sample_csv", scope="session")
def fixture_sample_csv(tmp_path_factory) -> Path:
    from pipelines.churn.generate_data import write_churn_csv

    return write_churn_csv(tmp_path_factory.mktemp("sample") / "churn.csv", rows=10_000, seed=42)


@pytest.fixture(name="local_run", scope="session")
def fixture_local_run(sandbox: Sandbox, sample_csv: Path):
    """`run-pipeline` in this process, for fixtures of any scope; returns the exit code."""

    def run(pipeline: str, *extra: str, group: str | None = None) -> int:
        seed(sandbox, sample_csv, pipeline)
        kwargs = {
            "region": REGION,
            "role": PIPELINE_ROLE_ARN,
            "default_bucket": DEFAULT_BUCKET,
            "pipeline_name": pipeline,
            "model_package_group_name": group or f"{pipeline}-group",
            "base_job_prefix": pipeline,
        }
        argv = ["-n", "pipelines.churn.pipeline", "--role-arn", PIPELINE_ROLE_ARN]
        argv += ["--kwargs", json.dumps(kwargs), "--poll-seconds", POLL_SECONDS]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in sandbox.environment.items():
                patch.setenv(name, value)
            return run_pipeline.main([*argv, *extra])

    return run


@pytest.fixture(name="run_local")
def fixture_run_local(local_run, capsys):
    """`run-pipeline` in this process; returns (exit code, stdout, stderr)."""

    def run(pipeline: str, *extra: str, group: str | None = None) -> tuple[int, str, str]:
        code = local_run(pipeline, *extra, group=group)
        out, err = capsys.readouterr()
        return code, out, err

    return run
