"""`batch_smoke.py`: the smoke test of a batch-transform deployment, for real.

    python modeldeploy/batch_smoke.py --stack-name my-project-prod-batch \\
        --manifest promotion-manifest.json --work-uri s3://bucket/batch-smoke/prod \\
        --export-test-results prod-batch-results.json

The same discipline as the endpoint's smoke test (modeldeploy/smoke.py), on a sample of the
output: the stack's model must be the manifest's package; that package's inference
contract gives the sample rows, written as header-less CSV under `--work-uri`; one
transform job scores them exactly as the scheduled runs do (SingleRecord, Line split and
assembly, JSON answers); it must end Completed, with one output line per input row, each
an answer for one row that keeps the contract's rules. Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from modeldeploy.contract import ContractError, load_contract
from modeldeploy.errors import ConfigError, DeployError, run_cli
from modeldeploy.manifest import read_manifest
from modeldeploy.smoke import SmokeReport

logger = logging.getLogger(__name__)
SAMPLE_FILE = "sample.csv"


def stack_model(cloudformation, stack_name: str) -> str:
    """The model a batch stack's runs score with (its ModelName output)."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as err:
        raise DeployError(f"batch stack {stack_name}: {err}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "ModelName" not in outputs:
        raise DeployError(f"batch stack {stack_name} has no ModelName output")
    return outputs["ModelName"]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key.strip("/")


def _wait(sagemaker, name: str, timeout: float, poll: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        if time.monotonic() > deadline:
            raise DeployError(f"transform job {name} still InProgress after {timeout:.0f} s")
        time.sleep(poll)


def run_batch_smoke(
    sagemaker,
    s3,
    model_name: str,
    manifest: dict,
    work_uri: str,
    instance_type: str,
    timeout: float,
    poll: float = 15,
) -> SmokeReport:
    """Every check; returns the report (never raises on a failed check)."""
    report = SmokeReport(f"model {model_name}", manifest["model_package_arn"])
    model = sagemaker.describe_model(ModelName=model_name)
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    serving = container.get("ModelPackageName")
    if not report.add(
        "serves-manifest-package",
        serving == manifest["model_package_arn"],
        f"scores with {serving}, manifest names {manifest['model_package_arn']}",
    ):
        return report
    try:
        contract = load_contract(sagemaker, s3, serving)
    except ContractError as err:
        report.add("contract", False, str(err))
        return report
    if not report.add(
        "contract",
        "text/csv" in contract.content_types,
        f"{contract.uri}: {len(contract.sample)} sample rows"
        + ("" if "text/csv" in contract.content_types else "; the batch runs need text/csv"),
    ):
        return report

    run = f"smoke-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    bucket, prefix = _split(work_uri.rstrip("/") + f"/{run}")
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}/input/{SAMPLE_FILE}",
        Body=contract.body("text/csv", contract.sample).encode(),
    )
    output = f"s3://{bucket}/{prefix}/output"
    sagemaker.create_transform_job(
        TransformJobName=run,
        ModelName=model_name,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}/input"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": output,
            "Accept": "application/json",
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": instance_type, "InstanceCount": 1},
    )
    try:
        described = _wait(sagemaker, run, timeout, poll)
    except DeployError as err:
        report.add("transform-job", False, str(err))
        return report
    status = described["TransformJobStatus"]
    if not report.add(
        "transform-job",
        status == "Completed",
        f"{run} {status}"
        + (f": {described.get('FailureReason')}" if status != "Completed" else ""),
    ):
        return report

    try:
        text = s3.get_object(Bucket=bucket, Key=f"{prefix}/output/{SAMPLE_FILE}.out")["Body"].read()
    except ClientError as err:
        report.add("output-rows", False, f"no output {output}/{SAMPLE_FILE}.out: {err}")
        return report
    lines = [line for line in text.decode().splitlines() if line.strip()]
    rows = len(contract.sample)
    if not report.add(
        "output-rows", len(lines) == rows, f"{len(lines)} output lines for {rows} rows"
    ):
        return report
    for number, line in enumerate(lines, 1):
        try:
            problem = contract.check_response(json.loads(line), 1)
        except ValueError as err:
            problem = f"not JSON: {err}"
        if problem:
            report.add("output-contract", False, f"output line {number}: {problem}")
            return report
    report.add("output-contract", True, f"{rows} rows scored within the contract")
    return report


def smoke_or_restore(deployer, previous, clients: dict, config: dict, manifest: dict, args) -> None:
    """deploy.py after a prod update of a batch stack: the batch smoke test, and on failure
    the stack put back as it was (`previous`, a deploy.StackSnapshot, or None for a first
    deploy); raises DeployError saying what failed and what is deployed now."""
    parameters = config["Parameters"]
    report = run_batch_smoke(
        clients["sagemaker"],
        clients["s3"],
        stack_model(deployer.cfn, deployer.stack_name),
        manifest,
        parameters["BatchOutputUri"].rstrip("/") + "/smoke",
        parameters.get("TransformInstanceType", "ml.m5.large"),
        args.smoke_timeout_seconds,
        args.poll_seconds,
    )
    for check in report.checks:
        print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if report.passed:
        print(f"Batch smoke test of {deployer.stack_name} passed")
        return
    failed = next(c for c in report.checks if not c.passed)
    what = f"batch smoke test of {deployer.stack_name} failed ({failed.name}: {failed.detail})"
    if previous is None:
        raise DeployError(f"{what}; there is no previous configuration to restore (first deploy)")
    print(f"Batch smoke test of {deployer.stack_name} failed; restoring its previous configuration")
    deployer.deploy(previous.template_body, previous.config, args.timeout_seconds)
    package = previous.parameters.get("ModelPackageName", "the previous package")
    raise DeployError(f"{what}; restored {deployer.stack_name}, scheduled with {package}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack-name", required=True, help="the batch stack (<project>-<stage>-batch)"
    )
    parser.add_argument("--manifest", required=True, type=Path, help="promotion manifest")
    parser.add_argument("--work-uri", required=True, help="S3 prefix for the sample and its output")
    parser.add_argument("--export-test-results", type=Path)
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    parser.add_argument("--poll-seconds", type=float, default=15)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, clients: dict | None = None) -> int:
    """`clients`: boto3 clients by service name, made from the default session if not given."""
    args = parse_args(argv)
    given = dict(clients or {})

    def client(service: str):
        if service not in given:
            given[service] = boto3.client(service)
        return given[service]

    def work() -> int:
        if not args.work_uri.startswith("s3://") or not _split(args.work_uri)[0]:
            raise ConfigError(f"--work-uri {args.work_uri!r} is not an s3:// URI")
        manifest = read_manifest(args.manifest)
        model_name = stack_model(client("cloudformation"), args.stack_name)
        report = run_batch_smoke(
            client("sagemaker"),
            client("s3"),
            model_name,
            manifest,
            args.work_uri,
            args.instance_type,
            args.timeout_seconds,
            args.poll_seconds,
        )
        for check in report.checks:
            print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
        if args.export_test_results:
            args.export_test_results.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        if not report.passed:
            failed = next(c for c in report.checks if not c.passed)
            raise DeployError(
                f"batch smoke test of {args.stack_name} failed ({failed.name}: {failed.detail})"
            )
        print(f"Batch smoke test of {args.stack_name} passed")
        return 0

    return run_cli("batch_smoke.py", work)


if __name__ == "__main__":
    sys.exit(main())
