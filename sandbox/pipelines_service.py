"""The SageMaker Pipelines wire protocol that moto lacks, in front of moto's own app.

- StartPipelineExecution: moto records the execution, then the sandbox runs it in a thread,
  as SageMaker does after the call returns (a SelectiveExecutionConfig runs only the
  selected steps, with the other steps' outputs from the source execution).
- StopPipelineExecution / RetryPipelineExecution, which moto lacks.
- ListPipelineExecutionSteps: answered from the run's step records.
- ListPipelineParametersForExecution: every parameter with the value the run used (moto
  lists only the overrides).
- DescribePipelineExecution: moto's answer, with the status, FailureReason and
  SelectiveExecutionConfig of the run.
- Describe/List{Processing,Training}Job(s): the jobs the pipeline steps ran, besides moto's.

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

from botocore.config import Config

from sandbox import executions
from sandbox.clients import sandbox_client
from sandbox.constants import HEALTH_PATH, client_environment
from sandbox.endpoint_runtime import EndpointRuntime, caller_account
from sandbox.executions import ExecutionState, moto_execution_request
from sandbox.runner.api_shapes import as_text
from sandbox.runner.executor import (
    ARN_KINDS,
    JOB_TIMES,
    PipelineExecutor,
    RunPlan,
    retry_plan,
    selective_plan,
    typed_parameters,
)
from sandbox.transform_service import TransformJobs

logger = logging.getLogger(__name__)
TARGET_PREFIX = "SageMaker."


class PipelinesService:
    """A WSGI app: the pipeline calls above, moto for the rest."""

    def __init__(self, moto_app, endpoint_url: str, home: Path, pid: int, changed=lambda: None):
        self.moto_app = moto_app
        self.health = {"status": "ok", "pid": pid, "home": str(home)}
        self.runtime = EndpointRuntime(endpoint_url, home)
        self.transforms = TransformJobs(endpoint_url, home)  # CreateTransformJob, standalone
        self.endpoint_url = endpoint_url
        self.home = home
        self.changed = changed  # called after every request that may change state
        self._runs: dict[str, tuple[threading.Thread, PipelineExecutor]] = {}  # by ARN
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
        request = json.loads(body or b"{}")
        if action == "StartPipelineExecution":
            return self._start(environ, body, request, start_response)
        if action == "StopPipelineExecution":
            return self._stop(request, start_response)
        if action == "RetryPipelineExecution":
            return self._retry(request, start_response)
        if action in ("SendPipelineExecutionStepSuccess", "SendPipelineExecutionStepFailure"):
            return self._answer_callback(action, request, start_response)
        if action == "ListPipelineParametersForExecution":
            return self._list_parameters(request, start_response)
        if action in DESCRIBE_JOB:
            return self._describe_job(action, environ, body, request, start_response)
        if action == "ListTrainingJobsForHyperParameterTuningJob":
            return self._list_tuning_trials(request, start_response)
        if action in LIST_JOBS:
            return self._list_jobs(action, environ, body, request, start_response)
        if action == "CreateTransformJob":  # moto records it; the sandbox runs it
            status, headers, payload = self._call_moto(environ, body)
            if status.startswith("200"):
                self.transforms.start(request, caller_account(environ))
            start_response(status, headers)
            return [payload]
        if action == "DescribeEndpoint":
            name = json.loads(body or b"{}").get("EndpointName", "")
            self.runtime.check(name, caller_account(environ))
            return self._call_moto_through(environ, body, start_response)
        if action == "ListPipelineExecutions":
            status, headers, payload = self._call_moto(environ, body)
            payload = _without_none_reasons(status, payload)
            start_response(status, _with_length(headers, payload))
            return [payload]
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

    def _start(self, environ: dict, body: bytes, request: dict, start_response):
        problem = executions.start_problem(environ.get("HTTP_AUTHORIZATION", ""), request)
        plan = None
        selective = request.get("SelectiveExecutionConfig")
        if not problem and selective:
            problem, plan = self._selective_plan(request, selective)
        if problem:
            return _error(start_response, "ValidationException", problem)
        status, headers, payload = self._call_moto(environ, body)
        if status.startswith("200"):
            arn = json.loads(payload)["PipelineExecutionArn"]
            self._launch(arn, plan)
            if selective:
                executions.find(arn).selective_execution_config = selective
        start_response(status, headers)
        return [payload]

    @staticmethod
    def _selective_plan(request: dict, selective: dict) -> tuple[str | None, RunPlan | None]:
        source_arn = selective.get("SourcePipelineExecutionArn", "")
        source = executions.find(source_arn)
        pipeline = request.get("PipelineName", "").rsplit("/", 1)[-1]
        if source is None or source.pipeline_name != pipeline:
            return f"SourcePipelineExecutionArn {source_arn!r}: no execution of {pipeline}", None
        selected = [s.get("StepName", "") for s in selective.get("SelectedSteps", [])]
        definition, _ = moto_execution_request(source_arn)
        try:
            return None, selective_plan(definition, source, selected)
        except ValueError as err:
            return str(err), None

    def _stop(self, request: dict, start_response):
        arn = request.get("PipelineExecutionArn", "")
        state = executions.find(arn)
        if state is None:
            return _error(start_response, "ResourceNotFound", f"Pipeline execution {arn} not found")
        with self._lock:
            run = self._runs.get(arn)
        if state.status != "Executing" or run is None:
            return _error(
                start_response,
                "ValidationException",
                f"Pipeline execution {arn} is {state.status}: only an Executing one can stop",
            )
        run[1].stop()
        return _json_response(start_response, "200 OK", {"PipelineExecutionArn": arn})

    def _retry(self, request: dict, start_response):
        arn = request.get("PipelineExecutionArn", "")
        state = executions.find(arn)
        if state is None:
            return _error(start_response, "ResourceNotFound", f"Pipeline execution {arn} not found")
        if state.status not in ("Failed", "Stopped"):
            return _error(
                start_response,
                "ValidationException",
                f"Pipeline execution {arn} is {state.status}: only a Failed or Stopped "
                "one can be retried",
            )
        self._launch(arn, retry_plan(state), request.get("ParallelismConfiguration"))
        return _json_response(start_response, "200 OK", {"PipelineExecutionArn": arn})

    def _answer_callback(self, action: str, request: dict, start_response):
        """A Callback step's answer: the step waiting with this token goes on."""
        token = request.get("CallbackToken", "")
        with self._lock:
            runs = list(self._runs.values())
        for _, executor in runs:
            callback = executor.callbacks.get(token)
            if callback is not None:
                if action == "SendPipelineExecutionStepSuccess":
                    callback.succeed(request.get("OutputParameters", []))
                else:
                    callback.fail(request.get("FailureReason", ""))
                arn = executor.state.arn
                return _json_response(start_response, "200 OK", {"PipelineExecutionArn": arn})
        return _error(
            start_response, "ResourceNotFound", f"no step is waiting for callback token {token!r}"
        )

    def _list_parameters(self, request: dict, start_response):
        arn = request.get("PipelineExecutionArn", "")
        if executions.find(arn) is None:
            return _error(start_response, "ResourceNotFound", f"Pipeline execution {arn} not found")
        definition, overrides = moto_execution_request(arn)
        declared = json.loads(definition).get("Parameters", [])
        values = typed_parameters(declared, overrides)
        listed = [
            {"Name": p["Name"], "Value": overrides.get(p["Name"], as_text(values[p["Name"]]))}
            for p in declared
        ]
        return _json_response(start_response, "200 OK", {"PipelineParameters": listed})

    def _pipeline_job(self, kind: str, name: str) -> dict | None:
        """The Describe*Job answer of a job a pipeline step ran, as it is now."""
        for state in executions.every_state():
            for arn, description in list(state.jobs.items()):
                if f":{ARN_KINDS[kind]}/" in arn and arn.rsplit("/", 1)[-1] == name.lower():
                    return description
        return None

    def _describe_job(self, action: str, environ: dict, body: bytes, request: dict, start_response):
        """A job a pipeline step ran; any other (created by a direct call) is moto's."""
        kind = DESCRIBE_JOB[action]
        description = self._pipeline_job(kind, request.get(f"{kind}Name") or "")
        if description is None:
            return self._call_moto_through(environ, body, start_response)
        return _json_response(start_response, "200 OK", description)

    def _list_tuning_trials(self, request: dict, start_response):
        """ListTrainingJobsForHyperParameterTuningJob: a tuning step's trials."""
        name = request.get("HyperParameterTuningJobName") or ""
        tuning = self._pipeline_job("HyperParameterTuningJob", name)
        if tuning is None:
            return _error(start_response, "ResourceNotFound", f"Could not find job {name!r}")
        trials = tuning.get("TrainingJobSummaries", [])
        if request.get("StatusEquals"):
            trials = [t for t in trials if t.get("TrainingJobStatus") == request["StatusEquals"]]
        return _json_response(start_response, "200 OK", {"TrainingJobSummaries": trials})

    def _list_jobs(self, action: str, environ: dict, body: bytes, request: dict, start_response):
        """moto's jobs and the pipelines' jobs together, filtered and sorted as the API does
        (NameContains, StatusEquals, Creation/LastModifiedTime bounds, SortBy/SortOrder)."""
        kind = LIST_JOBS[action]
        paging = {"MaxResults": request.pop("MaxResults", 100), "NextToken": None}
        token = request.pop("NextToken", None)
        environ["CONTENT_LENGTH"] = str(len(moto_body := json.dumps(request).encode()))
        status, headers, payload = self._call_moto(environ, moto_body)
        if not status.startswith("200"):
            start_response(status, headers)
            return [payload]
        summaries = json.loads(payload).get(f"{kind}Summaries", [])
        for state in executions.every_state():
            for arn, description in list(state.jobs.items()):
                if f":{ARN_KINDS[kind]}/" in arn:
                    summaries.append(_job_summary(kind, description))
        summaries = _filter_jobs(kind, summaries, request)
        start = int(token or 0)
        page = summaries[start : start + int(paging["MaxResults"])]
        answer: dict = {f"{kind}Summaries": page}
        if start + len(page) < len(summaries):
            answer["NextToken"] = str(start + len(page))
        return _json_response(start_response, "200 OK", answer)

    def _with_failure_reason(self, status: str, payload: bytes) -> bytes:
        if not status.startswith("200"):
            return payload
        described = json.loads(payload)
        state = executions.find(described.get("PipelineExecutionArn", ""))
        if state is not None:
            described["PipelineExecutionStatus"] = state.status
            if state.failure_reason:
                described["FailureReason"] = state.failure_reason
            if state.selective_execution_config:
                described["SelectiveExecutionConfig"] = state.selective_execution_config
        return json.dumps(described).encode()

    # --- running executions --------------------------------------------------------------

    def _launch(
        self, arn: str, plan: RunPlan | None = None, parallelism: dict | None = None
    ) -> None:
        """Run the execution in a thread: a new one, or (with a retry plan) again."""
        state = executions.find(arn) if plan and plan.selected is None else None
        state = state or ExecutionState.attach(arn)
        definition, overrides = moto_execution_request(arn)
        state.set_status("Executing")
        parallelism = parallelism or executions.parallelism_configuration(arn) or {}
        executor = PipelineExecutor(
            definition,
            overrides,
            state,
            self._clients(),
            self.home,
            executions.step_cache(arn),
            client_environment(self.endpoint_url),
            max_parallel_steps=parallelism.get("MaxParallelExecutionSteps"),
            plan=plan,
        )
        thread = threading.Thread(
            target=executor.run, name=f"execution-{state.execution_id}", daemon=True
        )
        with self._lock:
            self._runs[arn] = (thread, executor)
        thread.start()

    def _clients(self) -> dict:
        clients = {
            name: sandbox_client(name, self.endpoint_url)
            for name in ("s3", "sagemaker", "logs", "sqs")
        }
        # A Lambda step waits for the function: up to its 15-minute limit, no retry.
        waiting = Config(read_timeout=15 * 60 + 10, retries={"max_attempts": 1})
        clients["lambda"] = sandbox_client("lambda", self.endpoint_url, waiting)
        return clients

    def stop_executions(self, failure_reason: str) -> None:
        """End every running execution now, Failed with `failure_reason` (the sandbox is
        stopping: its jobs must not outlive it)."""
        with self._lock:
            runs = list(self._runs.values())
        for thread, executor in runs:
            if thread.is_alive():
                executor.stop(failure_reason)

    def wait_for_executions(self, timeout: float | None = None) -> None:
        """Block until every execution (and standalone transform job) started so far has
        ended."""
        with self._lock:
            threads = [thread for thread, _ in self._runs.values()]
        for thread in threads:
            thread.join(timeout)
        self.transforms.wait(timeout)


DESCRIBE_JOB = {f"Describe{kind}": kind for kind in ARN_KINDS}
LIST_JOBS = {f"List{kind}s": kind for kind in ARN_KINDS}


def _job_summary(kind: str, description: dict) -> dict:
    """A job's entry in List*Jobs, from its Describe*Job answer."""
    fields = [f"{kind}Name", f"{kind}Arn", f"{kind}Status", "CreationTime", "LastModifiedTime"]
    fields += [JOB_TIMES[kind][1], "FailureReason", "ExitMessage", "TrainingJobStatusCounters"]
    summary = {k: description[k] for k in fields if description.get(k) is not None}
    config = description.get("HyperParameterTuningJobConfig")
    if config:  # a tuning job's summary lifts these out of its configuration
        summary.update(Strategy=config.get("Strategy"), ResourceLimits=config.get("ResourceLimits"))
    return summary


def _filter_jobs(kind: str, summaries: list[dict], request: dict) -> list[dict]:
    def keep(summary: dict) -> bool:
        created = summary.get("CreationTime", 0)
        modified = summary.get("LastModifiedTime", created)
        return (
            request.get("NameContains", "").lower() in summary[f"{kind}Name"].lower()
            and request.get("StatusEquals", summary[f"{kind}Status"]) == summary[f"{kind}Status"]
            and created > float(request.get("CreationTimeAfter", float("-inf")))
            and created < float(request.get("CreationTimeBefore", float("inf")))
            and modified > float(request.get("LastModifiedTimeAfter", float("-inf")))
            and modified < float(request.get("LastModifiedTimeBefore", float("inf")))
        )

    by = {"Name": f"{kind}Name", "Status": f"{kind}Status"}.get(
        request.get("SortBy", ""), "CreationTime"
    )
    return sorted(
        filter(keep, summaries),
        key=lambda s: s.get(by, 0),
        reverse=request.get("SortOrder", "Descending") == "Descending",
    )


def _without_none_reasons(status: str, payload: bytes) -> bytes:
    """moto lists an execution that has no failure reason with the reason "None"."""
    if not status.startswith("200"):
        return payload
    listed = json.loads(payload)
    for summary in listed.get("PipelineExecutionSummaries", []):
        if summary.get("PipelineExecutionFailureReason") in ("None", None, ""):
            summary.pop("PipelineExecutionFailureReason", None)
    return json.dumps(listed).encode()


def _error(start_response, code: str, message: str):
    return _json_response(start_response, "400 Bad Request", {"__type": code, "message": message})


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
