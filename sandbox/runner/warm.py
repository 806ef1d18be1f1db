"""Run Python job scripts as forks of a warm interpreter (`warm_server.py`), which has the
image's libraries imported already: the job skips seconds of imports.

A warm interpreter serves this process (every sandbox and execution in it); it starts with
the first job that needs it and ends with this process. A job runs warm only when it is
`python <script>.py ...`, in an interpreter whose libraries were imported under the job's
own values of the variables read at import time (thread counts, allocator, Python
settings): jobs that differ there get a warm interpreter of their own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, NamedTuple

from sandbox.runner.cancellation import terminate_group

SERVER = Path(__file__).with_name("warm_server.py")
# Read when a library is imported or loaded, so a job that sets one differently from the
# warm interpreter must start fresh to see its own value.
IMPORT_TIME_PREFIXES = (
    "PYTHON",
    "LD_",
    "MALLOC",
    "OMP_",
    "GOMP_",
    "KMP_",
    "OPENBLAS_",
    "MKL_",
    "BLIS_",
    "VECLIB_",
    "NUMEXPR_",
    "MPL",
    "MATPLOTLIB",
)


class Ending(NamedTuple):
    """How a job's process ended (warm or fresh): its exit code (None when a signal killed
    it before it could answer), its peak RSS, and, when it was asked to run isolated
    (isolation.py), whether it did: `isolation_off` says why not ("" when it did or was not
    asked), `isolation_ms` what setting it up cost."""

    exit_code: int | None
    peak_rss_bytes: int
    isolation_off: str = ""
    isolation_ms: float | None = None

    @classmethod
    def from_report(cls, exit_code: int | None, report: dict) -> Ending:
        return cls(
            exit_code,
            int(report.get("peak_rss_bytes", 0)),
            report.get("isolation_off") or "",
            report.get("isolation_ms"),
        )


class WarmJob:
    """A job running in the warm interpreter: its stderr, `finish` for its outcome and
    `terminate` to stop it."""

    def __init__(self, connection: socket.socket, stderr: IO[str]):
        self.connection = connection
        self.stderr = stderr
        self._finished = threading.Event()
        received = b""
        while b"\n" not in received and (chunk := connection.recv(64)):
            received += chunk
        pid, _, self._rest = received.partition(b"\n")
        self.pid = int(pid) if pid else None  # None: it died before it could say

    def terminate(self, grace: float) -> None:
        if self.pid is not None and not self._finished.is_set():
            terminate_group(self.pid, grace, self._finished)

    def finish(self) -> Ending:
        """Wait for the end; the exit code is None when a signal killed the job before it
        could answer."""
        chunks = [self._rest]
        with self.connection:
            while chunk := self.connection.recv(4096):
                chunks.append(chunk)
        self._finished.set()
        self.stderr.close()
        answer = b"".join(chunks)
        if not answer:
            return Ending(None, 0)
        report = json.loads(answer)
        return Ending.from_report(report["exit_code"], report)


class WarmInterpreter:
    """The server process and the Unix socket it accepts jobs on."""

    def __init__(self, environment: dict[str, str]):
        self.environment = dict(environment)
        self._folder = tempfile.TemporaryDirectory(prefix="sandbox-warm-")
        self.path = os.path.join(self._folder.name, "socket")
        # Listening before the server starts: a job that connects while it is still
        # importing waits in the backlog, with no readiness polling.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(self.path)
            listener.listen(64)
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER), str(listener.fileno())],
                env=self.environment,
                stdin=subprocess.PIPE,  # closes when this process ends: the server follows
                stdout=subprocess.DEVNULL,
                pass_fds=(listener.fileno(),),
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, stdout: IO, root: Path | None = None
    ) -> WarmJob:
        """Start `python argv...` as a fork, which sees `root`/opt/ml as /opt/ml when `root`
        is given (isolation.py); raises OSError when the server is not there."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stderr_read, stderr_write = os.pipe()
        try:
            connection.connect(self.path)
            socket.send_fds(connection, [b"J"], [stdout.fileno(), stderr_write])
            request = {"argv": argv, "env": env, "cwd": str(cwd), "root": root and str(root)}
            connection.sendall(json.dumps(request).encode())
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            connection.close()
            os.close(stderr_read)
            raise
        finally:
            os.close(stderr_write)
        return WarmJob(connection, os.fdopen(stderr_read))

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()
        self._folder.cleanup()


_interpreters: dict[tuple, WarmInterpreter] = {}
_lock = threading.Lock()


def script_arguments(command: list[str], cwd: Path) -> list[str] | None:
    """`[script, args...]` when `command` runs a Python script file on this interpreter."""
    if len(command) >= 2 and command[0] == sys.executable and command[1].endswith(".py"):
        return command[1:] if (cwd / command[1]).is_file() else None
    return None


def shared(environment: dict[str, str]) -> WarmInterpreter:
    """The warm interpreter for jobs with `environment`'s import-time settings (started now
    if none runs)."""
    key = tuple(sorted(i for i in environment.items() if i[0].startswith(IMPORT_TIME_PREFIXES)))
    with _lock:
        interpreter = _interpreters.get(key)
        if interpreter is None or not interpreter.alive():
            interpreter = _interpreters[key] = WarmInterpreter(environment)
        return interpreter


def stop_all() -> None:
    """Stop every warm interpreter this process started (their servers exit, their socket
    folders go)."""
    with _lock:
        interpreters = list(_interpreters.values())
        _interpreters.clear()
    for interpreter in interpreters:
        interpreter.stop()
