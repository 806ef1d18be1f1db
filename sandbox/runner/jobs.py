"""Processing and Training jobs as subprocesses of this interpreter, honouring SageMaker's
container contracts without the host's /opt/ml.

Each job gets a folder that stands for the container's filesystem: `/opt/ml/...` in the
job's entrypoint, arguments and environment becomes `<job folder>/opt/ml/...`. Inputs are
downloaded there from sandbox S3 before the script runs (an object whose key would lead
out of its input's folder fails the job first); outputs are uploaded after it. The job's
process sees `<job folder>/opt/ml` as /opt/ml too, for the paths its script names itself
(isolation.py: a mount namespace of its own). Where that is unavailable, the job runs with
the host's /opt/ml in view, its log says so, and it fails if the host's /opt/ml changed
while it ran.
The container image is not run: the script runs on the project's own interpreter, whose
scikit-learn matches the image's (pinned in pyproject.toml); a Python script runs as a fork
of a warm interpreter that has the image's libraries imported (warm.py), anything else as a
fresh process. Either way the log ends with the process's wall time and peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sandbox.runner import s3 as s3_transfer
from sandbox.runner import warm
from sandbox.runner.cancellation import Cancellation, terminate_group
from sandbox.safe_tar import safe_extract

CONTAINER_ROOT = "/opt/ml/"
# Hyperparameters for the framework container itself (sagemaker_program, ...): the training
# toolkit neither passes them to the script nor lists them in SM_HPS.
RESERVED_HYPERPARAMETER_PREFIX = "sagemaker_"
HOST_ML = Path("/opt/ml")  # what a job without isolation must leave as it found it
LAUNCHER = Path(__file__).with_name("launcher.py")
logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """The job's process failed; the message is its failure reason. `exception_type` is
    how SageMaker classes the failure for a step's RetryPolicy, when it is one a policy can
    name: a process killed by a signal it did not ask for is the sandbox's
    "SageMaker.JOB_INTERNAL_ERROR"; the script's own error (an AlgorithmError on AWS) is
    not retried."""

    def __init__(self, message: str, exception_type: str | None = None):
        super().__init__(message)
        self.exception_type = exception_type


class JobStopped(Exception):
    """The job was stopped (StopPipelineExecution, or the sandbox shutting down)."""


@dataclass(frozen=True)
class ProcessStats:
    """What a job's process cost: wall time from start to exit, and peak resident memory
    (the benchmarks compare these with the whole run to find the orchestration overhead)."""

    seconds: float
    peak_rss_bytes: int

    def describe(self) -> str:
        return f"{self.seconds:.2f} s, peak RSS {self.peak_rss_bytes / 2**20:.0f} MiB"


@dataclass
class Job:
    """One job: its name and ARN, resolved request, folder, log file and S3 client; after
    it ran, what its process cost."""

    name: str
    arn: str
    request: dict
    folder: Path
    log_path: Path
    s3: object
    base_environment: dict[str, str]
    # Input listings the runner made already (for the cache key): S3 URI -> objects.
    listings: dict[str, list[dict]] = field(default_factory=dict)
    stats: ProcessStats | None = None
    cancellation: Cancellation | None = None  # a stop ends the job's process

    def download(self, uri: str, destination: Path) -> None:
        s3_transfer.download_prefix(self.s3, uri, destination, self.listings.get(uri))

    def host_path(self, container_path: str) -> Path:
        """Where a container path is in the job folder; raises JobFailed for one that
        would lead out of it (`..`)."""
        path = self.folder / container_path.lstrip("/")
        if not os.path.normpath(path).startswith(os.path.normpath(self.folder) + os.sep):
            raise JobFailed(f"{container_path!r} leads outside the job's container filesystem")
        return path

    def rewrite(self, value: str) -> str:
        """A container path (or an argument embedding one) as a path in the job folder."""
        return value.replace(CONTAINER_ROOT, f"{self.folder}{CONTAINER_ROOT}")


def _python(command: list[str]) -> list[str]:
    """The container's `python3` is this interpreter (it has the project's libraries)."""
    if command and Path(command[0]).name in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return command


class _FreshProcess:
    """A job in a fresh interpreter, started through `launcher.py`, which reports its peak
    RSS on a pipe; the same two members as warm.WarmJob."""

    def __init__(
        self, command: list[str], env: dict[str, str], cwd: Path, stdout: IO, root: Path | None
    ):
        report_read, report_write = os.pipe()
        self.report = os.fdopen(report_read, "rb")
        launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(report_write), str(root or "")]
        try:
            self.process = subprocess.Popen(
                [*launcher, *command],
                env=env,
                cwd=cwd,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                pass_fds=(report_write,),
                process_group=0,  # a group of its own, which a stop ends whole
            )
        except OSError:
            self.report.close()
            raise
        finally:
            os.close(report_write)
        self.stderr = self.process.stderr
        self._finished = threading.Event()

    def terminate(self, grace: float) -> None:
        if not self._finished.is_set():
            terminate_group(self.process.pid, grace, self._finished)

    def finish(self) -> warm.Ending:
        code = self.process.wait()
        self._finished.set()
        with self.report:  # launcher.py's three lines
            lines = self.report.read().decode().split("\n")
        peak, setup_ms, isolation_off = [*lines, "", ""][:3]
        return warm.Ending(
            code, int(peak or 0), isolation_off, float(setup_ms) if setup_ms else None
        )


def _start(command: list[str], env: dict[str, str], cwd: Path, stdout: IO, root: Path | None):
    """The job as a fork of the warm interpreter when it can be, else a fresh process."""
    argv = warm.script_arguments(command, cwd)
    if argv:
        try:
            return warm.shared(env).start(argv, env, cwd, stdout, root)
        except OSError:
            logger.warning("warm interpreter unavailable; starting a fresh one", exc_info=True)
    return _FreshProcess(command, env, cwd, stdout, root)


def _host_ml_state() -> list[tuple] | None:
    """What the host's /opt/ml holds (names, types, sizes, modification times); None when
    it does not exist. Compared before and after a job that ran without isolation."""
    if not os.path.lexists(HOST_ML):
        return None
    state = []
    for folder, folders, files in os.walk(HOST_ML, onerror=lambda err: state.append(str(err))):
        for path in [folder, *(os.path.join(folder, name) for name in folders + files)]:
            try:
                info = os.lstat(path)
                state.append((path, info.st_mode, info.st_size, info.st_mtime_ns))
            except OSError as err:
                state.append((path, str(err)))
    return sorted(state, key=str)


def _isolation_note(ending: warm.Ending, root: Path) -> str:
    if ending.isolation_off:
        return (
            f"sandbox: job isolation is off ({ending.isolation_off}): the job saw the "
            f"host's {HOST_ML}, and fails if that changed\n"
        )
    if ending.isolation_ms is not None:
        return (
            f"sandbox: /opt/ml was {root / 'opt' / 'ml'} (own mount namespace, set up in "
            f"{ending.isolation_ms:.1f} ms)\n"
        )
    return ""


def run_logged(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    root: Path | None = None,
    cancellation: Cancellation | None = None,
) -> ProcessStats:
    """Run `command`, sending stdout and stderr to `log_path`, and end the log with what
    the process cost. Returns that cost. With `root` (the job folder), the process sees
    `root`/opt/ml as /opt/ml (isolation.py). A stop through `cancellation` ends it.

    Raises JobFailed with the last line of stderr when it exits nonzero, and when it ran
    without isolation (unavailable here) and the host's /opt/ml changed meanwhile;
    JobStopped when a stop ended it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if root is not None:
        (root / "opt" / "ml").mkdir(parents=True, exist_ok=True)
        host_before = _host_ml_state()
    last_line = ""
    # Appended to: what the runner noted before the process (e.g. requirements not
    # installed) stays in the log.
    with log_path.open("a") as log:
        log.write(f"$ {shlex.join(command)}\n")
        log.flush()
        started = time.perf_counter()
        try:
            process = _start(command, env, cwd, log, root)
        except OSError as err:
            raise JobFailed(f"cannot start {command[0]!r}: {err.strerror}") from None
        with cancellation.watching(process) if cancellation else contextlib.nullcontext():
            for line in process.stderr:
                log.write(line)
                if line.strip():
                    last_line = line.strip()
            ending = process.finish()
        code = ending.exit_code
        stats = ProcessStats(time.perf_counter() - started, ending.peak_rss_bytes)
        if root is not None:
            log.write(_isolation_note(ending, root))
        log.write(f"sandbox: process exited with code {code} after {stats.describe()}\n")
    if root is not None and ending.isolation_off and _host_ml_state() != host_before:
        raise JobFailed(
            f"the job changed the host's {HOST_ML}, which jobs must not touch; it ran "
            f"without isolation ({ending.isolation_off}): use the paths in its arguments "
            "and environment instead"
        )
    if code != 0 and cancellation and cancellation.requested:
        raise JobStopped(f"stopped after {stats.seconds:.1f} s")
    if code is None or code > 128:
        signal_number = "" if code is None else f" (signal {code - 128})"
        raise JobFailed(
            last_line or f"process was killed before it could exit{signal_number}",
            "SageMaker.JOB_INTERNAL_ERROR",
        )
    if code != 0:
        raise JobFailed(last_line or f"process exited with code {code}")
    return stats


def run_processing(job: Job) -> dict:
    """Run a CreateProcessingJob request; returns DescribeProcessingJob-shaped properties."""
    request = job.request
    for item in request.get("ProcessingInputs", []):
        if "S3Input" not in item:
            raise JobFailed(f"input {item.get('InputName')!r}: only S3Input is supported locally")
        s3_input = item["S3Input"]
        job.download(s3_input["S3Uri"], job.host_path(s3_input["LocalPath"]))
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        job.host_path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    app = request["AppSpecification"]
    command = _python(
        [
            job.rewrite(a)
            for a in app.get("ContainerEntrypoint", []) + app.get("ContainerArguments", [])
        ]
    )
    env = {
        **job.base_environment,
        **{k: job.rewrite(str(v)) for k, v in request.get("Environment", {}).items()},
    }
    job.folder.mkdir(parents=True, exist_ok=True)
    job.stats = run_logged(
        command, env, job.folder, job.log_path, root=job.folder, cancellation=job.cancellation
    )

    for item in outputs:
        s3_output = item["S3Output"]
        s3_transfer.upload_directory(
            job.s3, job.host_path(s3_output["LocalPath"]), s3_output["S3Uri"]
        )
    return {
        **request,
        "ProcessingJobName": job.name,
        "ProcessingJobArn": job.arn,
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "",
    }


def _hyperparameter_value(value: str):
    """As SDK v3's driver does: JSON-decode when possible, else keep the string."""
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return value


def _cli_arguments(hyperparameters: dict) -> list[str]:
    """`--name value` pairs, serialised as the SDK v3 basic script driver does."""
    arguments = []
    for name, raw in hyperparameters.items():
        value = _hyperparameter_value(raw)
        arguments += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
    return arguments


def _training_environment(job: Job, channels: list[str], source: dict) -> dict[str, str]:
    """The SM_* variables SDK v3's environment.py sets, with paths in the job folder."""
    hyperparameters = {
        k: _hyperparameter_value(v)
        for k, v in job.request.get("HyperParameters", {}).items()
        if not k.startswith(RESERVED_HYPERPARAMETER_PREFIX)
    }
    data_dir = job.host_path("/opt/ml/input/data")
    env = {
        "SM_MODEL_DIR": str(job.host_path("/opt/ml/model")),
        "SM_INPUT_DIR": str(job.host_path("/opt/ml/input")),
        "SM_INPUT_DATA_DIR": str(data_dir),
        "SM_INPUT_CONFIG_DIR": str(job.host_path("/opt/ml/input/config")),
        "SM_OUTPUT_DIR": str(job.host_path("/opt/ml/output")),
        "SM_OUTPUT_DATA_DIR": str(job.host_path("/opt/ml/output/data")),
        "SM_OUTPUT_FAILURE": str(job.host_path("/opt/ml/output/failure")),
        "SM_SOURCE_DIR": str(data_dir / "code"),
        "SM_ENTRY_SCRIPT": source.get("entry_script") or "",
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_HOST_COUNT": "1",
        "SM_CURRENT_HOST_RANK": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_CURRENT_INSTANCE_TYPE": str(job.request["ResourceConfig"].get("InstanceType", "")),
        "TRAINING_JOB_NAME": job.name,
    }
    env.update({f"SM_CHANNEL_{c.upper()}": str(data_dir / c) for c in channels})
    env.update(
        {
            f"SM_HP_{k.upper()}": json.dumps(v) if not isinstance(v, str) else v
            for k, v in hyperparameters.items()
        }
    )
    return env


def _training_command(source: dict, hyperparameters: dict) -> list[str]:
    """What SDK v3's sm_train.sh and basic script driver would execute."""
    if source.get("command"):
        return ["/bin/bash", "-c", source["command"]]
    entry = source.get("entry_script")
    if not entry:
        raise JobFailed("sourcecode.json names neither entry_script nor command")
    if entry.endswith(".py"):
        return [sys.executable, entry, *_cli_arguments(hyperparameters)]
    if entry.endswith(".sh"):
        return ["/bin/sh", entry, *_cli_arguments(hyperparameters)]
    raise JobFailed(f"unsupported entry script {entry!r}: only .py and .sh are supported")


def _pack(folder: Path, archive: Path) -> None:
    # Fastest gzip level: the archive only travels to local S3, and level 9 took longer
    # than the rest of the packing and upload together.
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name)


def _final_metrics(log_text: str, definitions: list[dict]) -> list[dict]:
    metrics = []
    for definition in definitions:
        found = re.findall(definition["Regex"], log_text)
        if found:
            metrics.append({"MetricName": definition["Name"], "Value": float(found[-1])})
    return metrics


def download_channels(job: Job) -> Path:
    """Each channel of the request into the job's /opt/ml/input/data/<channel>; returns that
    data folder. Raises JobFailed for a channel that is not an S3 data source."""
    data_dir = job.host_path("/opt/ml/input/data")
    for channel in job.request.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise JobFailed(f"channel {channel['ChannelName']!r}: only S3 data sources run locally")
        job.download(source["S3Uri"], data_dir / channel["ChannelName"])
    return data_dir


def completed_training(job: Job, metrics: list[dict]) -> dict:
    """Pack the job's /opt/ml/model into `<S3OutputPath>/<job name>/output/model.tar.gz`, as
    SageMaker does when a training job ends; returns DescribeTrainingJob-shaped properties."""
    request = job.request
    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    packed = job.folder / "packed"
    packed.mkdir(exist_ok=True)
    _pack(job.host_path("/opt/ml/model"), packed / "model.tar.gz")
    model_uri = f"{output_path}/{job.name}/output/model.tar.gz"
    bucket, key = s3_transfer.split_uri(model_uri)
    s3_transfer.upload_file(job.s3, packed / "model.tar.gz", bucket, key)
    return {
        **request,
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": metrics,
    }


def run_training(job: Job) -> dict:
    """Run a CreateTrainingJob request: SDK v3 ModelTrainer script mode (an sm_drivers
    channel), an SDK v3 `@step` function (function_step.py), or a built-in algorithm's image
    (algorithms.py).

    Returns DescribeTrainingJob-shaped properties, ModelArtifacts included.
    """
    # Imported here: both modules import this one.
    from sandbox.runner import algorithms, function_step

    request = job.request
    channels = [c["ChannelName"] for c in request.get("InputDataConfig", [])]
    if "sm_drivers" in channels:
        return _run_script_mode(job)
    if function_step.is_function_step(request):
        return function_step.run_function_step(job)
    image = request.get("AlgorithmSpecification", {}).get("TrainingImage")
    algorithm = algorithms.identify(image)
    if algorithm is not None and "sagemaker_program" not in request.get("HyperParameters", {}):
        return algorithms.run_builtin_training(job, algorithm)
    raise JobFailed(
        "only SDK v3 ModelTrainer script mode (an sm_drivers channel), @step functions and "
        "the built-in xgboost and linear-learner images run locally; this training job "
        f"(image {image or 'none'}) is none of them"
    )


def _code_dir(job: Job, data_dir: Path, channels: list[str]) -> Path:
    """Where the entry script is: the `code` channel; or, for the requests SDK v3's
    HyperparameterTuner makes (no `code` channel, no entrypoint: the framework image runs
    `sagemaker_program` from `sagemaker_submit_directory`), that archive unpacked in
    /opt/ml/code; else the drivers' channel."""
    if "code" in channels:
        return data_dir / "code"
    submit = str(job.request.get("HyperParameters", {}).get("sagemaker_submit_directory", ""))
    if submit.startswith("s3://"):
        code_dir = job.host_path("/opt/ml/code")
        archive = job.folder / "sourcedir.tar.gz"
        bucket, key = s3_transfer.split_uri(submit)
        job.s3.download_file(bucket, key, str(archive))
        safe_extract(archive, code_dir)
        return code_dir
    return data_dir / "sm_drivers"


def _run_script_mode(job: Job) -> dict:
    """SDK v3 ModelTrainer script mode: what its sm_train.sh and drivers would run."""
    request = job.request
    channels = [c["ChannelName"] for c in request.get("InputDataConfig", [])]
    data_dir = download_channels(job)
    source_code = json.loads((data_dir / "sm_drivers" / "sourcecode.json").read_text())
    if source_code.get("requirements"):
        with job.log_path.open("a") as log:
            log.write("sandbox: requirements are not installed; the project venv is used\n")
    for folder in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/input/config"):
        job.host_path(folder).mkdir(parents=True, exist_ok=True)

    hyperparameters = {
        k: v
        for k, v in request.get("HyperParameters", {}).items()
        if not k.startswith(RESERVED_HYPERPARAMETER_PREFIX)
    }
    env = {
        **job.base_environment,
        **_training_environment(job, channels, source_code),
        **{k: job.rewrite(str(v)) for k, v in request.get("Environment", {}).items()},
    }
    code_dir = _code_dir(job, data_dir, channels)
    job.stats = run_logged(
        _training_command(source_code, hyperparameters),
        env,
        code_dir,
        job.log_path,
        root=job.folder,
        cancellation=job.cancellation,
    )
    metric_definitions = request.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    return completed_training(job, _final_metrics(job.log_path.read_text(), metric_definitions))
