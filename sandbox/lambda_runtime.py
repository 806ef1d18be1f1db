"""Lambda functions run for real, without Docker: each invocation is a local process.

A function whose code is a zip (ZipFile, or S3Bucket/S3Key) with a python3.x runtime is
unpacked once per code version into `<home>/lambda/<function>/<code sha256>/` (members that
would land outside it are refused) and invoked as AWS's Python runtime does: the handler
("module.function") imported from that folder, called with the event and a context object
(lambda_bootstrap.py), in a process of its own with the function's environment variables
and the sandbox's AWS variables. The function's Timeout is enforced (the process group is
killed) and every invocation's log (START, stdout/stderr, END, REPORT) goes to CloudWatch
Logs group /aws/lambda/<name>, as on AWS.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sandbox.clients import sandbox_client
from sandbox.constants import client_environment

logger = logging.getLogger(__name__)

BOOTSTRAP = (Path(__file__).parent / "lambda_bootstrap.py").read_text(encoding="utf-8")
LOG_TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns: the log's last 4 KB
# Variables of this process a function's process keeps (a clean environment otherwise).
KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "OMP_NUM_THREADS")
# AWS's init phase (imports, module code) has a limit of its own, 10 s, before the
# function's Timeout starts counting at the handler's call (which lambda_bootstrap enforces).
INIT_SECONDS = 10


class UnsafeZipError(ValueError):
    """A zip member would be written outside the function's code folder."""


@dataclass
class Invocation:
    """What the Lambda service answers: the payload, FunctionError (None when the handler
    returned), the log (the part Invoke's LogType=Tail would return), the request id."""

    payload: bytes
    function_error: str | None
    log: str
    request_id: str

    @property
    def log_tail(self) -> str:
        tail = self.log.encode("utf-8")[-LOG_TAIL_BYTES:]
        return base64.b64encode(tail).decode("ascii")


def runs_here(function) -> bool:
    """Whether the sandbox runs `function` (a moto LambdaFunction) itself."""
    return (
        getattr(function, "package_type", "Zip") == "Zip"
        and str(getattr(function, "run_time", "") or "").startswith("python3")
        and bool(getattr(function, "code_bytes", b""))
    )


class LambdaRuntime:
    """Runs invocations for one sandbox; `stop()` ends every process still running."""

    def __init__(self, home: Path, endpoint_url: str):
        self.folder = home / "lambda"
        self.endpoint_url = endpoint_url
        self._processes: set[subprocess.Popen] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopped = False  # once stopped, no function process starts

    # --- invoking --------------------------------------------------------------------------

    def invoke(
        self,
        function,
        event: bytes,
        invoked_arn: str | None = None,
        request_id: str | None = None,
    ) -> Invocation:
        """Run `function` (a moto LambdaFunction) on `event` (JSON) to its end or its
        timeout; the service's answer (a zip that cannot be unpacked safely is a function
        error naming the member)."""
        request_id = request_id or str(uuid.uuid4())
        try:
            code = self._unpack(function)
        except (UnsafeZipError, zipfile.BadZipFile) as err:
            error = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": str(err)}
            return Invocation(json.dumps(error).encode("utf-8"), "Unhandled", "", request_id)
        stream = _log_stream_name(function)
        with tempfile.TemporaryDirectory(prefix="lambda-") as scratch:
            result_file = Path(scratch) / "result.json"
            started = time.time()
            environment = self._environment(
                function, code, request_id, stream, invoked_arn, scratch
            )
            deadline = started + INIT_SECONDS + float(function.timeout)
            output, killed = self._run(code, environment, event, result_file, deadline)
            elapsed_ms = (time.time() - started) * 1000
            document = _read_result(result_file)
            timed_out = killed or document.get("timed_out", False)
        payload, function_error = _answer(document, timed_out, function, request_id)
        if function_error and not timed_out and not document:
            output += "Runtime exited without providing a reason\n"
        log = _log_lines(function, request_id, output, elapsed_ms, timed_out)
        _write_log(function, stream, log)
        return Invocation(payload, function_error, log, request_id)

    def invoke_async(self, function, event: bytes, invoked_arn: str | None = None) -> str:
        """InvocationType=Event: run in the background; returns the request id at once.
        As on AWS, a failed invocation is tried again (MaximumRetryAttempts, 2 unless the
        function's event invoke config says otherwise; at once here, where AWS waits a
        minute or two), then the event goes to the function's DeadLetterConfig target."""
        request_id = str(uuid.uuid4())

        def run() -> None:
            try:
                for _ in range(1 + _retries(function)):
                    result = self.invoke(function, event, invoked_arn, request_id)
                    if not result.function_error or self._stopped:
                        return
                self._dead_letter(function, event, result)
            except Exception:  # noqa: BLE001 — nobody waits for this answer: log it
                logger.exception("asynchronous invocation of %s failed", function.function_name)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True, name=f"lambda-{function.function_name}")
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return request_id

    def _dead_letter(self, function, event: bytes, result: Invocation) -> None:
        """The event of a failed asynchronous invocation, to the function's dead-letter
        queue or topic, with the attributes Lambda adds (RequestID, ErrorCode,
        ErrorMessage)."""
        target = (function.get_configuration().get("DeadLetterConfig") or {}).get("TargetArn")
        if not target:
            logger.warning(
                "asynchronous invocation of %s failed: %s",
                function.function_name,
                result.payload.decode("utf-8", errors="replace"),
            )
            return
        message = json.loads(result.payload or b"{}").get("errorMessage", "")
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": result.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:1024] or "-"},
        }
        body = event.decode("utf-8") if event else "{}"
        _, _, service, _, account, resource = target.split(":", 5)
        if service == "sqs":
            sqs = sandbox_client("sqs", self.endpoint_url)
            url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)
            sqs.send_message(
                QueueUrl=url["QueueUrl"], MessageBody=body, MessageAttributes=attributes
            )
        elif service == "sns":
            sandbox_client("sns", self.endpoint_url).publish(
                TopicArn=target, Message=body, MessageAttributes=attributes
            )

    def stop(self) -> None:
        """Kill every function process still running and wait for their threads."""
        with self._lock:
            self._stopped = True
            processes, threads = list(self._processes), list(self._threads)
        for process in processes:
            _kill_group(process)
        for thread in threads:
            thread.join(timeout=10)

    # --- the process -----------------------------------------------------------------------

    def _run(
        self, code: Path, environment: dict, event: bytes, result_file: Path, deadline: float
    ) -> tuple[str, bool]:
        """Run the bootstrap; (its stdout and stderr, whether it was killed: the limit of
        init plus timeout passed, or the sandbox is stopping)."""
        with tempfile.TemporaryFile() as log:
            with self._lock:  # a process starts only while the runtime is not stopping
                if self._stopped:
                    return "the sandbox is stopping: the function did not start\n", True
                process = subprocess.Popen(
                    # -S: no site processing, so the project's own packages (an editable
                    # install, found through a .pth file) are not importable unless the zip
                    # holds them, as on AWS; the virtualenv's libraries are (PYTHONPATH).
                    [sys.executable, "-S", "-c", BOOTSTRAP, str(result_file)],
                    cwd=code,
                    env=environment,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a timeout kills it all
                )
                self._processes.add(process)
            killed = False
            try:
                with contextlib.suppress(BrokenPipeError):  # a handler that exits at once
                    process.stdin.write(event or b"{}")
                    process.stdin.close()
                process.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                killed = True
            finally:
                _kill_group(process)  # whatever it started in the background too
                with self._lock:
                    self._processes.discard(process)
            log.seek(0)
            return log.read().decode("utf-8", errors="replace"), killed or self._stopped

    def _environment(
        self,
        function,
        code: Path,
        request_id: str,
        stream: str,
        invoked_arn: str | None,
        scratch: str,
    ) -> dict[str, str]:
        kept = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        runtime = {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(getattr(function, "version", "$LATEST")),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": _log_group(function),
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "LAMBDA_TASK_ROOT": str(code),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": function.handler or "",
            "TZ": ":UTC",
            "HOME": scratch,
            "PYTHONPATH": os.pathsep.join([str(code), *_library_folders()]),
            "PYTHONUNBUFFERED": "1",  # log lines keep their order with the runtime's
            "_SANDBOX_REQUEST_ID": request_id,
            "_SANDBOX_TIMEOUT": str(function.timeout),
            "_SANDBOX_INVOKED_FUNCTION_ARN": invoked_arn or function.function_arn,
        }
        # The sandbox's endpoint and fake credentials win over the function's variables:
        # a function never reaches real AWS from the sandbox.
        return {
            **kept,
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
            **runtime,
            **client_environment(self.endpoint_url),
        }

    # --- the code --------------------------------------------------------------------------

    def _unpack(self, function) -> Path:
        """The function's code folder, unpacked on first use of this code version."""
        digest = getattr(function, "code_digest", None) or uuid.uuid5(
            uuid.NAMESPACE_OID, str(len(function.code_bytes))
        )
        target = self.folder / function.function_name / str(digest)
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
        try:
            safe_unzip(function.code_bytes, partial, function.function_name)
            os.replace(partial, target)
        except OSError:
            if not target.is_dir():  # not another thread's unpacking of the same code
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target


def safe_unzip(data: bytes, target: Path, name: str) -> None:
    """Extract zip `data` into `target`, refusing absolute paths and members that `..`
    leads out of it (checked before anything is written)."""
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = target.resolve()
        for member in archive.infolist():
            path = (root / member.filename).resolve()
            if member.filename.startswith("/") or not path.is_relative_to(root):
                raise UnsafeZipError(
                    f"function {name}: refusing zip member {member.filename!r}: it escapes "
                    "the code folder"
                )
        archive.extractall(root)
        for member in archive.infolist():  # keep what the zip says is executable
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                (root / member.filename).chmod(mode | 0o400)


def _retries(function) -> int:
    """MaximumRetryAttempts of the function's event invoke config; AWS's default, 2."""
    for config in getattr(function, "event_invoke_config", None) or []:
        if "MaximumRetryAttempts" in config.config:
            return int(config.config["MaximumRetryAttempts"])
    return 2


def _library_folders() -> list[str]:
    """The virtualenv's site-packages (without what its .pth files add)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read_result(result_file: Path) -> dict:
    try:
        return json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _answer(document: dict, timed_out: bool, function, request_id: str):
    """(payload, FunctionError) as the Lambda service returns them."""
    if timed_out:
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
            f"{float(function.timeout):.2f} seconds",
        }
        return json.dumps(error).encode("utf-8"), "Unhandled"
    if "result" in document:
        return document["result"].encode("utf-8"), None
    if "error" in document:
        return json.dumps(document["error"]).encode("utf-8"), "Unhandled"
    error = {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
    }
    return json.dumps(error).encode("utf-8"), "Unhandled"


def _log_group(function) -> str:
    return f"/aws/lambda/{function.function_name}"


def _log_stream_name(function) -> str:
    day = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    return f"{day}/[{getattr(function, 'version', '$LATEST')}]{uuid.uuid4().hex}"


def _log_lines(function, request_id: str, output: str, elapsed_ms: float, timed_out: bool):
    version = getattr(function, "version", "$LATEST")
    lines = [f"START RequestId: {request_id} Version: {version}"]
    lines += output.splitlines()
    if timed_out:
        lines.append(
            f"{datetime.datetime.now(datetime.UTC).isoformat()} {request_id} "
            f"Task timed out after {float(function.timeout):.2f} seconds"
        )
    lines.append(f"END RequestId: {request_id}")
    lines.append(
        f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
        f"Billed Duration: {int(elapsed_ms) + 1} ms\tMemory Size: {function.memory_size} MB"
    )
    return "\n".join(lines) + "\n"


def _write_log(function, stream: str, log: str) -> None:
    """The invocation's log, one event per line, in /aws/lambda/<name> (created if need be)."""
    from moto.logs import logs_backends
    from moto.logs.exceptions import ResourceAlreadyExistsException

    backend = logs_backends[function.account_id][function.region]
    group = _log_group(function)
    if group not in backend.groups:
        with contextlib.suppress(ResourceAlreadyExistsException):  # another invocation's
            backend.create_log_group(group, {})
    backend.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in log.splitlines()]
    backend.put_log_events(group, stream, events)
