"""The smoke test of a deployed stage: it really invokes the endpoint.

Knows no model: what to send and what to expect is the served package's own inference
contract (modeldeploy/contract.py), registered with it by the model-build pipeline.
Checks, in order: the endpoint is InService; it serves the manifest's package; that
package has a readable contract; the contract's sample rows, in each content type it
lists, get one prediction per row that keeps the contract's rules (and the same answer for
every content type); p95 latency is within budget; the contract's invalid payload gets a
4xx with a message, not a 5xx.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field

from botocore.exceptions import ClientError

from modeldeploy.contract import ContractError, load_contract
from modeldeploy.errors import DeployError

CHECK_NAMES = {"text/csv": "csv-predictions", "application/json": "json-predictions"}


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


def _invoke(runtime, endpoint: str, body: str, content_type: str):
    """The endpoint's JSON answer; raises ClientError, or ValueError for a non-JSON one."""
    response = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=body.encode(),
        ContentType=content_type,
        Accept="application/json",
    )
    return json.loads(response["Body"].read())


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
        contract = load_contract(sagemaker, s3, serving)
    except ContractError as err:
        report.add("contract", False, str(err))
        return report
    rows = contract.sample
    report.add(
        "contract",
        True,
        f"{contract.uri}: {len(rows)} sample rows as {', '.join(contract.content_types)}",
    )

    answers = {}
    for content_type in contract.content_types:
        name = CHECK_NAMES[content_type]
        try:
            answers[content_type] = _invoke(
                runtime, endpoint, contract.body(content_type, rows), content_type
            )
        except (ClientError, ValueError) as err:
            report.add(name, False, f"invocation failed: {' '.join(str(err).split())}")
            return report
        problem = contract.check_response(answers[content_type], len(rows))
        report.add(name, problem is None, problem or f"{len(rows)} rows scored")
    if len(answers) > 1:
        report.add(
            "csv-json-agree",
            len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1,
            f"{' and '.join(answers)} payloads of the same rows got the same predictions",
        )

    first_type = contract.content_types[0]
    single = contract.body(first_type, rows[:1])
    timings = []
    for _ in range(latency_requests):
        started = time.perf_counter()
        try:
            _invoke(runtime, endpoint, single, first_type)
        except (ClientError, ValueError) as err:
            report.add("latency-p95", False, f"invocation failed: {' '.join(str(err).split())}")
            return report
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
        _invoke(runtime, endpoint, contract.invalid_body, contract.invalid_content_type)
        report.add("malformed-payload-4xx", False, "the contract's invalid payload was accepted")
    except ValueError:
        report.add("malformed-payload-4xx", False, "the invalid payload got a non-JSON 2xx answer")
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
