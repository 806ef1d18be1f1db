"""`python -m sandbox exec`, `seed-data`, `fire-schedule` and `run-monitoring`: the
product's own commands against the sandbox, and schedules run on demand (the sandbox keeps
no clock).

The sandbox is only an AWS endpoint: `exec` runs any command with boto3's standard
variables (AWS_ENDPOINT_URL, fake credentials, a region) pointing at it, plus the variables
a SageMaker Project's CodeBuild sets, so the seed buildspec's `run-pipeline ...` runs here
byte for byte. It uses the sandbox `up` started, else one of its own for the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sandbox import daemon
from sandbox.constants import PROJECT_VARIABLES

EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def sandbox_at(home: Path) -> Iterator:
    """The sandbox running on `home`, else a new one for the block (stopped after it)."""
    running = daemon.find_running(home)
    if running is not None:
        yield running
        return
    from sandbox.server import Sandbox  # moto: imported only when a sandbox starts here

    with Sandbox(home=home) as started:
        yield started


def command_environment(sandbox) -> dict[str, str]:
    """This process's environment, pointed at `sandbox`; the project variables only where
    the caller has not set them. AWS_PROFILE would make boto3 read real credentials."""
    environment = {**PROJECT_VARIABLES, **os.environ, **sandbox.environment}
    environment.pop("AWS_PROFILE", None)
    return environment


def run_command(command: list[str], environment: dict[str, str]) -> int:
    """Run `command` to its end; its exit code. Ctrl-C reaches it (same process group);
    this process then waits for it, so nothing is left behind."""
    try:
        process = subprocess.Popen(command, env=environment)
    except OSError as err:
        print(f"sandbox exec: cannot run {command[0]!r}: {err.strerror}", file=sys.stderr)
        return 127
    try:
        return process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return EXIT_INTERRUPTED


def exec_command(home: Path, command: list[str]) -> int:
    if not command:
        print("sandbox exec: give a command, e.g. `exec -- run-pipeline ...`", file=sys.stderr)
        return 2
    with sandbox_at(home) as sandbox:
        return run_command(command, command_environment(sandbox))


def seed_data(home: Path, uri: str | None, generator: str, rows: int) -> int:
    """Generate sample data with `python -m <generator> --rows N --output FILE` (the
    generator's command line, run as a process: the sandbox imports no pipeline code) and
    upload it to `uri`, creating the bucket. Never overwrites: an existing object is an
    error."""
    from sandbox.runner.s3 import S3Error, split_uri

    uri = uri or default_data_uri()
    try:
        bucket, key = split_uri(uri)
    except S3Error as err:
        print(f"sandbox seed-data: --uri: {err}", file=sys.stderr)
        return 2
    if not key or key.endswith("/"):
        print(f"sandbox seed-data: --uri must name an object, got {uri!r}", file=sys.stderr)
        return 2
    with sandbox_at(home) as sandbox, tempfile.TemporaryDirectory() as folder:
        s3 = sandbox.client("s3")
        if _bucket_exists(s3, bucket) and _object_exists(s3, bucket, key):
            print(f"sandbox seed-data: {uri} exists already; not overwritten", file=sys.stderr)
            return 1
        path = Path(folder) / Path(key).name
        generated = subprocess.run(
            [sys.executable, "-m", generator, "--rows", str(rows), "--output", str(path)],
            env=command_environment(sandbox),
            check=False,
        )
        if generated.returncode != 0:
            print(f"sandbox seed-data: {generator} exited {generated.returncode}", file=sys.stderr)
            return 1
        if not _bucket_exists(s3, bucket):
            s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(path), bucket, key)
        print(f"seeded {uri} ({rows:,} rows from {generator}, {path.stat().st_size:,} bytes)")
    return 0


def default_data_uri() -> str:
    """Where the pipeline reads by default when run with the seed buildspec's --kwargs
    (`s3://<default_bucket>/<base_job_prefix>/data/churn.csv`)."""
    variables = {**PROJECT_VARIABLES, **os.environ}
    return (
        f"s3://{variables['ARTIFACT_BUCKET']}/{variables['SAGEMAKER_PROJECT_NAME_ID']}"
        "/data/churn.csv"
    )


def _bucket_exists(s3, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def _object_exists(s3, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def fire_schedule(home: Path, name: str, group: str) -> int:
    """Deliver schedule `name`'s target now, as EventBridge Scheduler does when it fires
    (sandbox/schedules.py); prints what it started."""
    from botocore.exceptions import BotoCoreError, ClientError

    from sandbox.schedules import ScheduleError, fire

    with sandbox_at(home) as sandbox:
        try:
            started = fire(sandbox.client, name, group)
        except ScheduleError as err:
            print(f"sandbox fire-schedule: {err}", file=sys.stderr)
            return 1
        except (ClientError, BotoCoreError) as err:
            print(
                f"sandbox fire-schedule: {name}: the target's call failed: {err}", file=sys.stderr
            )
            return 1
    print(f"fired schedule {name} (group {group}): started {started}")
    return 0


def endpoint_deployments(home: Path, name: str) -> int:
    """Print the endpoint's recorded blue/green updates (sandbox/guardrails.py), oldest
    first: each traffic shift with the requests each fleet served, and a rollback's reason.
    Reads the record on disk: no sandbox needs to run."""
    from sandbox.deployment_journal import describe, read_journal

    records = read_journal(home / "endpoints", name)
    if not records:
        print(
            f"sandbox endpoint-deployments: no blue/green update of {name!r} recorded in {home}",
            file=sys.stderr,
        )
        return 1
    for record in records:
        print("\n".join(describe(record)))
    return 0


def run_monitoring(home: Path, name: str) -> int:
    """Run a Model Monitor schedule's job now on what its endpoint captured
    (sandbox/monitoring.py); prints the outcome, each violation and the report's URI."""
    from botocore.exceptions import BotoCoreError, ClientError

    from sandbox.monitoring import MonitoringRunError, run_schedule

    with sandbox_at(home) as sandbox:
        try:
            run = run_schedule(sandbox, name, home)
        except MonitoringRunError as err:
            print(f"sandbox run-monitoring: {err}", file=sys.stderr)
            return 1
        except (ClientError, BotoCoreError) as err:
            print(f"sandbox run-monitoring: {name}: {err}", file=sys.stderr)
            return 1
    print(f"monitoring schedule {run.schedule} (endpoint {run.endpoint}): {run.status}")
    for violation in run.violations:
        print(
            f"  {violation['feature_name']}: {violation['constraint_check_type']}: "
            f"{violation['description']}"
        )
    if run.status == "Failed":
        print(
            f"sandbox run-monitoring: the job failed: {run.exit_message} (log: {run.log})",
            file=sys.stderr,
        )
        return 1
    print(f"report: {run.report_uri}/ (log: {run.log})")
    return 0
