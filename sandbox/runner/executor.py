"""Execute one pipeline execution: the definition JSON exactly as `Pipeline.definition()`
returns it, plus the parameter overrides the execution was started with.

As SageMaker Pipelines does: a step starts once every step it depends on has ended, so
independent branches run side by side (up to the execution's ParallelismConfiguration and
the machine's cores); a step's RetryPolicies retry the failures they name; after a step
fails no new step starts, and the execution fails once the running ones end; a stop ends the
running jobs and starts nothing more. Processing and Training run as local jobs (jobs.py);
Condition/Fail/RegisterModel/Model are evaluated here. A definition with a step type the
sandbox cannot run fails at start, naming the step, before any step runs.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sandbox.executions import ExecutionState
from sandbox.runner import job_logs, jobs, transform, tuning, warm
from sandbox.runner import s3 as s3_transfer
from sandbox.runner.api_shapes import as_text, conform
from sandbox.runner.cache import CacheEntry, StepCache, cache_key, parse_expire_after
from sandbox.runner.cancellation import Cancellation
from sandbox.runner.expressions import Context, ExpressionError, evaluate_conditions, resolve
from sandbox.runner.graph import DefinitionError, StepNode, build_graph, run_order

logger = logging.getLogger(__name__)

TERMINAL = ("Succeeded", "Failed", "Stopped")
# A job here shares the machine with the sandbox, other jobs and whatever else runs, so its
# OpenMP/BLAS threads get half the cores (unless it sets its own). With one thread a core,
# a thread waiting at a barrier holds a core another one needs: on 2 shared cores,
# scikit-learn's boosted trees trained 3-4x slower with 2 spinning threads than with 1
# (10 k and 1 M rows), and no faster with 2 passive ones.
JOB_DEFAULTS = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))}


class StepFailed(Exception):
    """A step failed; the message is its FailureReason, `exception_type` the failure class
    a RetryPolicy may name (Step.SERVICE_FAULT, SageMaker.JOB_INTERNAL_ERROR...)."""

    def __init__(self, message: str, exception_type: str | None = None):
        super().__init__(message)
        self.exception_type = exception_type


class StepStopped(Exception):
    """A stop ended the step."""


JOB_KINDS = {
    "Processing": "ProcessingJob",
    "Training": "TrainingJob",
    "Transform": "TransformJob",
    "Tuning": "HyperParameterTuningJob",
}
ARN_KINDS = {
    "ProcessingJob": "processing-job",
    "TrainingJob": "training-job",
    "TransformJob": "transform-job",
    "HyperParameterTuningJob": "hyper-parameter-tuning-job",
}
# ListPipelineExecutionSteps' Metadata names a tuning job `TuningJob`.
METADATA_KEYS = {"HyperParameterTuningJob": "TuningJob"}
# The failures of AWS calls a step makes that StepRetryPolicy's exception types name.
THROTTLING_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException"}


def job_environment(environment: dict[str, str]) -> dict[str, str]:
    """What every job's process starts from: this process's environment and `environment`
    (the sandbox's endpoint and credentials), unbuffered output, JOB_DEFAULTS unless set."""
    merged = {**JOB_DEFAULTS, **os.environ, **environment, "PYTHONUNBUFFERED": "1"}
    merged.pop("AWS_PROFILE", None)
    return merged


def warm_up(environment: dict[str, str]) -> None:
    """Start the warm interpreter for jobs now, in the background: its imports then overlap
    with whatever comes before the first job (a render takes longer than they do)."""
    warm.shared(job_environment(environment))


def typed_parameters(declared: list[dict], overrides: dict[str, str]) -> dict:
    """Parameter values: defaults, overridden by the (string) values the execution got.

    Raises ValueError naming an unknown parameter, a value of the wrong type, or one
    outside the parameter's EnumValues (as StartPipelineExecution refuses them on AWS).
    """
    casts: dict[str, Callable[[str], object]] = {
        "String": str,
        "Integer": int,
        "Float": float,
        "Boolean": lambda v: {"true": True, "false": False}[str(v).lower()],
    }
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ValueError(f"unknown pipeline parameter(s): {', '.join(unknown)}")
    values = {}
    for name, parameter in by_name.items():
        raw = overrides.get(name, parameter.get("DefaultValue"))
        try:
            values[name] = casts[parameter["Type"]](raw) if raw is not None else None
        except (KeyError, ValueError):
            raise ValueError(f"parameter {name!r}: {raw!r} is not a {parameter['Type']}") from None
        allowed = parameter.get("EnumValues")
        if allowed and raw is not None and str(raw) not in allowed:
            raise ValueError(f"parameter {name!r}: {raw!r} is not one of {', '.join(allowed)}")
    return values


@dataclass
class RunPlan:
    """What a run takes from an earlier one instead of running it: RetryPipelineExecution
    keeps the steps that succeeded; a selective execution runs only `selected`, with the
    other steps' outputs from its source execution."""

    reused: dict[str, dict] = field(default_factory=dict)  # step -> ExecutionState.outputs
    branch_taken: dict[str, str] = field(default_factory=dict)
    selected: set[str] | None = None  # None: every step not reused


def selective_plan(definition: str, source: ExecutionState, selected: list[str]) -> RunPlan:
    """The plan of a selective execution (SelectiveExecutionConfig) of `definition` from
    `source`. Raises ValueError, as StartPipelineExecution refuses it, for an unknown step
    or a selected step whose inputs the source execution did not produce."""
    graph = build_graph(json.loads(definition))
    unknown = sorted(set(selected) - set(graph))
    if unknown:
        raise ValueError(f"SelectedSteps: no step named {', '.join(unknown)} in the pipeline")
    reused = {name: output for name, output in source.outputs.items() if name not in selected}
    for name in selected:
        missing = sorted(graph[name].upstream - set(selected) - set(reused))
        if missing:
            raise ValueError(
                f"step {name!r} needs the output of {', '.join(missing)}, which "
                f"{source.arn} did not produce: select it too"
            )
    return RunPlan(reused, dict(source.branch_taken), set(selected))


def retry_plan(state: ExecutionState) -> RunPlan:
    """RetryPipelineExecution: what succeeded stays; the rest runs again."""
    succeeded = {name for name, record in state.steps.items() if record.status == "Succeeded"}
    reused = {name: state.outputs[name] for name in succeeded if name in state.outputs}
    return RunPlan(reused, dict(state.branch_taken))


class PipelineExecutor:
    """Runs one execution to its end, recording every step in `state`."""

    def __init__(
        self,
        definition: str,
        overrides: dict[str, str],
        state: ExecutionState,
        clients: dict,
        home: Path,
        cache: StepCache,
        environment: dict[str, str],
        max_parallel_steps: int | None = None,
        plan: RunPlan | None = None,
    ):
        self.definition = json.loads(definition)
        self.overrides = overrides
        self.state = state
        self.s3 = clients["s3"]
        self.sagemaker = clients["sagemaker"]
        self.logs = clients["logs"]
        self.lambda_ = clients["lambda"]
        self.sqs = clients["sqs"]
        self.callbacks: dict[str, Callback] = {}  # Callback steps waiting, by token
        self.folder = home / "executions" / state.execution_id
        self.cache = cache
        self.environment = job_environment(environment)
        self.plan = plan or RunPlan()
        # Steps at once: the execution's ParallelismConfiguration, within the machine's cores.
        cores = os.cpu_count() or 1
        self.max_parallel = max(1, min(max_parallel_steps or cores, cores))
        self.cancellation = Cancellation()
        self._stop_reason: str | None = None
        self.handlers: dict[str, Callable[[StepNode, Context], dict]] = {
            "Processing": self._job_step,
            "Training": self._job_step,
            "Transform": self._job_step,
            "Tuning": self._job_step,
            "Condition": self._condition_step,
            "Fail": self._fail_step,
            "RegisterModel": self._register_step,
            "Model": self._model_step,
            "Lambda": self._lambda_step,
            "Callback": self._callback_step,
        }

    def log_path(self, step: str) -> Path:
        return self.folder / "logs" / f"{step}.log"

    def stop(self, failure_reason: str | None = None) -> None:
        """End the run: running jobs are stopped, no step starts. Without a reason it ends
        Stopped (StopPipelineExecution); with one, Failed with that reason (the sandbox
        shutting down)."""
        self._stop_reason = failure_reason
        if failure_reason is None:
            self.state.set_status("Stopping")
        self.cancellation.stop()

    def run(self) -> None:
        try:
            self._run()
        except Exception as err:  # the service thread must always end the execution
            logger.exception("sandbox runner crashed on %s", self.state.arn)
            reason = f"sandbox runner error: {err!r}"
            for record in list(self.state.steps.values()):
                if record.status == "Executing":
                    self.state.step(record.name, record.type, "Failed", failure_reason=reason)
            self.state.set_status("Failed", reason)

    def _run(self) -> None:
        try:
            graph = build_graph(self.definition)
            parameters = typed_parameters(self.definition.get("Parameters", []), self.overrides)
        except (DefinitionError, ValueError) as err:
            self.state.set_status("Failed", str(err))
            return
        unsupported = [node for node in graph.values() if node.type not in self.handlers]
        if unsupported:
            self.state.set_status(
                "Failed",
                "; ".join(f"step {n.name!r} has type {n.type!r}" for n in unsupported)
                + ", which the sandbox does not run (it runs: "
                + ", ".join(self.handlers)
                + "); no step was started",
            )
            return
        started = datetime.now(UTC)
        context = Context(
            parameters=parameters,
            execution={
                "PipelineExecutionId": self.state.execution_id,
                "PipelineExecutionArn": self.state.arn,
                "PipelineName": self.state.pipeline_name,
                "PipelineArn": self.state.arn.split("/execution/")[0],
                "StartDateTime": started.isoformat(),
                "CurrentDateTime": started.isoformat(),
            },
            read_s3_json=lambda uri: s3_transfer.read_json(self.s3, uri),
        )
        for name, output in self.plan.reused.items():
            context.properties[name] = output["properties"]
            context.property_files[name] = output["property_files"]
        self.state.branch_taken.update(self.plan.branch_taken)
        failure = self._schedule(graph, context)
        if failure:
            self.state.set_status("Failed", f"Step failure: {failure[0]}: {failure[1]}")
        elif self.cancellation.requested:
            if self._stop_reason:
                self.state.set_status("Failed", self._stop_reason)
            else:
                self.state.set_status("Stopped")
        else:
            self.state.set_status("Succeeded")

    def _schedule(self, graph: dict[str, StepNode], context: Context) -> tuple | None:
        """Run the steps, each once the steps it depends on have ended; returns the first
        failure (step name, error) or None."""
        reused = set(self.plan.reused)
        selected = self.plan.selected
        pending = [
            name
            for name in run_order(graph)
            if name not in reused and (selected is None or name in selected)
        ]
        ended = set(reused)  # steps whose outputs the steps after them can read
        not_run = set(graph) - reused - set(pending)
        failure: tuple | None = None
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(self.max_parallel, f"steps-{self.state.execution_id}") as pool:
            while True:
                if failure is None and not self.cancellation.requested:
                    self._start_ready(graph, context, pending, ended, not_run, running, pool)
                if not running:
                    return failure
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    node = graph[running.pop(future)]
                    try:
                        future.result()
                        ended.add(node.name)
                    except StepStopped:
                        self.state.step(node.name, node.type, "Stopped")
                    except StepFailed as err:
                        self.state.step(node.name, node.type, "Failed", failure_reason=str(err))
                        failure = failure or (node.name, err)

    def _start_ready(self, graph, context, pending, ended, not_run, running, pool) -> None:
        """Start every pending step whose upstream steps have ended, while slots are free;
        a step in a branch not taken (or after one) is marked not run instead."""
        progress = True
        while progress:
            progress = False
            for name in list(pending):
                node = graph[name]
                if not node.upstream <= ended | not_run:
                    continue
                if self._skipped(node, not_run):
                    pending.remove(name)
                    not_run.add(name)
                    progress = True
                elif len(running) < self.max_parallel:
                    pending.remove(name)
                    running[pool.submit(self._attempts, node, context)] = name
                    progress = True

    def _skipped(self, node: StepNode, not_run: set[str]) -> bool:
        """A step in the branch its condition did not take, or after one, does not run."""
        if node.branch and self.state.branch_taken.get(node.branch[0]) != node.branch[1]:
            return True
        return bool(node.upstream & not_run)

    def _attempts(self, node: StepNode, context: Context) -> None:
        """Run a step, and again as long as its RetryPolicies match the failure."""
        earlier = self.state.steps.get(node.name)
        attempt = earlier.attempt_count + 1 if earlier else 1  # a retried execution counts on
        first_attempt = time.monotonic()
        retries = 0
        while True:
            try:
                return self._run_step(node, context, attempt)
            except StepFailed as err:
                policy = _matching_policy(node.definition.get("RetryPolicies", []), err)
                if policy is None:
                    raise
                delay = (
                    float(policy.get("IntervalSeconds", 1))
                    * float(policy.get("BackoffRate", 2.0)) ** retries
                )
                limit = policy.get("MaxAttempts")
                expire = policy.get("ExpireAfterMin")
                if limit is not None and retries >= int(limit):
                    raise
                elapsed = time.monotonic() - first_attempt + delay
                if expire is not None and elapsed > float(expire) * 60:
                    raise
                logger.info("step %s failed (%s); retrying in %.1f s", node.name, err, delay)
                if self.cancellation.wait(delay):
                    raise StepStopped() from None
                retries += 1
                attempt += 1

    def _run_step(self, node: StepNode, context: Context, attempt: int) -> None:
        if self.cancellation.requested:
            raise StepStopped()
        self.state.step(  # a new attempt: what an earlier one recorded goes
            node.name,
            node.type,
            "Executing",
            attempt_count=attempt,
            start_time=datetime.now(UTC),
            end_time=None,
            failure_reason=None,
            metadata={},
            cache_source_arn=None,
        )
        try:
            metadata = self.handlers[node.type](node, context)
        except ExpressionError as err:
            raise StepFailed(str(err)) from None
        except ClientError as err:
            raise StepFailed(
                err.response.get("Error", {}).get("Message", str(err)), _client_error_type(err)
            ) from None
        self.state.step(node.name, node.type, "Succeeded", metadata=metadata or {})
        self.state.record_output(
            node.name,
            context.properties.get(node.name, {}),
            context.property_files.get(node.name, {}),
        )

    def _job_step(self, node: StepNode, context: Context) -> dict:
        arguments = resolve(node.definition["Arguments"], context)
        job_kind = JOB_KINDS[node.type]
        metadata_key = METADATA_KEYS.get(job_kind, job_kind)
        cache_config = node.definition.get("CacheConfig") or {}
        key = None
        listings: dict[str, list[dict]] = {}  # kept for the job's downloads: one listing each

        def digest(uri: str) -> str:
            listings[uri] = s3_transfer.list_objects(self.s3, uri)
            return s3_transfer.content_digest(uri, listings[uri])

        if cache_config.get("Enabled"):
            key = cache_key(node.type, arguments, digest)
            expire = parse_expire_after(cache_config.get("ExpireAfter", "P30D"))
            hit = self.cache.lookup(self.state.pipeline_name, node.name, key, expire)
            if hit:
                context.properties[node.name] = hit.properties
                context.property_files[node.name] = hit.property_files
                self.state.step(
                    node.name, node.type, "Executing", cache_source_arn=hit.execution_arn
                )
                return {metadata_key: {"Arn": hit.properties[f"{job_kind}Arn"]}}

        # As SageMaker names a pipeline's jobs: a new job (and name) for every attempt.
        suffix = secrets.token_hex(5)
        job_name = f"pipelines-{self.state.execution_id}-{node.name}"[:52] + f"-{suffix}"
        arn_kind = ARN_KINDS[job_kind]
        job = jobs.Job(
            name=job_name,
            arn=self.state.arn.split(":pipeline/")[0] + f":{arn_kind}/{job_name.lower()}",
            request=arguments,
            folder=self.folder / "jobs" / node.name,
            log_path=self.log_path(node.name),
            s3=self.s3,
            base_environment=self.environment,
            listings=listings,
            cancellation=self.cancellation,
        )
        # On AWS the step names its job as soon as the job exists.
        self.state.step(
            node.name, node.type, "Executing", metadata={metadata_key: {"Arn": job.arn}}
        )
        properties = self._run_job(job, job_kind, node.type)
        self.state.step(node.name, node.type, "Executing", process=job.stats)
        property_files = self._read_property_files(node, properties)
        context.properties[node.name] = properties
        context.property_files[node.name] = property_files
        if key:
            self.cache.store(
                self.state.pipeline_name,
                node.name,
                key,
                CacheEntry(properties, property_files, self.state.arn, datetime.now(UTC)),
            )
        return {metadata_key: {"Arn": job.arn}}

    def _runner(self, step_type: str) -> Callable[[jobs.Job], dict]:
        """The function that runs a step type's job and returns its properties."""
        if step_type == "Transform":
            return lambda job: transform.run_transform(job, self.sagemaker)
        if step_type == "Tuning":
            # Its training jobs are listed and described like any other.
            return lambda job: tuning.run_tuning(
                job,
                on_trial=lambda trial: self.state.record_job(
                    trial["TrainingJobArn"], conform("DescribeTrainingJob", trial)
                ),
            )
        return jobs.run_processing if step_type == "Processing" else jobs.run_training

    def _run_job(self, job: jobs.Job, job_kind: str, step_type: str) -> dict:
        """Run the job, keeping its Describe*Job answer current (InProgress, then how it
        ended) and its log in CloudWatch Logs; returns its properties."""
        started = time.time()
        times = JOB_TIMES[job_kind]
        description = {
            **job.request,
            f"{job_kind}Name": job.name,
            f"{job_kind}Arn": job.arn,
            f"{job_kind}Status": "InProgress",
            "CreationTime": started,
            times[0]: started,
            "LastModifiedTime": started,
        }
        self.state.record_job(job.arn, conform(f"Describe{job_kind}", description))
        ending: dict = {}
        try:
            properties = self._runner(step_type)(job)
            ending = {**properties, f"{job_kind}Status": "Completed"}
            return conform(f"Describe{job_kind}", {**description, **ending, times[1]: time.time()})
        except jobs.JobStopped as err:
            ending = {f"{job_kind}Status": "Stopped", "FailureReason": str(err)}
            raise StepStopped() from None
        except (jobs.JobFailed, s3_transfer.S3Error) as err:
            ending = {f"{job_kind}Status": "Failed", "FailureReason": str(err)}
            raise StepFailed(str(err), getattr(err, "exception_type", None)) from None
        finally:
            ended = time.time()
            final = {**description, **ending, times[1]: ended, "LastModifiedTime": ended}
            if ending:
                self.state.record_job(job.arn, conform(f"Describe{job_kind}", final))
            self._publish_log(job_kind, job, started)

    def _publish_log(self, job_kind: str, job: jobs.Job, started: float) -> None:
        try:
            job_logs.publish(self.logs, job_kind, job.name, job.log_path, started)
        except ClientError:  # the log file stays; the step's outcome does not depend on it
            logger.warning("could not send %s's log to CloudWatch Logs", job.name, exc_info=True)

    def _read_property_files(self, node: StepNode, properties: dict) -> dict:
        files = {}
        outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for spec in node.definition.get("PropertyFiles", []):
            output = next((o for o in outputs if o["OutputName"] == spec["OutputName"]), None)
            if output is None:
                raise StepFailed(
                    f"property file {spec['PropertyFileName']!r} names unknown "
                    f"output {spec['OutputName']!r}"
                )
            uri = f"{output['S3Output']['S3Uri'].rstrip('/')}/{spec['FilePath']}"
            try:
                files[spec["PropertyFileName"]] = s3_transfer.read_json(self.s3, uri)
            except (ClientError, json.JSONDecodeError) as err:
                raise StepFailed(
                    f"property file {spec['PropertyFileName']!r} at {uri}: {err}"
                ) from None
        return files

    def _condition_step(self, node: StepNode, context: Context) -> dict:
        outcome = evaluate_conditions(node.definition["Arguments"]["Conditions"], context)
        self.state.branch_taken[node.name] = "IfSteps" if outcome else "ElseSteps"
        context.properties[node.name] = {"Outcome": outcome}
        return {"Condition": {"Outcome": str(outcome)}}

    def _fail_step(self, node: StepNode, context: Context) -> dict:
        message = str(resolve(node.definition["Arguments"].get("ErrorMessage", ""), context))
        self.state.step(
            node.name, node.type, "Executing", metadata={"Fail": {"ErrorMessage": message}}
        )
        raise StepFailed(message)

    def _lambda_step(self, node: StepNode, context: Context) -> dict:
        """Invoke the function with the step's arguments; its answer's keys are the step's
        OutputParameters (the sandbox's Lambda service runs the handler for real)."""
        function = node.definition["FunctionArn"]
        payload = resolve(node.definition.get("Arguments", {}), context)
        answer = self.lambda_.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        body = answer["Payload"].read()
        if answer.get("FunctionError"):
            error = _json_or_text(body)
            message = error.get("errorMessage", body) if isinstance(error, dict) else body
            raise StepFailed(f"Lambda function {function} failed: {message}")
        result = _json_or_text(body)
        outputs = _output_parameters(node, result if isinstance(result, dict) else {}, "Lambda")
        context.properties[node.name] = {"OutputParameters": outputs}
        listed = [{"Name": k, "Value": as_text(v)} for k, v in outputs.items()]
        return {"Lambda": {"Arn": function, "OutputParameters": listed}}

    def _callback_step(self, node: StepNode, context: Context) -> dict:
        """Send the token and arguments to the step's queue, then wait for
        SendPipelineExecutionStepSuccess/Failure with that token (or a stop)."""
        queue = node.definition["SqsQueueUrl"]
        token = secrets.token_hex(16)
        callback = self.callbacks[token] = Callback()
        metadata = {"Callback": {"CallbackToken": token, "SqsQueueUrl": queue}}
        self.state.step(node.name, node.type, "Executing", metadata=metadata)
        message = {
            "token": token,
            "pipelineExecutionArn": self.state.arn,
            "arguments": resolve(node.definition.get("Arguments", {}), context),
            "status": "Executing",
        }
        try:
            self.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message))
            while not callback.answered.wait(0.2):
                if self.cancellation.requested:
                    raise StepStopped()
        finally:
            del self.callbacks[token]
        if callback.failure_reason is not None:
            raise StepFailed(callback.failure_reason)
        given = {p["Name"]: p["Value"] for p in callback.output_parameters}
        outputs = _output_parameters(node, given, "callback")
        context.properties[node.name] = {"OutputParameters": outputs}
        listed = [{"Name": k, "Value": as_text(v)} for k, v in outputs.items()]
        return {"Callback": {**metadata["Callback"], "OutputParameters": listed}}

    def _register_step(self, node: StepNode, context: Context) -> dict:
        request = resolve(node.definition["Arguments"], context)
        group = request.get("ModelPackageGroupName")
        if group:
            # As the RegisterModel step does on AWS: the group is created on first use.
            try:
                self.sagemaker.describe_model_package_group(ModelPackageGroupName=group)
            except ClientError:
                self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        arn = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
        described = self.sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        context.properties[node.name] = described
        return {"RegisterModel": {"Arn": arn}}

    def _model_step(self, node: StepNode, context: Context) -> dict:
        request = resolve(node.definition["Arguments"], context)
        request.setdefault("ModelName", f"pipelines-{self.state.execution_id}-{node.name}"[:63])
        arn = self.sagemaker.create_model(**request)["ModelArn"]
        described = self.sagemaker.describe_model(ModelName=request["ModelName"])
        described.pop("ResponseMetadata", None)
        context.properties[node.name] = described
        return {"Model": {"Arn": arn}}


@dataclass
class Callback:
    """A Callback step's wait for its answer."""

    answered: threading.Event = field(default_factory=threading.Event)
    output_parameters: list[dict] = field(default_factory=list)
    failure_reason: str | None = None

    def succeed(self, output_parameters: list[dict]) -> None:
        self.output_parameters = output_parameters
        self.answered.set()

    def fail(self, reason: str) -> None:
        self.failure_reason = reason
        self.answered.set()


_OUTPUT_TYPES: dict[str, Callable[[Any], Any]] = {
    "String": str,
    "Integer": int,
    "Float": float,
    "Boolean": lambda v: v if isinstance(v, bool) else str(v).lower() == "true",
}


def _output_parameters(node: StepNode, given: dict, source: str) -> dict:
    """The step's declared OutputParameters, typed, from what the function or the callback
    gave; a declared one missing, or not of its type, fails the step as on AWS."""
    outputs = {}
    for declared in node.definition.get("OutputParameters", []):
        name, kind = declared["OutputName"], declared.get("OutputType", "String")
        if name not in given:
            raise StepFailed(f"output parameter {name!r} is missing from the {source} output")
        try:
            outputs[name] = _OUTPUT_TYPES[kind](given[name])
        except (KeyError, TypeError, ValueError):
            raise StepFailed(f"output parameter {name!r}: {given[name]!r} is not {kind}") from None
    return outputs


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except json.JSONDecodeError:
        return body.decode(errors="replace")


# Each job kind's start and end time fields in its Describe*Job answer.
JOB_TIMES = {
    "ProcessingJob": ("ProcessingStartTime", "ProcessingEndTime"),
    "TrainingJob": ("TrainingStartTime", "TrainingEndTime"),
    "TransformJob": ("TransformStartTime", "TransformEndTime"),
    "HyperParameterTuningJob": (
        "HyperParameterTuningJobCreationTime",
        "HyperParameterTuningEndTime",
    ),
}


def _matching_policy(policies: list[dict], failure: StepFailed) -> dict | None:
    """The first of a step's RetryPolicies whose ExceptionType names the failure's class."""
    if failure.exception_type is None:
        return None
    return next((p for p in policies if failure.exception_type in p.get("ExceptionType", [])), None)


def _client_error_type(err: ClientError) -> str | None:
    """How StepRetryPolicy classes a failed AWS call: throttling, a service fault, or
    neither (a client error, which is not retried)."""
    if err.response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return "Step.THROTTLING"
    if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return "Step.SERVICE_FAULT"
    return None
