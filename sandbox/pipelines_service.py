"""The SageMaker Pipelines wire protocol that moto lacks, in front of moto's own app.

- StartPipelineExecution: moto records the execution, then the sandbox runs it in a thread,
  as SageMaker does after the call returns.
- ListPipelineExecutionSteps: answered from the run's step records.
- DescribePipelineExecution: moto's answer, with the FailureReason moto leaves empty.
- DescribeProcessingJob / DescribeTrainingJob: the jobs the pipeline steps ran.

Every other request goes to moto untouched.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from sandbox import executions
from sandbox.clients import sandbox_client
from sandbox.constants import HEALTH_PATH, client_environment
from sandbox.endpoint_runtime import EndpointRuntime
from sandbox.executions import ExecutionState, moto_execution_request
from sandbox.runner.executor import PipelineExecutor

logger = logging.getLogger(__name__)
TARGET_PREFIX = "SageMaker."


class PipelinesService:
    """A WSGI app: the pipeline calls above, moto for the rest."""

    def __init__(self, moto_app, endpoint_url: str, home: Path, pid: int, changed=lambda: None):
        self.moto_app = moto_app
        self.health = {"status": "ok", "pid": pid, "home": str(home)}
        self.runtime = EndpointRuntime(endpoint_url, home)
        self.endpoint_url = endpoint_url
        self.home = home
        self.changed = changed  # called after every request that may change state
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # --- wire protocol -------------------------------------------------------------------

    def __call__(self, environ: dict, start_response):
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return _json_response(start_response, "200 OK", self.health)
        if self.runtime.handles(environ):  # InvokeEndpoint changes no state
            return self.runtime(environ, start_response)
        read_only = _is_read_only(environ)
        try:
            return self._answer(environ, start_response)
        finally:
            if not read_only:
                self.changed()

    def _answer(self, environ: dict, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            if _is_iam_simulation(environ):
                return _allow_everything(self._read_body(environ), start_response)
            return self.moto_app(environ, start_response)
        action = target[len(TARGET_PREFIX) :]
        body = self._read_body(environ)
        if action == "ListPipelineExecutionSteps":
            return self._list_steps(json.loads(body or b"{}"), start_response)
        if action == "StartPipelineExecution":
            problem = executions.start_problem(
                environ.get("HTTP_AUTHORIZATION", ""), json.loads(body or b"{}")
            )
            if problem:
                return _json_response(
                    start_response,
                    "400 Bad Request",
                    {"__type": "ValidationException", "message": problem},
                )
            status, headers, payload = self._call_moto(environ, body)
            if status.startswith("200"):
                self._launch(json.loads(payload)["PipelineExecutionArn"])
            start_response(status, headers)
            return [payload]
        if action in ("DescribeProcessingJob", "DescribeTrainingJob"):
            return self._describe_job(json.loads(body or b"{}"), start_response)
        if action == "DescribeEndpoint":
            self.runtime.check(json.loads(body or b"{}").get("EndpointName", ""))
            return self._call_moto_through(environ, body, start_response)
        if action == "DescribePipelineExecution":
            status, headers, payload = self._call_moto(environ, body)
            payload = self._with_failure_reason(status, payload)
            start_response(status, _with_length(headers, payload))
            return [payload]
        return self.moto_app(environ, start_response)

    @staticmethod
    def _read_body(environ: dict) -> bytes:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # let moto read it again
        return body

    def _call_moto_through(self, environ: dict, body: bytes, start_response):
        environ["wsgi.input"] = io.BytesIO(body)
        return self.moto_app(environ, start_response)

    def _call_moto(self, environ: dict, body: bytes) -> tuple[str, list, bytes]:
        environ["wsgi.input"] = io.BytesIO(body)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)

        payload = b"".join(self.moto_app(environ, capture))
        return captured["status"], captured["headers"], payload

    def _list_steps(self, request: dict, start_response):
        arn = request.get("PipelineExecutionArn", "")
        state = executions.find(arn)
        if state is None:
            return _json_response(
                start_response,
                "400 Bad Request",
                {
                    "__type": "ResourceNotFound",
                    "message": f"Pipeline execution {arn} not found",
                },
            )
        ascending = request.get("SortOrder", "Descending") == "Ascending"
        return _json_response(
            start_response, "200 OK", {"PipelineExecutionSteps": state.list_steps(ascending)}
        )

    def _describe_job(self, request: dict, start_response):
        """A job a pipeline step ran, described from the step's recorded properties."""
        name = request.get("ProcessingJobName") or request.get("TrainingJobName") or ""
        for state in executions.every_state():
            for arn, description in list(state.jobs.items()):
                if arn.rsplit("/", 1)[-1] == name.lower():
                    return _json_response(start_response, "200 OK", description)
        return _json_response(
            start_response,
            "400 Bad Request",
            {"__type": "ValidationException", "message": f"Could not find job {name!r}"},
        )

    def _with_failure_reason(self, status: str, payload: bytes) -> bytes:
        if not status.startswith("200"):
            return payload
        described = json.loads(payload)
        state = executions.find(described.get("PipelineExecutionArn", ""))
        if state is not None:
            described["PipelineExecutionStatus"] = state.status
            if state.failure_reason:
                described["FailureReason"] = state.failure_reason
        return json.dumps(described).encode()

    # --- running executions --------------------------------------------------------------

    def _launch(self, arn: str) -> None:
        state = ExecutionState.attach(arn)
        definition, overrides = moto_execution_request(arn)
        state.set_status("Executing")
        executor = PipelineExecutor(
            definition,
            overrides,
            state,
            self._clients(),
            self.home,
            executions.step_cache(arn),
            client_environment(self.endpoint_url),
        )
        thread = threading.Thread(
            target=executor.run, name=f"execution-{state.execution_id}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _clients(self) -> dict:
        return {name: sandbox_client(name, self.endpoint_url) for name in ("s3", "sagemaker")}

    def wait_for_executions(self, timeout: float | None = None) -> None:
        """Block until every execution started so far has ended."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


READ_PREFIXES = ("Describe", "List", "Get", "Head", "Search", "BatchGet", "BatchDescribe")


def _is_read_only(environ: dict) -> bool:
    """A request that cannot change state (no snapshot needed after it): GET/HEAD, or a
    JSON (X-Amz-Target) or query (Action=) call named Describe/List/Get..."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return True
    action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
    if not action and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = PipelinesService._read_body(environ)  # and puts it back for moto
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    return action.startswith(READ_PREFIXES)


def _is_iam_simulation(environ: dict) -> bool:
    """SDK v3 checks the training role with iam:SimulatePrincipalPolicy, which moto lacks."""
    if environ.get("REQUEST_METHOD") != "POST" or "iam" not in environ.get(
        "HTTP_AUTHORIZATION", ""
    ):
        return False
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    return b"Action=SimulatePrincipalPolicy" in body


def _allow_everything(body: bytes, start_response):
    """The sandbox enforces no IAM policy: every simulated action is allowed."""
    form = parse_qs(body.decode())
    actions = [v[0] for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
    results = "".join(
        f"<member><EvalActionName>{escape(a)}</EvalActionName>"
        "<EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision></member>"
        for a in actions
    )
    payload = (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
        f"<EvaluationResults>{results}</EvaluationResults></SimulatePrincipalPolicyResult>"
        "<ResponseMetadata><RequestId>sandbox</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
    return [payload]


def _with_length(headers: list, payload: bytes) -> list:
    return [(k, v) for k, v in headers if k.lower() != "content-length"] + [
        ("Content-Length", str(len(payload)))
    ]


def _json_response(start_response, status: str, body: dict):
    payload = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
    )
    return [payload]
