"""Stopping an execution's running jobs: StopPipelineExecution, and the sandbox shutting down.

SageMaker stops a job by sending its container SIGTERM and, if it is still there after a
grace period, SIGKILL. A job here is a process group of its own (its script and whatever
the script started), so the same two signals reach all of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Protocol

GRACE_SECONDS = 5.0


class Stoppable(Protocol):
    def terminate(self, grace: float) -> None: ...


def terminate_group(pgid: int, grace: float, finished: threading.Event) -> None:
    """SIGTERM to the process group now, SIGKILL after `grace` unless it has `finished`."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)

    def kill_if_still_there() -> None:
        if not finished.wait(grace):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)

    threading.Thread(target=kill_if_still_there, daemon=True, name=f"kill-{pgid}").start()


class Cancellation:
    """One execution's stop request, and the job processes it ends when it comes."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._running: set[Stoppable] = set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (a retry's interval); True when a stop came meanwhile."""
        return self._event.wait(seconds)

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        with self._lock:
            self._event.set()
            running = list(self._running)
        for process in running:
            process.terminate(grace)

    @contextlib.contextmanager
    def watching(self, process: Stoppable) -> Iterator[None]:
        """While the block runs, a stop terminates `process` (at once if one came already)."""
        with self._lock:
            self._running.add(process)
            stopped = self._event.is_set()
        if stopped:
            process.terminate(GRACE_SECONDS)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(process)
