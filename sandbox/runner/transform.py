"""Batch transform jobs (a pipeline's Transform step) as local jobs.

The request's model is resolved as SageMaker resolves it (ModelName -> the model's primary
container, or its model package's), its ModelDataUrl unpacked to the job's `opt/ml/model`
(with SAGEMAKER_SUBMIT_DIRECTORY's source archive in `code/` when that is an S3 URI), the
S3 input (S3Prefix: every object under it; or one object) downloaded, and
`containers/batch_transform.py` run on it with the model's handlers: the model's own
`code/<SAGEMAKER_PROGRAM>` (script mode), or a built-in algorithm's (the models
algorithms.py trains). Each input file's output is `<S3OutputPath>/<its path below the
prefix>.out`.
"""

from __future__ import annotations

import json
import sys

from botocore.exceptions import ClientError

from sandbox.runner import algorithms, jobs
from sandbox.runner import s3 as s3_transfer
from sandbox.runner.containers.data_processing import FilterError, validate
from sandbox.safe_tar import safe_extract

CONTAINER = algorithms.CONTAINERS / "batch_transform.py"
DEFAULT_MAX_PAYLOAD_MB = 6


def model_container(sagemaker, model_name: str) -> dict:
    """The container a model serves with: its primary container (or first), or, for one
    that names a model package, the package's first inference container."""
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except ClientError as err:
        raise jobs.JobFailed(
            f"ModelName {model_name!r}: {err.response['Error']['Message']}"
        ) from None
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = container.get("ModelPackageName")
    if package:
        described = sagemaker.describe_model_package(ModelPackageName=package)
        container = {
            **described["InferenceSpecification"]["Containers"][0],
            "Environment": {
                **described["InferenceSpecification"]["Containers"][0].get("Environment", {}),
                **container.get("Environment", {}),
            },
        }
    if not container.get("ModelDataUrl"):
        raise jobs.JobFailed(f"model {model_name!r} has no ModelDataUrl to transform with")
    return container


def _download_model(job: jobs.Job, container: dict) -> None:
    """ModelDataUrl into opt/ml/model, and a source archive in SAGEMAKER_SUBMIT_DIRECTORY
    (script mode's sourcedir.tar.gz) into opt/ml/model/code."""
    model_dir = job.host_path("/opt/ml/model")
    archives = job.folder / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    bucket, key = s3_transfer.split_uri(container["ModelDataUrl"])
    job.s3.download_file(bucket, key, str(archives / "model.tar.gz"))
    safe_extract(archives / "model.tar.gz", model_dir)
    submit = container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit.startswith("s3://"):
        bucket, key = s3_transfer.split_uri(submit)
        job.s3.download_file(bucket, key, str(archives / "sourcedir.tar.gz"))
        safe_extract(archives / "sourcedir.tar.gz", model_dir / "code")


def _download_input(job: jobs.Job) -> list[str]:
    """The input objects into the job folder; returns their paths below the prefix."""
    source = job.request["TransformInput"]["DataSource"].get("S3DataSource")
    if source is None:
        raise jobs.JobFailed("TransformInput.DataSource: only S3DataSource runs locally")
    data_type = source.get("S3DataType", "S3Prefix")
    if data_type != "S3Prefix":
        raise jobs.JobFailed(f"S3DataType {data_type!r} is not supported locally (S3Prefix is)")
    input_dir = job.host_path("/opt/ml/transform/input")
    job.download(source["S3Uri"], input_dir)
    return sorted(str(p.relative_to(input_dir)) for p in input_dir.rglob("*") if p.is_file())


def run_transform(job: jobs.Job, sagemaker) -> dict:
    """Run a CreateTransformJob request; returns DescribeTransformJob-shaped properties.
    `sagemaker` is a SageMaker client of the sandbox (for the model)."""
    request = job.request
    processing = request.get("DataProcessing") or {}
    for name in ("InputFilter", "OutputFilter"):
        try:
            validate(processing.get(name))
        except FilterError as err:
            raise jobs.JobFailed(f"DataProcessing.{name}: {err}") from None
    container = model_container(sagemaker, request["ModelName"])
    _download_model(job, container)
    files = _download_input(job)
    output_dir = job.host_path("/opt/ml/transform/output")
    output_dir.mkdir(parents=True, exist_ok=True)

    environment = {**container.get("Environment", {}), **request.get("Environment", {})}
    # A script (SAGEMAKER_PROGRAM) serves the model even on a built-in algorithm's image
    # (the XGBoost image's framework mode).
    script_mode = "SAGEMAKER_PROGRAM" in environment
    algorithm = None if script_mode else algorithms.identify(container.get("Image"))
    model_dir = job.host_path("/opt/ml/model")
    program = environment.get("SAGEMAKER_PROGRAM", "inference.py")
    spec = {
        "algorithm": algorithm.name if algorithm else None,
        "script": str(model_dir / "code" / program),
        "model_dir": str(model_dir),
        "input_dir": str(job.host_path("/opt/ml/transform/input")),
        "output_dir": str(output_dir),
        "files": files,
        "ContentType": request["TransformInput"].get("ContentType"),
        "SplitType": request["TransformInput"].get("SplitType", "None"),
        "CompressionType": request["TransformInput"].get("CompressionType", "None"),
        "Accept": request.get("TransformOutput", {}).get("Accept"),
        "AssembleWith": request.get("TransformOutput", {}).get("AssembleWith", "None"),
        "BatchStrategy": request.get("BatchStrategy", "MultiRecord"),
        "MaxPayloadInMB": int(request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)),
        "DataProcessing": processing,
    }
    spec_path = job.folder / "transform.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    env = {
        **job.base_environment,
        **{k: job.rewrite(str(v)) for k, v in environment.items()},
        "SAGEMAKER_BATCH": "true",  # what the transform agent sets for the container
    }
    job.stats = jobs.run_logged(
        [sys.executable, str(CONTAINER), str(spec_path)],
        env,
        job.folder,
        job.log_path,
        root=job.folder,
        cancellation=job.cancellation,
    )
    s3_transfer.upload_directory(job.s3, output_dir, request["TransformOutput"]["S3OutputPath"])
    return {
        **request,
        "TransformJobName": job.name,
        "TransformJobArn": job.arn,
        "TransformJobStatus": "Completed",
    }
