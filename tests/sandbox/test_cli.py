"""`python -m sandbox up | status | env | down`: one sandbox per state folder, liveness by
its own route, state kept across a crash."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from sandbox import daemon
from tests.sandbox.conftest import sandbox_cli as _sandbox


def test_up_status_down(home):
    assert _sandbox(home, "status").returncode == 1
    up = _sandbox(home, "up")
    assert up.returncode == 0, up.stderr
    running = daemon.find_running(home)
    assert running is not None and running.endpoint_url.startswith("http://127.0.0.1:")
    assert str(running.pid) in up.stdout

    again = _sandbox(home, "up")  # reports the one that runs, starts no second one
    assert "already running" in again.stdout
    assert daemon.find_running(home).pid == running.pid

    env = _sandbox(home, "env").stdout
    assert f"export AWS_ENDPOINT_URL={running.endpoint_url}" in env
    assert "export ARTIFACT_BUCKET=${ARTIFACT_BUCKET:-" in env

    down = _sandbox(home, "down")
    assert down.returncode == 0 and f"pid {running.pid}" in down.stdout
    assert daemon.find_running(home) is None
    assert not (home / "server.json").exists()
    assert "no sandbox running" in _sandbox(home, "down").stdout


def test_one_sandbox_per_state_folder(home):
    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    second = _sandbox(home, "serve")  # a second server on the same state refuses at once
    assert second.returncode == 1
    assert f"a sandbox already runs on {home.resolve()} (pid {running.pid})" in second.stderr
    assert daemon.find_running(home) == running  # its record is left alone


def test_down_stops_a_sandbox_that_no_longer_answers(home):
    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    os.kill(running.pid, signal.SIGSTOP)  # hung: alive, holds the lock, answers nothing
    try:
        assert daemon.find_running(home) is None
        busy = _sandbox(home, "up")
        assert busy.returncode == 1 and "already runs on" in busy.stderr
        assert f"pid {running.pid}" in _sandbox(home, "down", timeout=60).stdout
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(running.pid, signal.SIGKILL)
    assert _sandbox(home, "up").returncode == 0  # the lock went with it


def test_down_ignores_a_record_of_another_process(home):
    home.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (home / "server.json").write_text(
            json.dumps(
                {"pid": sleeper.pid, "endpoint_url": "http://127.0.0.1:9", "home": str(home)}
            )
        )
        assert "no sandbox running" in _sandbox(home, "down").stdout
        assert sleeper.poll() is None  # not ours: left alone
    finally:
        sleeper.kill()


def test_state_survives_a_crash(home):
    """Buckets, objects, the registry and KMS keys come back after a SIGKILL."""
    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    s3, sagemaker = running.client("s3"), running.client("sagemaker")
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="a/b.bin", Body=bytes(range(256)) * 1000)
    sagemaker.create_model_package_group(ModelPackageGroupName="kept-group")
    kms = running.client("kms")  # moto's asymmetric keys are objects pickle cannot take as is
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signed = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    time.sleep(1.5)  # a snapshot follows a change within half a second
    os.kill(running.pid, signal.SIGKILL)
    while daemon._alive(running.pid):
        time.sleep(0.05)

    assert _sandbox(home, "up").returncode == 0
    restarted = daemon.find_running(home)
    assert restarted.pid != running.pid
    s3, sagemaker = restarted.client("s3"), restarted.client("sagemaker")
    body = s3.get_object(Bucket="kept", Key="a/b.bin")["Body"].read()
    assert body == bytes(range(256)) * 1000
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["kept-group"]
    verified = restarted.client("kms").verify(
        KeyId=signing,
        Message=b"m",
        Signature=signed["Signature"],
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    assert verified["SignatureValid"]
