"""`python -m sandbox up | status | env | down`: one sandbox per state folder, liveness by
its own route, a hung one stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

from sandbox import daemon
from tests.sandbox.conftest import sandbox_cli as _sandbox


def test_up_status_down_and_one_sandbox_per_state_folder(home):
    assert _sandbox(home, "status").returncode == 1
    up = _sandbox(home, "up")
    assert up.returncode == 0, up.stderr
    running = daemon.find_running(home)
    assert running is not None and running.endpoint_url.startswith("http://127.0.0.1:")
    assert str(running.pid) in up.stdout

    again = _sandbox(home, "up")  # reports the one that runs, starts no second one
    assert "already running" in again.stdout
    second = _sandbox(home, "serve")  # a second server on the same state refuses at once
    assert second.returncode == 1
    assert f"a sandbox already runs on {home.resolve()} (pid {running.pid})" in second.stderr
    assert daemon.find_running(home) == running  # its record is left alone

    env = _sandbox(home, "env").stdout
    assert f"export AWS_ENDPOINT_URL={running.endpoint_url}" in env
    assert "export ARTIFACT_BUCKET=${ARTIFACT_BUCKET:-" in env

    down = _sandbox(home, "down")
    assert down.returncode == 0 and f"pid {running.pid}" in down.stdout
    assert daemon.find_running(home) is None
    assert not (home / "server.json").exists()
    assert "no sandbox running" in _sandbox(home, "down").stdout


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
    daemon.hold_lock(home).close()  # the lock went with it: a new sandbox may start


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
