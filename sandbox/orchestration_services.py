"""The orchestration services run for real in every sandbox: Step Functions executes its
state machines, Lambda runs its handlers, EventBridge rules reach their targets.

moto keeps these switches in one process-wide config (what `POST /moto-api/config` sets):
Step Functions' interpreter (`execute_state_machine`) and Lambda without Docker
(`use_docker: false`, the backend whose invoke the `lambda_invoke` patch makes real). They
are set before the sandbox serves, so every state machine and function is created under
them. The interpreter calls other services at `localhost:$MOTO_PORT`, hence MOTO_PORT.
moto's backends belong to the process, so the last sandbox started in it is the one the
patches call back into (tests start more than one).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moto.core.config import default_user_config

from sandbox.clients import sandbox_client
from sandbox.lambda_runtime import LambdaRuntime

logger = logging.getLogger(__name__)

CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
PORT_VARIABLE = "MOTO_PORT"


@dataclass
class Running:
    """The sandbox the patches serve: where it answers and who runs its functions."""

    endpoint_url: str
    runtime: LambdaRuntime
    _threads: set[threading.Thread] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str):
        return sandbox_client(service, self.endpoint_url)

    def background(self, work: Callable[[], object], name: str) -> None:
        """Run `work` in a thread, as AWS delivers after the call that caused it has
        returned; a failure is logged (nobody waits for it). disable() waits for it."""

        def run() -> None:
            try:
                work()
            except Exception:  # noqa: BLE001 — asynchronous: the log is where it shows
                logger.exception("sandbox: %s failed", name)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True, name=name)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def join(self, timeout: float = 30) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


_running: list[Running] = []  # a stack: the last one started is the current one


def configure_moto() -> None:
    """moto's process-wide switches as the sandbox needs them (idempotent)."""
    for service, settings in CONFIG.items():
        default_user_config[service] = {**default_user_config.get(service, {}), **settings}


def enable(home: Path, endpoint_url: str) -> Running:
    """Switch moto's interpreters on and point them at `endpoint_url`; undo with disable()."""
    configure_moto()
    running = Running(endpoint_url, LambdaRuntime(home, endpoint_url))
    _running.append(running)
    os.environ[PORT_VARIABLE] = endpoint_url.rsplit(":", 1)[1]
    return running


def disable(running: Running) -> None:
    """Stop `running`'s function processes; MOTO_PORT goes back to a sandbox still up."""
    running.join()
    running.runtime.stop()
    if running in _running:
        _running.remove(running)
    if _running:
        os.environ[PORT_VARIABLE] = _running[-1].endpoint_url.rsplit(":", 1)[1]
    else:
        os.environ.pop(PORT_VARIABLE, None)


def current() -> Running | None:
    """The sandbox serving this process's moto, or None when none runs."""
    return _running[-1] if _running else None


INTERRUPTED_ERROR = "Sandbox.Interrupted"


def fail_interrupted(cause: str) -> int:
    """State machine executions a restored snapshot holds as RUNNING: their interpreter
    threads died with the sandbox that ran them, so they end FAILED with `cause` (as
    interrupted pipeline executions do) instead of running forever. Returns how many."""
    import datetime

    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    failed = 0
    now = datetime.datetime.now(tz=datetime.UTC)
    for regions in stepfunctions_parser_backends.values():
        for backend in regions.values():
            for machine in backend.state_machines:
                for execution in machine.executions:
                    if execution.exec_status == ExecutionStatus.RUNNING:
                        execution.exec_status = ExecutionStatus.FAILED
                        execution.error, execution.cause = INTERRUPTED_ERROR, cause
                        execution.stop_date = now
                        failed += 1
    return failed
