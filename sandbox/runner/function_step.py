"""SDK v3 `@step` functions: the Training job SDK v3 renders for one, run locally.

SDK v3 pickles the function and its arguments (cloudpickle, signed) to S3 when it renders
the pipeline, and the job's container runs `job_driver.sh` from the
`sagemaker_remote_function_bootstrap` channel: it bootstraps the runtime (unpacks the
workspace, installs dependencies), then runs `python -m
sagemaker.core.remote_function.invoke_function` with the job's arguments, which loads the
function, resolves its arguments (other steps' returns included), calls it and writes its
return to the job's S3OutputPath (`results/results.json` too when a later step reads it, which
DelayedReturn's JsonGet does).

Here that last module runs as it is, on this interpreter (it has the SDK and the function's
libraries), in the unpacked workspace, with the job's environment (the public key that
checks the pickles' signature included) and the sandbox's endpoint: so the function, its
arguments and its return go through the SDK's own code. What the bootstrap would install
(dependencies, pre-execution commands) is not installed: the log says so.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sandbox.runner import jobs

BOOTSTRAP_CHANNEL = "sagemaker_remote_function_bootstrap"
DEPENDENCIES_CHANNEL = "pre_exec_script_and_dependencies"
WORKSPACE = "sagemaker_remote_function_workspace"  # the folder workspace.zip unpacks to
# Runs the SDK's invoke_function module (containers/remote_function.py says why a script).
INVOKE = Path(__file__).with_name("containers") / "remote_function.py"


def is_function_step(request: dict) -> bool:
    """A Training request SDK v3 rendered for a `@step` function (or a @remote job)."""
    entrypoint = request.get("AlgorithmSpecification", {}).get("ContainerEntrypoint") or []
    return any(f"/{BOOTSTRAP_CHANNEL}/" in str(part) for part in entrypoint)


def _option(arguments: list[str], name: str) -> str | None:
    if name in arguments:
        index = arguments.index(name)
        if index + 1 < len(arguments):
            return str(arguments[index + 1])
    return None


def _workspace(job: jobs.Job, data_dir, arguments: list[str]):
    """The folder the function runs in, as the bootstrap leaves it: the user's workspace
    unpacked (from the channel named by --func_step_s3_dir), with the dependencies channel's
    files copied in."""
    cwd = job.folder / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    archive_channel = _option(arguments, "--func_step_s3_dir") or "sm_rf_user_ws"
    archive = data_dir / archive_channel / "workspace.zip"
    if archive.is_file():
        shutil.unpack_archive(archive, cwd)
    workspace = cwd / WORKSPACE
    workspace.mkdir(exist_ok=True)
    dependencies = data_dir / DEPENDENCIES_CHANNEL
    notes = []
    if dependencies.is_dir():
        for item in dependencies.iterdir():
            if item.is_file():
                shutil.copy(item, workspace / item.name)
        notes.append(
            f"sandbox: the {DEPENDENCIES_CHANNEL} channel's dependencies and pre-execution "
            "commands are not installed or run; the project venv is used\n"
        )
    if (workspace / "pre_exec.sh").is_file():
        notes.append("sandbox: the function's pre-execution commands (pre_exec.sh) are not run\n")
    settings = _option(arguments, "--dependency_settings")
    if settings and json.loads(settings).get("dependency_file"):
        notes.append(
            "sandbox: the function's dependencies file is not installed; the project venv is used\n"
        )
    if notes:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with job.log_path.open("a") as log:
            log.writelines(dict.fromkeys(notes))
    return workspace


def run_function_step(job: jobs.Job) -> dict:
    """Run the Training request of a `@step` function; returns DescribeTrainingJob-shaped
    properties (OutputDataConfig.S3OutputPath, where the return is, included)."""
    request = job.request
    arguments = [str(a) for a in request["AlgorithmSpecification"].get("ContainerArguments", [])]
    data_dir = jobs.download_channels(job)
    workspace = _workspace(job, data_dir, arguments)
    for folder in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/input/config"):
        job.host_path(folder).mkdir(parents=True, exist_ok=True)
    env = {
        **job.base_environment,
        "TRAINING_JOB_NAME": job.name,
        **{k: job.rewrite(str(v)) for k, v in request.get("Environment", {}).items()},
    }
    job.stats = jobs.run_logged(
        [sys.executable, str(INVOKE), *arguments],
        env,
        workspace,
        job.log_path,
        root=job.folder,
        cancellation=job.cancellation,
    )
    return jobs.completed_training(job, [])
