"""The serving measure: 200 InvokeEndpoint calls at once against the sandbox's endpoint.

A churn model is trained here (2,000 generated rows, as the tests train it), registered as
an Approved package in an in-process sandbox and served by an endpoint. The calls come from
a child process (`benchmarks.endpoint_load`), as a smoke test's do: the client's own work
does not compete with the server for this process's interpreter. Each round sends one
contract-style CSV row per call; a first round only warms up (the model loads on first use).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmarks.report import Measure, median
from benchmarks.sandbox_runs import _restore_environment
from sandbox import Sandbox
from sandbox.constants import DEFAULT_BUCKET

ROOT = Path(__file__).resolve().parents[1]
CONCURRENT = 200
TARGET_P99_SECONDS = 1.0
ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"


def train_model(work: Path) -> tuple[Path, str]:
    """model.tar.gz of a churn model, and one CSV row of its test split (no label)."""
    from pipelines.churn.generate_data import write_churn_csv
    from pipelines.churn.steps import preprocess
    from pipelines.churn.steps.training import train

    raw = write_churn_csv(work / "raw" / "churn.csv", rows=2_000, seed=7)
    splits = {name: work / "splits" / name for name in ("train", "validation", "test")}
    preprocess.main(
        ["--input-dir", str(raw.parent)]
        + [arg for name, path in splits.items() for arg in (f"--{name}-dir", str(path))]
    )
    model_dir = work / "model"
    train.main(
        ["--train-dir", str(splits["train"]), "--validation-dir", str(splits["validation"])]
        + ["--model-dir", str(model_dir), "--max_iter", "60"]
    )
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    test_csv = next(splits["test"].glob("*.csv")).read_text().splitlines()
    header, row = test_csv[0].split(","), test_csv[1].split(",")
    features = json.loads((model_dir / "features.json").read_text())
    return archive, ",".join(row[header.index(f)] for f in features) + "\n"


def serve(sandbox: Sandbox, archive: Path, name: str) -> None:
    """An endpoint `name` serving `archive` through an Approved package."""
    s3, sagemaker = sandbox.client("s3"), sandbox.client("sagemaker")
    s3.create_bucket(Bucket=DEFAULT_BUCKET)
    s3.upload_file(str(archive), DEFAULT_BUCKET, f"{name}/model.tar.gz")
    sagemaker.create_model_package_group(ModelPackageGroupName=name)
    package = sagemaker.create_model_package(
        ModelPackageGroupName=name,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{DEFAULT_BUCKET}/{name}/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def load_round(endpoint_url: str, endpoint: str, body_file: Path) -> list[dict]:
    """One round of CONCURRENT calls from a child process; returns each call's result."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.endpoint_load", endpoint_url, endpoint]
        + [str(body_file), str(CONCURRENT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def concurrent_invocations(work: Path, runs: int) -> Measure:
    """p50 and p99 of CONCURRENT simultaneous calls: the round with the median p99."""
    name = f"{CONCURRENT} concurrent InvokeEndpoint calls (sandbox endpoint, one CSV row each)"
    target = f"p99 ≤ {TARGET_P99_SECONDS:.0f} s"
    archive, row = train_model(work / "endpoint-model")
    body_file = work / "endpoint-row.csv"
    body_file.write_text(row)
    with Sandbox(home=work / "endpoint-sandbox") as sandbox:
        previous = sandbox.export()
        try:
            serve(sandbox, archive, "bench-endpoint")
            load_round(sandbox.endpoint_url, "bench-endpoint", body_file)  # warm-up
            rounds = [
                load_round(sandbox.endpoint_url, "bench-endpoint", body_file) for _ in range(runs)
            ]
        finally:
            _restore_environment(previous)
    summaries = []
    for calls in rounds:
        seconds = [c["seconds"] for c in calls]
        summaries.append(
            {
                "p50": percentile(seconds, 0.50),
                "p99": percentile(seconds, 0.99),
                "max": max(seconds),
                "errors": sum(1 for c in calls if c["status"] != 200),
            }
        )
    middle = sorted(summaries, key=lambda s: s["p99"])[len(summaries) // 2]
    errors = sum(s["errors"] for s in summaries)
    each = ", ".join(f"{s['p99']:.2f}" for s in summaries)
    result = (
        f"p50 {middle['p50']:.2f} s, p99 {middle['p99']:.2f} s (the round with the median p99 "
        f"of {runs}; p99 of each: {each})"
    )
    if errors:
        result += f"; {errors} call(s) not answered 200"
    return Measure(
        name,
        target,
        result,
        middle["p99"] <= TARGET_P99_SECONDS and not errors,
        {"rounds": summaries, "median_p99": median([s["p99"] for s in summaries])},
    )
