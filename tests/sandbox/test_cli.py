"""`python -m sandbox up | status | down`, and `run-pipeline --local` with nothing running."""

from __future__ import annotations

import os
import subprocess
import sys

from sandbox import daemon


def _sandbox(home, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "--home", str(home), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_up_status_down(tmp_path):
    home = tmp_path / "state"
    assert _sandbox(home, "status").returncode == 1
    try:
        up = _sandbox(home, "up")
        assert up.returncode == 0, up.stderr
        running = daemon.find_running(home)
        assert running is not None and running.endpoint_url.startswith("http://127.0.0.1:")
        assert str(running.pid) in up.stdout

        again = _sandbox(home, "up")  # reports the one that runs, starts no second one
        assert "already running" in again.stdout
        assert daemon.find_running(home).pid == running.pid

        s3 = running.client("s3")
        s3.create_bucket(Bucket="kept")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept"]
        env = _sandbox(home, "env").stdout
        assert f"export AWS_ENDPOINT_URL={running.endpoint_url}" in env
    finally:
        down = _sandbox(home, "down")
    assert down.returncode == 0 and f"pid {running.pid}" in down.stdout
    assert daemon.find_running(home) is None
    assert not (home / "server.json").exists()
    assert "no sandbox running" in _sandbox(home, "down").stdout


def test_down_ignores_a_record_of_another_process(tmp_path):
    home = tmp_path / "state"
    home.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (home / "server.json").write_text(
            f'{{"pid": {sleeper.pid}, "endpoint_url": "http://127.0.0.1:9", "home": "{home}"}}'
        )
        assert "no sandbox running" in _sandbox(home, "down").stdout
        assert sleeper.poll() is None  # not ours: left alone
    finally:
        sleeper.kill()


def test_run_pipeline_local_starts_its_own_sandbox(tmp_path):
    """The issue's acceptance command, as a fresh clone runs it: nothing is up beforehand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SANDBOX_HOME"] = str(tmp_path / "state")
    done = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "run-pipeline"),
            "--local",
            "-n",
            "pipelines.churn.pipeline",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "Registered model package arn:aws:sagemaker:us-east-1:123456789012:model-package/"
        in done.stdout
    )
    assert "PendingManualApproval" in done.stdout
    assert daemon.find_running(tmp_path / "state") is None  # it stopped with the command
