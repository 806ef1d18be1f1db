"""Standalone batch transform jobs: CreateTransformJob outside a pipeline runs the job.

AWS: CreateTransformJob starts a job (InProgress) that reads the S3 input, scores it with
the model and writes `<input file>.out` under S3OutputPath, then ends Completed or Failed
with a FailureReason. moto records the job as Completed at once and transforms nothing.
Here the request is recorded by moto as usual, then run in a thread with
sandbox/runner/transform.py (the code a pipeline's Transform step runs), in a job folder
`<home>/transform-jobs/<name>/` (its log: `job.log`); moto's record says InProgress
meanwhile and how the job ended after, so DescribeTransformJob answers as SageMaker does.
What starts such a job: a client, or an EventBridge Scheduler schedule's universal target
`arn:aws:scheduler:::aws-sdk:sagemaker:createTransformJob` (`python -m sandbox
fire-schedule`), as a batch deployment (modeldeploy/batch-transform-template.yml) sets up.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends

from sandbox.clients import sandbox_client
from sandbox.constants import REGION, client_environment
from sandbox.runner import jobs
from sandbox.runner import s3 as s3_transfer
from sandbox.runner.executor import job_environment
from sandbox.runner.transform import run_transform

logger = logging.getLogger(__name__)


class TransformJobs:
    """Runs each standalone transform job moto has just recorded."""

    def __init__(self, endpoint_url: str, home: Path):
        self.endpoint_url = endpoint_url
        self.folder = Path(home) / "transform-jobs"
        self._threads: list[threading.Thread] = []

    def start(self, request: dict, account: str) -> None:
        """Run the job `request` names (moto recorded it) in the background."""
        name = request["TransformJobName"]
        record = sagemaker_backends[account][REGION].transform_jobs.get(name)
        if record is None:
            return
        record.transform_job_status = "InProgress"
        record.transform_end_time = None
        thread = threading.Thread(
            target=self._run, args=(record, request), name=f"transform-{name}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the jobs still running (the sandbox stops after them)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _run(self, record, request: dict) -> None:
        folder = self.folder / record.transform_job_name
        folder.mkdir(parents=True, exist_ok=True)
        job = jobs.Job(
            name=record.transform_job_name,
            arn=record.arn,
            request=request,
            folder=folder,
            log_path=folder / "job.log",
            s3=sandbox_client("s3", self.endpoint_url),
            base_environment=job_environment(client_environment(self.endpoint_url)),
        )
        try:
            run_transform(job, sandbox_client("sagemaker", self.endpoint_url))
            record.transform_job_status = "Completed"
        except (jobs.JobFailed, s3_transfer.S3Error) as err:
            record.transform_job_status, record.failure_reason = "Failed", str(err)[:1024]
        except Exception as err:  # noqa: BLE001 — an unexpected error fails the job, says why
            logger.exception("transform job %s", record.transform_job_name)
            record.transform_job_status = "Failed"
            record.failure_reason = f"sandbox error: {err}"[:1024]
        record.transform_end_time = record.last_modified_time = utcnow()
