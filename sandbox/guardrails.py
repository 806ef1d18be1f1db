"""SageMaker deployment guardrails, emulated: a blue/green endpoint update that shifts
traffic in stages, bakes while it watches CloudWatch alarms, and rolls back on one.

AWS: UpdateEndpoint (which CloudFormation calls for an AWS::SageMaker::Endpoint whose
config changed) with a `DeploymentConfig` brings up the new (green) fleet beside the old
(blue) one, then shifts traffic as `TrafficRoutingConfiguration` says — ALL_AT_ONCE, CANARY
(the canary share, then the rest) or LINEAR (a step at a time) — with a baking period of
`WaitIntervalInSeconds` after each shift and `TerminationWaitInSeconds` before the blue
fleet goes. If an alarm of `AutoRollbackConfiguration` is in ALARM meanwhile (or
`MaximumExecutionTimeoutInSeconds` passes), all traffic goes back to blue and the update
fails: DescribeEndpoint shows the old EndpointConfigName, a FailureReason and the
LastDeploymentConfig. moto has no UpdateEndpoint and evaluates no alarm.

Here (the moto patch `endpoint_update` calls `run_update` from the stack update):
- the endpoint runtime asks `route` which fleet serves each InvokeEndpoint: the configured
  share goes to green, deterministically (exactly 1 request in 10 for a 10 % canary);
- the runtime reports each answer to `observe`; while a deployment runs, the counts are
  published into moto's CloudWatch as SageMaker does (AWS/SageMaker: Invocations,
  Invocation4XXErrors, Invocation5XXErrors, ModelLatency in microseconds; dimensions
  EndpointName and VariantName) — only then: nothing else reads them, and a busy endpoint
  would otherwise grow moto's metric list (and the state snapshot) without end;
- the rollback alarms are evaluated from those metrics every tick (sandbox/metric_alarms.py:
  statistic or percentile such as p99, period, evaluation periods, datapoints to alarm,
  comparison, missing-data rule) and their state set as SetAlarmState does.

Time is scaled: one AWS second lasts `time_scale()` sandbox seconds
(SANDBOX_GUARDRAILS_TIME_SCALE, default 0.005: prod's 300 s canary bake takes 1.5 s, a
60 s alarm period 0.3 s), so a guarded deployment takes seconds. The stages, the traffic
each fleet got and the status transitions are kept per endpoint (`history`) and written to
`<home>/endpoints/<name>.deployments.json` (sandbox/deployment_journal.py reads it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends

from sandbox import metric_alarms
from sandbox.constants import ACCOUNT_ID, REGION
from sandbox.deployment_journal import journal_path, read_journal

logger = logging.getLogger(__name__)
TIME_SCALE_VARIABLE = "SANDBOX_GUARDRAILS_TIME_SCALE"
DEFAULT_TIME_SCALE = 0.005
TICK_SECONDS = 0.02  # how often a bake publishes metrics and evaluates the alarms
JOURNAL_KEEP = 20  # deployments kept per endpoint


def time_scale() -> float:
    """Sandbox seconds per AWS second (read at each deployment, so a test may set it)."""
    try:
        return max(0.0, float(os.environ.get(TIME_SCALE_VARIABLE, DEFAULT_TIME_SCALE)))
    except ValueError:
        return DEFAULT_TIME_SCALE


@dataclass
class Stage:
    """One traffic shift and its baking period, with the traffic each fleet really got."""

    name: str
    green_share: float
    started: str
    blue_requests: int = 0
    green_requests: int = 0
    green_errors: int = 0
    blue_errors: int = 0

    @property
    def observed_green_share(self) -> float | None:
        total = self.blue_requests + self.green_requests
        return self.green_requests / total if total else None


@dataclass
class Deployment:
    account: str
    endpoint: str
    blue_config: str
    green_config: str
    routing_type: str
    variant: str
    alarms: list[str]
    stages: list[Stage] = field(default_factory=list)
    transitions: list[dict] = field(default_factory=list)
    outcome: str = "InProgress"
    failure_reason: str | None = None
    _routed: int = 0
    _metrics: list[tuple[str, str, float]] = field(default_factory=list)  # (fleet, name, value)

    def to_json(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        for stage, source in zip(data["stages"], self.stages, strict=True):
            stage["observed_green_share"] = source.observed_green_share
        return data


_lock = threading.Lock()
_active: dict[tuple[str, str], Deployment] = {}  # by (account, endpoint name)
_history: dict[str, list[Deployment]] = {}
# The endpoint runtimes of the sandboxes running in this process, the latest last: moto's
# state is process-wide, so the latest sandbox serves the endpoints (as MOTO_PORT goes).
_runtimes: list[dict] = []


def attach(folder: Path, provision: Callable[[str, str, str], object]) -> None:
    """The endpoint runtime: deployments are written under `folder`, and
    `provision(endpoint, account, config)` brings up a new fleet (loads its model; raises
    when it cannot), as SageMaker does before it shifts any traffic."""
    with _lock:
        _runtimes.append({"folder": Path(folder), "provision": provision})


def detach(provision: Callable[[str, str, str], object]) -> None:
    """The runtime `provision` belongs to has stopped: the one before it serves again."""
    with _lock:
        _runtimes[:] = [r for r in _runtimes if r["provision"] != provision]


def _runtime() -> dict:
    with _lock:
        return _runtimes[-1] if _runtimes else {}


# --- the runtime's side: routing and observing each request --------------------------------


def route(endpoint_name: str, account: str = ACCOUNT_ID) -> tuple[str | None, str | None]:
    """(the endpoint config to serve this request with, the fleet: "blue" or "green"), or
    (None, None) when no deployment runs (the endpoint's own config serves)."""
    with _lock:
        deployment = _active.get((account, endpoint_name))
        if deployment is None or not deployment.stages:
            return None, None
        stage = deployment.stages[-1]
        deployment._routed += 1
        n = deployment._routed
        # Deterministic weighted round robin: green gets exactly its share of each run.
        green = math.floor(n * stage.green_share) > math.floor((n - 1) * stage.green_share)
        if green:
            stage.green_requests += 1
            return deployment.green_config, "green"
        stage.blue_requests += 1
        return deployment.blue_config, "blue"


def observe(
    endpoint_name: str,
    fleet: str | None,
    status: int,
    latency_seconds: float,
    account: str = ACCOUNT_ID,
) -> None:
    """Record one answer of a fleet (the runtime calls this for every request it routed)."""
    if fleet is None:
        return
    with _lock:
        deployment = _active.get((account, endpoint_name))
        if deployment is None:
            return
        if status >= 500 and deployment.stages:
            stage = deployment.stages[-1]
            if fleet == "green":
                stage.green_errors += 1
            else:
                stage.blue_errors += 1
        deployment._metrics += [
            (fleet, "Invocations", 1.0),
            (fleet, "Invocation4XXErrors", 1.0 if 400 <= status < 500 else 0.0),
            (fleet, "Invocation5XXErrors", 1.0 if status >= 500 else 0.0),
            (fleet, "ModelLatency", latency_seconds * 1_000_000),
        ]


# --- the deployment ------------------------------------------------------------------------


def shares(traffic: dict, green_instances: int) -> list[tuple[str, float]]:
    """The traffic shifts of a TrafficRoutingConfiguration: (stage name, green share)."""
    kind = traffic.get("Type", "ALL_AT_ONCE")

    def fraction(size: dict) -> float:
        value = float(size.get("Value", 100))
        if size.get("Type") == "INSTANCE_COUNT":
            return min(1.0, value / max(1, green_instances))
        return min(1.0, value / 100)

    if kind == "CANARY":
        canary = fraction(traffic.get("CanarySize") or {})
        return [(f"canary {canary:.0%}", canary), ("all traffic", 1.0)]
    if kind == "LINEAR":
        step = fraction(traffic.get("LinearStepSize") or {})
        count = math.ceil(1 / step) if step > 0 else 1
        steps = [min(1.0, step * k) for k in range(1, count + 1)]
        return [(f"linear {s:.0%}", s) for s in steps]
    return [("all at once", 1.0)]


def switch(endpoint, config_name: str) -> None:
    """Move moto's `endpoint` to `config_name` at once (an update without guardrails)."""
    account = endpoint.arn.split(":")[4]
    variants = sagemaker_backends[account][REGION].endpoint_configs[config_name]
    with _lock:
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(
            variants.production_variants
        )
    endpoint.failure_reason = None
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()


def run_update(endpoint, green_config: str, deployment_config: dict | None) -> str | None:
    """Move moto's `endpoint` to `green_config` as a guarded blue/green deployment; blocks
    for the (scaled) deployment. Returns None when the endpoint ends on the new config, or
    the failure reason when it rolled back (it then serves its old config, as on AWS)."""
    deployment_config = _without_none(deployment_config or {})
    policy = deployment_config.get("BlueGreenUpdatePolicy") or {}
    traffic = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
    alarms = [
        a["AlarmName"]
        for a in (deployment_config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    ]
    scale = time_scale()
    variant = (endpoint.production_variants or [{}])[0].get("VariantName", "AllTraffic")
    account = endpoint.arn.split(":")[4]
    green_variants = (
        sagemaker_backends[account][REGION].endpoint_configs[green_config].production_variants
    )
    deployment = Deployment(
        account=account,
        endpoint=endpoint.endpoint_name,
        blue_config=endpoint.endpoint_config_name,
        green_config=green_config,
        routing_type=traffic.get("Type", "ALL_AT_ONCE"),
        variant=variant,
        alarms=alarms,
    )
    endpoint.endpoint_status = "Updating"
    endpoint.pending_deployment_summary = {
        "EndpointConfigName": green_config,
        "StartTime": utcnow(),
    }
    _transition(deployment, "Updating", f"{deployment.routing_type} deployment of {green_config}")
    with _lock:
        _active[(account, deployment.endpoint)] = deployment
        _history.setdefault(deployment.endpoint, []).append(deployment)
    timeout = float(policy.get("MaximumExecutionTimeoutInSeconds", 3600)) * scale
    deadline = time.monotonic() + timeout
    wait = float(traffic.get("WaitIntervalInSeconds", 0))
    reason = _provision(deployment)
    try:
        instances = int((green_variants or [{}])[0].get("InitialInstanceCount", 1))
        plan = shares(traffic, instances)
        plan.append(("termination wait", 1.0))
        for index, (name, share) in enumerate([] if reason else plan):
            last = index == len(plan) - 1
            seconds = float(policy.get("TerminationWaitInSeconds", 0)) if last else wait
            _begin_stage(deployment, name, share)
            _transition(
                deployment,
                "Updating",
                f"{name}: {share:.0%} of traffic on the new fleet, {seconds:.0f} s",
            )
            reason = _bake(deployment, seconds * scale, deadline, scale)
            if reason:
                break
    except Exception as err:  # noqa: BLE001 — a fault here must not leave a half-shifted endpoint
        logger.exception("deployment of %s", green_config)
        reason = f"Deployment failed: sandbox error: {err}"
    finally:
        if reason:
            _begin_stage(deployment, "rollback", 0.0)
            endpoint.endpoint_status = "RollingBack"
            _transition(deployment, "RollingBack", reason)
        with _lock:
            _active.pop((account, deployment.endpoint), None)
            if reason is None:
                endpoint.endpoint_config_name = green_config
                endpoint.production_variants = endpoint._process_production_variants(green_variants)
        endpoint.pending_deployment_summary = None
        endpoint.last_deployment_config = deployment_config or None
        endpoint.failure_reason = reason
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()
        deployment.outcome = "RolledBack" if reason else "Succeeded"
        deployment.failure_reason = reason
        _transition(
            deployment,
            "InService",
            f"serving {endpoint.endpoint_config_name}"
            + (" (the old configuration)" if reason else ""),
        )
        _write_journal(deployment)
    return reason


def _provision(deployment: Deployment) -> str | None:
    """Bring up the new fleet; the rollback reason when it cannot serve."""
    provision = _runtime().get("provision")
    _transition(deployment, "Updating", f"creating the new fleet ({deployment.green_config})")
    if provision is None:
        return None
    try:
        provision(deployment.endpoint, deployment.account, deployment.green_config)
    except Exception as err:  # noqa: BLE001 — whatever stops the fleet fails the update
        return f"Deployment failed: the new fleet could not start: {err}"
    return None


def _bake(deployment: Deployment, seconds: float, deadline: float, scale: float) -> str | None:
    """Wait `seconds`, publishing metrics and evaluating the alarms every tick; returns a
    rollback reason, or None."""
    end = time.monotonic() + seconds
    while True:
        _publish(deployment)
        for name in deployment.alarms:
            if metric_alarms.evaluate(deployment.account, name, scale, TICK_SECONDS) == "ALARM":
                return (
                    f"Deployment rolled back: CloudWatch alarm {name} is in ALARM state "
                    f"during the {deployment.stages[-1].name} stage."
                )
        now = time.monotonic()
        if now >= deadline:
            return "Deployment rolled back: MaximumExecutionTimeoutInSeconds exceeded."
        if now >= end:
            return None
        time.sleep(min(TICK_SECONDS, max(0.0, end - now)))


def _begin_stage(deployment: Deployment, name: str, share: float) -> None:
    with _lock:
        deployment.stages.append(Stage(name, share, utcnow().isoformat()))
        deployment._routed = 0


def _transition(deployment: Deployment, status: str, detail: str) -> None:
    deployment.transitions.append(
        {"time": utcnow().isoformat(), "status": status, "detail": detail}
    )
    logger.info("endpoint %s: %s — %s", deployment.endpoint, status, detail)


def _without_none(value):
    """A CloudFormation property with `!Ref AWS::NoValue` branches (None) left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def _publish(deployment: Deployment) -> None:
    """PutMetricData of what the fleets answered since the last tick."""
    with _lock:
        pending, deployment._metrics = deployment._metrics, []
    metric_alarms.publish(
        deployment.account, deployment.endpoint, deployment.variant, [(n, v) for _, n, v in pending]
    )


# --- what happened -------------------------------------------------------------------------


def history(endpoint_name: str) -> list[dict]:
    """The endpoint's guarded deployments since the sandbox started, oldest first."""
    with _lock:
        return [d.to_json() for d in _history.get(endpoint_name, [])]


def _write_journal(deployment: Deployment) -> None:
    """Add a finished deployment to its endpoint's journal (the last JOURNAL_KEEP kept; it
    outlives the sandbox process, as the endpoint does)."""
    folder = _runtime().get("folder")
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _lock:
            record = deployment.to_json()
        records = read_journal(folder, deployment.endpoint) + [record]
        journal_path(folder, deployment.endpoint).write_text(
            json.dumps(records[-JOURNAL_KEEP:], indent=1) + "\n"
        )
    except (OSError, ValueError) as err:  # for people only: the deployment has happened
        logger.warning("could not write the deployment journal of %s: %s", deployment.endpoint, err)
