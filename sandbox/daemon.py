"""A sandbox that outlives one command: `python -m sandbox up | down | status`.

`up` starts `python -m sandbox serve` in the background, which records its process id and
endpoint in `<home>/server.json`; `down` stops the process recorded there. One sandbox per
state folder: a sandbox holds `<home>/sandbox.lock` while it runs (the kernel drops the
lock when the process ends, crash included), so a second one on the same state refuses to
start instead of overwriting it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sandbox.clients import sandbox_client
from sandbox.constants import HEALTH_PATH, client_environment, sandbox_home

STATE_FILE = "server.json"
LOCK_FILE = "sandbox.lock"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class SandboxBusy(RuntimeError):
    """Another process runs a sandbox on the same state folder."""


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox served by another process, as recorded in its state file."""

    pid: int
    endpoint_url: str
    home: Path

    @property
    def environment(self) -> dict[str, str]:
        return client_environment(self.endpoint_url)

    def client(self, service: str):
        return sandbox_client(service, self.endpoint_url)


def hold_lock(home: Path) -> IO:
    """Take `<home>/sandbox.lock` for this process; returns the open file (closing it, or
    the process ending, releases the lock). Raises SandboxBusy naming the holder."""
    home.mkdir(parents=True, exist_ok=True)
    lock = (home / LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise SandboxBusy(
            f"a sandbox already runs on {home} (pid {holder}); use it, or stop it with "
            "`python -m sandbox down`"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """The process has exited and waits to be reaped (a zombie). `up` leaves the server to
    init, and some inits (containers, CI) reap only every second or two."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): the signal check is all there is
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _is_our_server(pid: int) -> bool:
    """The recorded pid is still a `sandbox serve` process (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)
    return b"sandbox" in cmdline and b"serve" in cmdline


def health(endpoint_url: str) -> dict | None:
    """The sandbox's own health answer (pid, home), or None when nothing answers there.

    A route of the sandbox, not moto's debug dump: `/moto-api/data.json` answers 500 once
    S3 holds a multipart upload or a Lambda function exists."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}{HEALTH_PATH}", timeout=2) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def _recorded(home: Path) -> RunningSandbox | None:
    try:
        state = json.loads((home / STATE_FILE).read_text())
        return RunningSandbox(int(state["pid"]), state["endpoint_url"], Path(state["home"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_running(home: Path | None = None) -> RunningSandbox | None:
    """The sandbox recorded in `<home>/server.json`, if it is up and says it is that one."""
    running = _recorded((home or sandbox_home()).resolve())
    if running is None or not _alive(running.pid):
        return None
    answer = health(running.endpoint_url)
    if answer is None or answer.get("pid") != running.pid:
        return None
    return running


def serve(home: Path, port: int) -> int:
    """Run a sandbox in the foreground until SIGTERM/SIGINT; record it while it runs."""
    from sandbox.server import Sandbox  # here, not at the top: see sandbox/__init__.py

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: every thread's stack, to the log
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        sandbox = Sandbox(home=home, port=port).start()
    except SandboxBusy as err:
        print(f"sandbox: {err}", file=sys.stderr)
        return 1
    try:
        state = {"pid": os.getpid(), "endpoint_url": sandbox.endpoint_url, "home": str(home)}
        (home / STATE_FILE).write_text(json.dumps(state))
        # In slices: a signal that lands on another thread (the kernel may pick any) only
        # runs its Python handler once the main thread wakes up.
        while not stop.wait(0.5):
            pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            (home / STATE_FILE).unlink()
        sandbox.stop()
    return 0


def start_background(home: Path, port: int = 0) -> RunningSandbox:
    """Start `python -m sandbox serve` detached; returns once it answers.

    Raises RuntimeError (with the server's own message, or naming its log) if it does not
    come up.
    """
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "logs" / "server.log"
    log_path.parent.mkdir(exist_ok=True)
    start = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--home", str(home), "serve", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        running = find_running(home)
        if running and running.pid == process.pid:
            return running
        if process.poll() is not None:
            with log_path.open("rb") as log:
                log.seek(start)
                lines = log.read().decode(errors="replace").strip().splitlines()
            said = next((line for line in reversed(lines) if line.startswith("sandbox: ")), None)
            raise RuntimeError(said.removeprefix("sandbox: ") if said else f"see {log_path}")
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"sandbox did not answer within {START_TIMEOUT_SECONDS} s; see {log_path}")


def stop_background(home: Path) -> RunningSandbox | None:
    """Stop the sandbox `up` started in `home`, answering or not (a hung one too); returns
    it, or None if none was running. SIGKILL after STOP_TIMEOUT_SECONDS."""
    running = _recorded(home)
    if running is None or not _alive(running.pid) or not _is_our_server(running.pid):
        with contextlib.suppress(FileNotFoundError):
            (home / STATE_FILE).unlink()  # a stale record of a process that is gone
        return None
    os.kill(running.pid, signal.SIGTERM)
    os.kill(running.pid, signal.SIGCONT)  # a stopped one (Ctrl-Z, SIGSTOP) then sees it
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(running.pid):
        os.kill(running.pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            (home / STATE_FILE).unlink()
    return running
