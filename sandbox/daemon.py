"""A sandbox that outlives one command: `python -m sandbox up | down | status`.

`up` starts `python -m sandbox serve` in the background and records its process id and
endpoint in `<home>/server.json`; `down` stops only the process recorded there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.clients import sandbox_client
from sandbox.constants import ENDPOINT_VARIABLE, client_environment, sandbox_home

if TYPE_CHECKING:
    from sandbox.server import Sandbox

STATE_FILE = "server.json"
START_TIMEOUT_SECONDS = 60


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


def _responds(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2):
            return True
    except OSError:
        return False


def find_running(home: Path | None = None) -> RunningSandbox | None:
    """The sandbox recorded in `<home>/server.json`, if it is up and answering."""
    home = home or sandbox_home()
    try:
        state = json.loads((home / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    running = RunningSandbox(int(state["pid"]), state["endpoint_url"], Path(state["home"]))
    if _alive(running.pid) and _is_our_server(running.pid) and _responds(running.endpoint_url):
        return running
    return None


def serve(home: Path, port: int) -> int:
    """Run a sandbox in the foreground until SIGTERM/SIGINT; record it while it runs."""
    from sandbox.server import Sandbox  # here, not at the top: see sandbox/__init__.py

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with Sandbox(home=home, port=port) as sandbox:
        state = {"pid": os.getpid(), "endpoint_url": sandbox.endpoint_url, "home": str(home)}
        (home / STATE_FILE).write_text(json.dumps(state))
        try:
            stop.wait()
        finally:
            with contextlib.suppress(FileNotFoundError):
                (home / STATE_FILE).unlink()
    return 0


def start_background(home: Path, port: int = 0) -> RunningSandbox:
    """Start `python -m sandbox serve` detached; returns once it answers.

    Raises RuntimeError (naming the log) if it does not come up.
    """
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "logs" / "server.log"
    log_path.parent.mkdir(exist_ok=True)
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
            break
        time.sleep(0.1)
    raise RuntimeError(f"sandbox did not start; see {log_path}")


def stop_background(home: Path) -> RunningSandbox | None:
    """Stop the sandbox recorded in `home`; returns it, or None if none was running."""
    running = find_running(home)
    if running is None:
        with contextlib.suppress(FileNotFoundError):
            (home / STATE_FILE).unlink()  # a stale record of a process that is gone
        return None
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running


def _from_environment(home: Path) -> RunningSandbox | None:
    """The sandbox that started this process (e.g. the demo's), if it says so."""
    endpoint_url = os.environ.get(ENDPOINT_VARIABLE)
    if endpoint_url and _responds(endpoint_url):
        return RunningSandbox(os.getppid(), endpoint_url, home)
    return None


@contextlib.contextmanager
def connect(home: Path | None = None) -> Iterator[Sandbox | RunningSandbox]:
    """The running sandbox if there is one (in this process or recorded in `home`), else a
    new one for the duration of the block."""
    home = (home or sandbox_home()).resolve()
    # The server module (moto) takes seconds to import: only when this process runs one
    # already (then it is imported) or is about to start one.
    server = sys.modules.get("sandbox.server")
    here = server.Sandbox.running_here(home) if server else None
    running = here or _from_environment(home) or find_running(home)
    if running is not None:
        yield running
        return
    from sandbox.server import Sandbox

    with Sandbox(home=home) as sandbox:
        yield sandbox
