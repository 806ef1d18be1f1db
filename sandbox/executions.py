"""State of the pipeline executions the sandbox runs: step records, status, failure reason.

moto keeps the execution itself (and answers DescribePipelineExecution from it); this adds
what moto lacks: the steps, and a status that follows the run instead of 'Succeeded'.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.sagemaker.models import sagemaker_backends

from sandbox.runner.jobs import ProcessStats


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

    def to_api(self) -> dict:
        """As ListPipelineExecutionSteps returns one step."""
        item = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start_time.timestamp(),
            "AttemptCount": 1,
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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def execution_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def pipeline_name(self) -> str:
        return self.arn.split(":pipeline/", 1)[1].split("/", 1)[0]

    def _moto_execution(self):
        _, _, _, region, account, _ = self.arn.split(":", 5)
        backend = sagemaker_backends[account][region]
        return backend.pipelines[self.pipeline_name].pipeline_executions[self.arn]

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
            return record

    def record_job(self, description: dict) -> None:
        """Keep a processing/training job's description (the step's properties)."""
        arn = description.get("ProcessingJobArn") or description.get("TrainingJobArn")
        if arn:
            with self._lock:
                self.jobs[arn] = description

    def set_status(self, status: str, failure_reason: str | None = None) -> None:
        with self._lock:
            self.status = status
            self.failure_reason = failure_reason
            execution = self._moto_execution()
            execution.pipeline_execution_status = status
            execution.pipeline_execution_failure_reason = failure_reason
            execution.last_modified_time = _now()

    def list_steps(self, ascending: bool) -> list[dict]:
        with self._lock:
            records = sorted(self.steps.values(), key=lambda r: r.start_time)
            items = [r.to_api() for r in records]
        return items if ascending else items[::-1]


def moto_execution_request(arn: str) -> tuple[str, dict[str, str]]:
    """The definition and the parameter overrides moto recorded for an execution."""
    state = ExecutionState(arn)
    execution = state._moto_execution()
    overrides = {p["Name"]: p["Value"] for p in execution.pipeline_parameters or []}
    return execution.pipeline_definition_for_execution, overrides
