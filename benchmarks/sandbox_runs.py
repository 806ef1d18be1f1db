"""Our runner: the churn definition, rendered once by SDK v3, executed by the sandbox.

Only start-execution-to-finish is timed: the render (SDK import, code upload) happens once
per session, as in a sandbox that outlives one command. A cold run uses a pipeline name the
sandbox has not seen (its step cache is per pipeline); a cached run repeats a name.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import Sandbox, executions
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION

MODULE = "pipelines.churn.pipeline"


@dataclass(frozen=True)
class StepRun:
    """One step of a run: its status, whether the cache answered, its job process's cost."""

    name: str
    status: str
    cached: bool
    process_seconds: float | None
    peak_rss_bytes: int | None


@dataclass(frozen=True)
class PipelineRun:
    """One execution: its wall time from the start call to its end, and its steps."""

    pipeline: str
    status: str
    seconds: float
    steps: list[StepRun]

    @property
    def process_seconds(self) -> float:
        """The step scripts' own run time: the sum of the job processes' wall times."""
        return sum(s.process_seconds or 0.0 for s in self.steps)


def render_definition(sandbox: Sandbox) -> str:
    """The definition JSON as `run-pipeline` renders it against the sandbox; the SDK
    uploads the step code into the sandbox's S3 on the way."""
    from pipelines._utils import get_pipeline_driver

    kwargs = {"region": REGION, "role": PIPELINE_ROLE_ARN, "default_bucket": DEFAULT_BUCKET}
    return get_pipeline_driver(MODULE, kwargs).definition()


class SandboxWorkload:
    """A sandbox in this process with the definition rendered into it; `run` executes it."""

    def __init__(self, home: Path):
        self.home = home
        self._names = itertools.count(1)
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> SandboxWorkload:
        self.sandbox = self._exit.enter_context(Sandbox(home=self.home))
        self._exit.callback(_restore_environment, self.sandbox.export())
        self.s3 = self.sandbox.client("s3")
        self.sagemaker = self.sandbox.client("sagemaker")
        self.s3.create_bucket(Bucket=DEFAULT_BUCKET)
        self.definition = render_definition(self.sandbox)
        return self

    def __exit__(self, *exc_info) -> None:
        self._exit.close()

    def upload_data(self, csv: Path, name: str) -> str:
        """Put a generated CSV in the sandbox under `name`; returns the S3 URI to run on."""
        key = f"bench/data/{name}/churn.csv"
        self.s3.upload_file(str(csv), DEFAULT_BUCKET, key)
        return f"s3://{DEFAULT_BUCKET}/{key}"

    def new_pipeline(self) -> str:
        """A pipeline no run has used: its steps have no cache entries."""
        name = f"bench-{next(self._names)}"
        self.sagemaker.create_pipeline(
            PipelineName=name, PipelineDefinition=self.definition, RoleArn=PIPELINE_ROLE_ARN
        )
        return name

    def run(self, pipeline: str, input_uri: str) -> PipelineRun:
        """Execute `pipeline` on `input_uri` and wait for its end; returns what it cost."""
        started = time.perf_counter()
        arn = self.sagemaker.start_pipeline_execution(
            PipelineName=pipeline,
            PipelineParameters=[{"Name": "InputDataUri", "Value": input_uri}],
        )["PipelineExecutionArn"]
        self.sandbox.service.wait_for_executions()
        seconds = time.perf_counter() - started
        state = executions.find(arn)
        steps = [
            StepRun(
                name=r.name,
                status=r.status,
                cached=r.cache_source_arn is not None,
                process_seconds=r.process.seconds if r.process else None,
                peak_rss_bytes=r.process.peak_rss_bytes if r.process else None,
            )
            for r in sorted(state.steps.values(), key=lambda r: r.start_time)
        ]
        return PipelineRun(pipeline, state.status, seconds, steps)


def _restore_environment(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
