"""Execute one pipeline execution: the definition JSON exactly as `Pipeline.definition()`
returns it, plus the parameter overrides the execution was started with.

Steps run in topological order; Processing and Training run as local jobs (jobs.py),
Condition/Fail/RegisterModel/Model are evaluated here. Any other step type fails fast.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from sandbox.executions import ExecutionState
from sandbox.runner import jobs, warm
from sandbox.runner import s3 as s3_transfer
from sandbox.runner.cache import CacheEntry, StepCache, cache_key, parse_expire_after
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
    """A step failed; the message is its FailureReason."""


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
    ):
        self.definition = json.loads(definition)
        self.overrides = overrides
        self.state = state
        self.s3 = clients["s3"]
        self.sagemaker = clients["sagemaker"]
        self.folder = home / "executions" / state.execution_id
        self.cache = cache
        self.environment = job_environment(environment)
        self.branch_taken: dict[str, str] = {}

    def log_path(self, step: str) -> Path:
        return self.folder / "logs" / f"{step}.log"

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
        not_run: set[str] = set()
        for name in run_order(graph):
            node = graph[name]
            if self._skipped(node, not_run):
                not_run.add(name)
                continue
            try:
                self._run_step(node, context)
            except StepFailed as err:
                self.state.step(name, node.type, "Failed", failure_reason=str(err))
                self.state.set_status("Failed", f"Step failure: {name}: {err}")
                return
        self.state.set_status("Succeeded")

    def _skipped(self, node: StepNode, not_run: set[str]) -> bool:
        """A step in the branch its condition did not take, or after one, does not run."""
        if node.branch and self.branch_taken.get(node.branch[0]) != node.branch[1]:
            return True
        return bool(node.upstream & not_run)

    def _run_step(self, node: StepNode, context: Context) -> None:
        handlers = {
            "Processing": self._job_step,
            "Training": self._job_step,
            "Condition": self._condition_step,
            "Fail": self._fail_step,
            "RegisterModel": self._register_step,
            "Model": self._model_step,
        }
        if node.type not in handlers:
            raise StepFailed(
                f"step {node.name!r} has type {node.type!r}, which the sandbox "
                "does not run (supported: " + ", ".join(handlers) + ")"
            )
        self.state.step(node.name, node.type, "Executing")
        try:
            metadata = handlers[node.type](node, context)
            if node.type in ("Processing", "Training"):
                self.state.record_job(context.properties[node.name])
        except ExpressionError as err:
            raise StepFailed(str(err)) from None
        except ClientError as err:
            raise StepFailed(err.response.get("Error", {}).get("Message", str(err))) from None
        self.state.step(node.name, node.type, "Succeeded", metadata=metadata or {})

    def _job_step(self, node: StepNode, context: Context) -> dict:
        arguments = resolve(node.definition["Arguments"], context)
        job_kind = "ProcessingJob" if node.type == "Processing" else "TrainingJob"
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
                return {job_kind: {"Arn": hit.properties[f"{job_kind}Arn"]}}

        job_name = f"pipelines-{self.state.execution_id}-{node.name}"[:63]
        arn_kind = "processing-job" if node.type == "Processing" else "training-job"
        job = jobs.Job(
            name=job_name,
            arn=self.state.arn.split(":pipeline/")[0] + f":{arn_kind}/{job_name.lower()}",
            request=arguments,
            folder=self.folder / "jobs" / node.name,
            log_path=self.log_path(node.name),
            s3=self.s3,
            base_environment=self.environment,
            listings=listings,
        )
        try:
            if node.type == "Processing":
                properties = jobs.run_processing(job)
            else:
                properties = jobs.run_training(job)
        except (jobs.JobFailed, s3_transfer.S3Error) as err:
            raise StepFailed(str(err)) from None
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
        return {job_kind: {"Arn": job.arn}}

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
        self.branch_taken[node.name] = "IfSteps" if outcome else "ElseSteps"
        context.properties[node.name] = {"Outcome": outcome}
        return {"Condition": {"Outcome": str(outcome)}}

    def _fail_step(self, node: StepNode, context: Context) -> dict:
        message = resolve(node.definition["Arguments"].get("ErrorMessage", ""), context)
        raise StepFailed(str(message))

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
