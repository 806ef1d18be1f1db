"""State of the pipeline executions the sandbox runs: step records, status, failure reason,
the jobs the steps ran, and the step cache: the models, apart from the wire
(pipelines_service.py answers requests from them).

It has one home, moto's own models: an ExecutionState hangs on moto's pipeline execution
(`sandbox_state`) and the step cache on the region's SageMaker backend, so everything the
sandbox knows is in moto's backends, snapshotted and restored with them (persistence.py).
moto answers DescribePipelineExecution; this adds what moto lacks: the steps, and a status
that follows the run instead of 'Succeeded'.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.sagemaker.models import sagemaker_backends

from sandbox.runner.cache import StepCache
from sandbox.runner.jobs import ProcessStats

INTERRUPTED = "the sandbox stopped while this execution ran"
_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` whenever an execution's state changes (the snapshots); returns a
    function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def changed() -> None:
    for listener in list(_listeners):
        listener()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StepRecord:
    name: str
    type: str
    status: str = "Starting"
    start_time: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    failure_reason: str | None = None
    metadata: dict = field(default_factory=dict)
    cache_source_arn: str | None = None
    process: ProcessStats | None = None  # a job step's process: not in the API, for benchmarks
    attempt_count: int = 1

    def to_api(self) -> dict:
        """As ListPipelineExecutionSteps returns one step."""
        item = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start_time.timestamp(),
            "AttemptCount": self.attempt_count,
            "Metadata": self.metadata,
        }
        if self.end_time:
            item["EndTime"] = self.end_time.timestamp()
        if self.failure_reason:
            item["FailureReason"] = self.failure_reason[:1024]
        if self.cache_source_arn:
            item["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source_arn}
        return item


@dataclass
class ExecutionState:
    arn: str
    status: str = "Executing"
    failure_reason: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)  # job ARN -> Describe*Job answer
    # What each succeeded step produced, for RetryPipelineExecution and selective
    # executions that reuse it: step name -> {"properties", "property_files"}.
    outputs: dict[str, dict] = field(default_factory=dict)
    branch_taken: dict[str, str] = field(default_factory=dict)  # condition -> branch
    # What StartPipelineExecution was given (moto drops it); DescribePipelineExecution says it.
    selective_execution_config: dict | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __setstate__(self, state: dict) -> None:
        # A snapshot from before a field existed restores with that field's default.
        self.__dict__.update({**ExecutionState(state["arn"]).__dict__, **state})

    @property
    def execution_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def pipeline_name(self) -> str:
        return self.arn.split(":pipeline/", 1)[1].split("/", 1)[0]

    @classmethod
    def attach(cls, arn: str) -> ExecutionState:
        """A new state for the execution moto has just recorded, kept on moto's model."""
        state = cls(arn)
        _moto_execution(arn).sandbox_state = state
        return state

    def step(self, name: str, step_type: str, status: str, **fields) -> StepRecord:
        """Create or update a step record."""
        with self._lock:
            record = self.steps.get(name) or StepRecord(name, step_type)
            record.status = status
            for key, value in fields.items():
                setattr(record, key, value)
            if status in ("Succeeded", "Failed", "Stopped") and record.end_time is None:
                record.end_time = _now()
            self.steps[name] = record
        changed()
        return record

    def record_job(self, arn: str, description: dict) -> None:
        """Keep (or update) a job's Describe*Job answer: as it starts, and as it ends."""
        with self._lock:
            self.jobs[arn] = description
        changed()

    def record_output(self, step: str, properties: dict, property_files: dict) -> None:
        with self._lock:
            self.outputs[step] = {"properties": properties, "property_files": property_files}
        changed()

    def set_status(self, status: str, failure_reason: str | None = None) -> None:
        with self._lock:
            self.status = status
            self.failure_reason = failure_reason
            execution = _moto_execution(self.arn)
            execution.pipeline_execution_status = status
            execution.pipeline_execution_failure_reason = failure_reason
            execution.last_modified_time = _now()
        changed()

    def end_interrupted(self) -> None:
        """Failed, with its running steps and jobs, because the sandbox stopped."""
        for record in list(self.steps.values()):
            if record.status in ("Starting", "Executing", "Stopping"):
                self.step(record.name, record.type, "Failed", failure_reason=INTERRUPTED)
        for arn, description in list(self.jobs.items()):
            status_field = next((k for k in description if k.endswith("JobStatus")), None)
            if status_field and description[status_field] in ("InProgress", "Stopping"):
                self.record_job(
                    arn, {**description, status_field: "Failed", "FailureReason": INTERRUPTED}
                )
        self.set_status("Failed", INTERRUPTED)

    def list_steps(self, ascending: bool) -> list[dict]:
        with self._lock:
            records = sorted(self.steps.values(), key=lambda r: r.start_time)
            items = [r.to_api() for r in records]
        return items if ascending else items[::-1]


def _moto_execution(arn: str):
    _, _, _, region, account, _ = arn.split(":", 5)
    pipeline_name = arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    backend = sagemaker_backends[account][region]
    return backend.pipelines[pipeline_name].pipeline_executions[arn]


def find(arn: str) -> ExecutionState | None:
    """The state of an execution the sandbox runs (or ran), if any."""
    try:
        return getattr(_moto_execution(arn), "sandbox_state", None)
    except (KeyError, IndexError, ValueError):
        return None


def every_state() -> list[ExecutionState]:
    """Every execution's state, in every account and region."""
    return [
        execution.sandbox_state
        for _, _, backend in sagemaker_backends.iter_backends()
        for pipeline in list(backend.pipelines.values())
        for execution in list(pipeline.pipeline_executions.values())
        if getattr(execution, "sandbox_state", None) is not None
    ]


def step_cache(arn: str) -> StepCache:
    """The step cache of the execution's account and region (as SageMaker scopes it)."""
    _, _, _, region, account, _ = arn.split(":", 5)
    backend = sagemaker_backends[account][region]
    if getattr(backend, "sandbox_step_cache", None) is None:
        backend.sandbox_step_cache = StepCache()
    return backend.sandbox_step_cache


def fail_interrupted() -> int:
    """After a restart: executions that were running when the sandbox stopped end Failed
    (nothing runs them any more), as do their running steps. Returns how many."""
    interrupted = [s for s in every_state() if s.status in ("Executing", "Stopping")]
    for state in interrupted:
        state.end_interrupted()
    return len(interrupted)


def start_problem(authorization: str, request: dict) -> str | None:
    """Why SageMaker would refuse this StartPipelineExecution request (a parameter unknown,
    of the wrong type, or outside its EnumValues), or None. Checked before moto records
    the execution, so a refused start leaves nothing behind."""
    from moto.iam.models import get_account_id_from

    from sandbox.runner.executor import typed_parameters

    scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
    if len(scope) < 3:
        return None  # unsigned: moto answers it
    try:
        backend = sagemaker_backends[get_account_id_from(scope[0])][scope[2]]
        pipeline = backend.pipelines[request.get("PipelineName", "").rsplit("/", 1)[-1]]
        definition = json.loads(pipeline.pipeline_definition)
    except (KeyError, TypeError, ValueError):
        return None  # no such pipeline, or no definition to check against: moto answers
    overrides = {p["Name"]: p["Value"] for p in request.get("PipelineParameters", [])}
    try:
        typed_parameters(definition.get("Parameters", []), overrides)
    except ValueError as err:
        return str(err)
    return None


def parallelism_configuration(arn: str) -> dict | None:
    """The ParallelismConfiguration the execution was started with, else its pipeline's."""
    return _moto_execution(arn).parallelism_configuration


def moto_execution_request(arn: str) -> tuple[str, dict[str, str]]:
    """The definition and the parameter overrides moto recorded for an execution."""
    execution = _moto_execution(arn)
    overrides = {p["Name"]: p["Value"] for p in execution.pipeline_parameters or []}
    return execution.pipeline_definition_for_execution, overrides
