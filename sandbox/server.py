"""The embedded AWS: moto's server on 127.0.0.1, plus the pipeline service moto lacks.

moto records a pipeline execution as Succeeded at once and runs nothing. The sandbox puts a
small WSGI layer in front of moto (`PipelinesService`) that, like SageMaker Pipelines,
executes the definition when an execution starts and answers ListPipelineExecutionSteps.
Everything else is plain moto: S3, SageMaker, CloudFormation, IAM, STS, EventBridge.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from sandbox import executions, moto_patches, orchestration_services
from sandbox.clients import sandbox_client, share_botocore_loader
from sandbox.constants import HOST, WARM_START_VARIABLE, client_environment, sandbox_home
from sandbox.daemon import hold_lock
from sandbox.endpoint_runtime import preload_serving_libraries
from sandbox.executions import INTERRUPTED
from sandbox.persistence import Snapshots
from sandbox.pipelines_service import PipelinesService
from sandbox.runner import executor

logger = logging.getLogger(__name__)
LISTEN_BACKLOG = 1024


class _QuietHandler(MotoRequestHandler):
    """No access log line per request: a pipeline run makes hundreds."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class Sandbox:
    """A running sandbox: use as a context manager, or start()/stop().

    with Sandbox() as sandbox:
        s3 = sandbox.client("s3")
    """

    def __init__(self, home: Path | None = None, port: int = 0):
        self.home = (Path(home) if home else sandbox_home()).resolve()
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.service: PipelinesService | None = None
        self._lock: IO | None = None
        self.snapshots: Snapshots | None = None
        self._orchestration: orchestration_services.Running | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def environment(self) -> dict[str, str]:
        """What a child process needs to talk to this sandbox."""
        return client_environment(self.endpoint_url)

    def start(self) -> Sandbox:
        """Serve on loopback; raises daemon.SandboxBusy if another sandbox holds `home`."""
        self._lock = hold_lock(self.home)
        share_botocore_loader()  # before moto's imports make their sessions
        moto_patches.apply_all()
        self.snapshots = Snapshots(self.home)
        if self.snapshots.restore():
            interrupted = executions.fail_interrupted()
            interrupted += orchestration_services.fail_interrupted(INTERRUPTED)
            logger.info("sandbox state restored from %s", self.snapshots.folder)
            if interrupted:
                logger.warning("%d execution(s) ended Failed: %s", interrupted, INTERRUPTED)
        self.snapshots.start()
        self._stop_listening = executions.on_change(self.snapshots.changed)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            HOST, self._port, moto_app, threaded=True, request_handler=_QuietHandler
        )
        # werkzeug listens with a backlog of 128: 200 clients at once (a smoke test under
        # load) overflowed it, and each dropped connection waited 1 s for TCP to retry.
        self._server.socket.listen(LISTEN_BACKLOG)
        self.service = PipelinesService(
            moto_app, self.endpoint_url, self.home, os.getpid(), self.snapshots.changed
        )
        self._server.app = self.service
        # Step Functions and Lambda execute for real, from the first request on.
        self._orchestration = orchestration_services.enable(self.home, self.endpoint_url)
        if os.environ.get(WARM_START_VARIABLE, "eager") != "lazy":
            executor.warm_up(self.environment)
            preload_serving_libraries()
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="sandbox-server"
        )
        self._thread.start()
        logger.info("sandbox listening on %s (state in %s)", self.endpoint_url, self.home)
        return self

    def stop(self) -> None:
        if self.service:
            # Nothing runs an execution once the sandbox is gone: its jobs end with it.
            self.service.stop_executions(INTERRUPTED)
            self.service.wait_for_executions()
        if self._orchestration:
            orchestration_services.disable(self._orchestration)
            self._orchestration = None
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self.service:
            self.service.runtime.close()
        if self._thread:
            self._thread.join()
        self._server = self._thread = None
        if self.snapshots:
            self._stop_listening()
            self.snapshots.stop()  # the last changes, written before the lock is let go
            self.snapshots = None
        if self._lock:
            self._lock.close()
            self._lock = None

    def client(self, service: str):
        return sandbox_client(service, self.endpoint_url)

    def export(self) -> dict[str, str | None]:
        """Point this process's boto3 at the sandbox; returns the previous values."""
        previous = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        return previous

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
