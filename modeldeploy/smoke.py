"""The smoke test of a deployed stage: it really invokes the endpoint.

Checks, in order: the endpoint is InService; it serves the manifest's package; CSV and JSON
payloads drawn from the package's held-out test split get one well-formed prediction per
row (probabilities in [0, 1], both formats agreeing); p95 latency is within budget; a
malformed payload gets a 4xx with a message, not a 5xx.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from dataclasses import asdict, dataclass, field

import pandas as pd
from botocore.exceptions import ClientError

from modeldeploy.errors import DeployError

TARGET_COLUMN = "churn"
SAMPLE_ROWS = 20
MALFORMED_PAYLOAD = "this,is,not,a,customer\n"


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class SmokeReport:
    endpoint: str
    model_package_arn: str
    checks: list[Check] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, passed, detail))
        return passed

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def wait_in_service(sagemaker, endpoint: str, timeout: float, poll: float = 15) -> dict:
    """Describe the endpoint until it is InService; raises DeployError if it fails."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            described = sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError as err:
            raise DeployError(f"endpoint {endpoint} not found: {err}") from None
        status = described["EndpointStatus"]
        if status == "InService":
            return described
        if status == "Failed":
            raise DeployError(f"endpoint {endpoint} Failed: {described.get('FailureReason')}")
        if time.monotonic() > deadline:
            raise DeployError(f"endpoint {endpoint} still {status} after {timeout:.0f} s")
        time.sleep(poll)


def served_package(sagemaker, described_endpoint: dict) -> str | None:
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=described_endpoint["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    container = model.get("PrimaryContainer") or model["Containers"][0]
    return container.get("ModelPackageName")


def load_test_rows(s3, uri: str, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The first `rows` rows of the held-out split at `uri`, without the label."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    keys = sorted(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if o["Key"].endswith(".csv")
    )
    if not keys:
        raise DeployError(f"no test data (CSV) at {uri}")
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    frame = pd.read_csv(io.StringIO(body), nrows=rows)
    return frame.drop(columns=[TARGET_COLUMN], errors="ignore")


def _invoke(runtime, endpoint: str, body: str, content_type: str) -> dict:
    response = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=body.encode(),
        ContentType=content_type,
        Accept="application/json",
    )
    return json.loads(response["Body"].read())


def _check_predictions(payload: dict, expected_rows: int) -> str | None:
    """None when the response is well formed, else what is wrong with it."""
    predictions = payload.get("predictions") if isinstance(payload, dict) else None
    if not isinstance(predictions, list):
        return "response has no 'predictions' list"
    if len(predictions) != expected_rows:
        return f"{len(predictions)} predictions for {expected_rows} rows"
    for p in predictions:
        probability = p.get("churn_probability") if isinstance(p, dict) else None
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            return f"bad prediction {p!r}: churn_probability must be in [0, 1]"
        if p.get("predicted_label") not in (0, 1):
            return f"bad prediction {p!r}: predicted_label must be 0 or 1"
    return None


def run_smoke_test(
    sagemaker,
    runtime,
    s3,
    endpoint: str,
    manifest: dict,
    latency_budget_ms: float,
    latency_requests: int,
    timeout: float,
    poll: float = 15,
) -> SmokeReport:
    """Every check against `endpoint`; returns the report (never raises on a failed check)."""
    report = SmokeReport(endpoint, manifest["model_package_arn"])
    try:
        described = wait_in_service(sagemaker, endpoint, timeout, poll)
    except DeployError as err:
        report.add("in-service", False, str(err))
        return report
    report.add("in-service", True, f"{endpoint} is InService")

    serving = served_package(sagemaker, described)
    if not report.add(
        "serves-manifest-package",
        serving == manifest["model_package_arn"],
        f"serves {serving}, manifest names {manifest['model_package_arn']}",
    ):
        return report

    try:
        rows = load_test_rows(s3, manifest["test_data_uri"])
    except (DeployError, ClientError, KeyError, TypeError) as err:
        report.add("test-data", False, f"cannot read test data: {err}")
        return report

    try:
        from_csv = _invoke(runtime, endpoint, rows.to_csv(header=False, index=False), "text/csv")
        problem = _check_predictions(from_csv, len(rows))
        report.add("csv-predictions", problem is None, problem or f"{len(rows)} rows scored")
        records = json.loads(rows.to_json(orient="records"))
        from_json = _invoke(
            runtime, endpoint, json.dumps({"instances": records}), "application/json"
        )
        problem = _check_predictions(from_json, len(rows))
        report.add("json-predictions", problem is None, problem or f"{len(rows)} rows scored")
        report.add(
            "csv-json-agree",
            from_csv == from_json,
            "CSV and JSON payloads of the same rows got the same predictions",
        )
    except ClientError as err:
        report.add("predictions", False, f"invocation failed: {err}")
        return report

    single = rows.head(1).to_csv(header=False, index=False)
    timings = []
    for _ in range(latency_requests):
        started = time.perf_counter()
        _invoke(runtime, endpoint, single, "text/csv")
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1] if len(timings) > 1 else timings[0]
    report.latency_ms = {
        "p50": round(statistics.median(timings), 2),
        "p95": round(p95, 2),
        "budget": latency_budget_ms,
        "requests": latency_requests,
    }
    report.add(
        "latency-p95",
        p95 <= latency_budget_ms,
        f"p95 {p95:.1f} ms against a budget of {latency_budget_ms:.0f} ms",
    )

    try:
        _invoke(runtime, endpoint, MALFORMED_PAYLOAD, "text/csv")
        report.add("malformed-payload-4xx", False, "a malformed payload was accepted")
    except ClientError as err:
        status = err.response.get("OriginalStatusCode") or err.response.get(
            "ResponseMetadata", {}
        ).get("HTTPStatusCode")
        message = err.response.get("OriginalMessage") or err.response.get("Error", {}).get(
            "Message", ""
        )
        report.add(
            "malformed-payload-4xx",
            isinstance(status, int) and 400 <= status < 500 and bool(message),
            f"status {status}: {message}",
        )
    return report
