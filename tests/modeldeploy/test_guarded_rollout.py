"""Guarded prod rollouts in the sandbox: deploy.py updates prod through the template's
blue/green canary (prod-config.json: 10 %, then the rest), while a client keeps invoking the
endpoint; a healthy model takes all traffic in order, a model that errors on its canary
share trips the 5XX alarm and the endpoint (and the stack) go back to the old package."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from modeldeploy.smoke import served_package
from sandbox import cli, guardrails
from tests.modeldeploy.conftest import variant_archive

# Right, but 200 ms a request (imports the churn model's handlers, as variant_archive sets up).
SLOW_PREDICT = """
import time

import inference_churn


def predict_fn(data, model):
    time.sleep(0.2)
    return inference_churn.predict_fn(data, model)
"""


@pytest.fixture(name="slow_archive", scope="module")
def fixture_slow_archive(model_dir: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("slow")
    return variant_archive(model_dir, folder / "model.tar.gz", SLOW_PREDICT)


class Traffic:
    """A client invoking an endpoint in a loop (the production traffic a canary sees), and
    describing it every tenth request (what an operator watching the update sees)."""

    def __init__(self, runtime, sagemaker, endpoint: str, body: str):
        self.runtime, self.sagemaker, self.endpoint, self.body = runtime, sagemaker, endpoint, body
        self.ok = self.failed = 0
        self.described: list[tuple[str, str | None]] = []  # (status, pending config)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if (self.ok + self.failed) % 10 == 0:
                described = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)
                pending = described.get("PendingDeploymentSummary", {})
                self.described.append(
                    (described["EndpointStatus"], pending.get("EndpointConfigName"))
                )
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint, Body=self.body.encode(), ContentType="text/csv"
                )
                self.ok += 1
            except ClientError:
                self.failed += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[Traffic]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def _traffic(registry, endpoint: str) -> Traffic:
    contract = registry.churn_contract
    row = contract["sample"][0]
    body = ",".join("" if row[c] is None else str(row[c]) for c in contract["columns"])
    return Traffic(
        boto3.client("sagemaker-runtime"), boto3.client("sagemaker"), endpoint, body + "\n"
    )


def _prod_config(flow, **parameters: str) -> None:
    """Change parameters of the prod config build.py wrote."""
    path = flow.path("prod-config-export.json")
    config = json.loads(path.read_text())
    config["Parameters"].update(parameters)
    path.write_text(json.dumps(config))


def _latest(endpoint: str) -> dict:
    return guardrails.history(endpoint)[-1]


def test_healthy_canary_update_shifts_traffic_in_order_and_ends_on_the_new_config(
    registry, flow, sandbox, capsys
):
    registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    endpoint = f"{flow.project}-prod"
    before = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    newer = registry.register(flow.group)
    assert flow.build() == 0
    # Behaviour, not speed, is under test: a busy machine must not trip the p99 alarm.
    _prod_config(flow, LatencyAlarmThresholdMicroseconds="5000000")

    with _traffic(registry, endpoint).running() as traffic:
        assert flow.deploy("prod") == 0
    assert traffic.failed == 0 and traffic.ok > 0

    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointArn"] == before["EndpointArn"]  # updated, not replaced
    assert described["EndpointConfigName"] != before["EndpointConfigName"]
    assert served_package(registry.sagemaker, described) == newer
    assert "FailureReason" not in described
    policy = described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    # The old fleet's config went in the stack's cleanup, after the update succeeded.
    with pytest.raises(ClientError):
        registry.sagemaker.describe_endpoint_config(EndpointConfigName=before["EndpointConfigName"])

    deployment = _latest(endpoint)
    assert deployment["outcome"] == "Succeeded"
    stages = deployment["stages"]
    assert [s["name"] for s in stages] == ["canary 10%", "all traffic", "termination wait"]
    assert [s["green_share"] for s in stages] == [0.1, 1.0, 1.0]
    canary, rest = stages[0], stages[1]
    # Exactly one request in ten went to the new fleet while the canary baked, then all.
    assert canary["green_requests"] >= 1
    assert 0.05 <= canary["observed_green_share"] <= 0.1
    assert rest["green_requests"] >= 1 and rest["observed_green_share"] == 1.0
    assert [t["status"] for t in deployment["transitions"]][-1] == "InService"
    assert "Updating" in {t["status"] for t in deployment["transitions"]}
    # DescribeEndpoint said Updating, naming the new config as pending, while both served.
    assert ("Updating", deployment["green_config"]) in traffic.described
    assert traffic.described[-1][0] == "InService"

    # What a person sees: the stages, in order, with the traffic each fleet served.
    capsys.readouterr()
    assert cli.main(["--home", str(sandbox.home), "endpoint-deployments", endpoint]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[-4].endswith(": Succeeded") and "CANARY deployment" in shown[-4]
    assert [" ".join(line.split()[:2]) for line in shown[-3:]] == [
        "canary 10%",
        "all traffic",
        "termination wait",
    ]
    assert f"{canary['green_requests']} new / {canary['blue_requests']} old" in shown[-3]


def test_canary_that_errors_trips_the_alarm_and_prod_returns_to_the_old_package(
    registry, flow, failing_archive, capsys
):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    endpoint = f"{flow.project}-prod"
    before = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    registry.register(flow.group, archive=failing_archive)
    assert flow.build() == 0
    capsys.readouterr()

    with _traffic(registry, endpoint).running() as traffic:
        assert flow.deploy("prod") == 1
    error = capsys.readouterr().err
    assert traffic.ok > 0 and traffic.failed >= 1  # the canary's share failed

    # deploy.py says what happened and what serves now.
    assert "UPDATE_ROLLBACK_COMPLETE" in error
    assert "rolled back by its deployment guardrails" in error
    assert "Invocation5xxAlarm" in error and "in ALARM state" in error
    assert before["EndpointConfigName"] in error and good in error

    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == before["EndpointConfigName"]
    assert "in ALARM state" in described["FailureReason"]
    assert described["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert served_package(registry.sagemaker, described) == good

    # The stack rolled back: old parameters, the new fleet's config and model deleted.
    stack = boto3.client("cloudformation").describe_stacks(StackName=endpoint)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["ModelPackageName"] == good
    deployment = _latest(endpoint)
    with pytest.raises(ClientError):
        registry.sagemaker.describe_endpoint_config(EndpointConfigName=deployment["green_config"])

    # The alarm that fired is in ALARM, set from the runtime's own 5XX counts.
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{flow.project}-prod")
    states = {a["MetricName"]: a["StateValue"] for a in alarms["MetricAlarms"]}
    assert states["Invocation5XXErrors"] == "ALARM"

    assert deployment["outcome"] == "RolledBack"
    assert [s["name"] for s in deployment["stages"]] == ["canary 10%", "rollback"]
    assert deployment["stages"][0]["green_errors"] >= 1
    assert [t["status"] for t in deployment["transitions"]][-2:] == ["RollingBack", "InService"]

    # And the old package answers again.
    body = _traffic(registry, endpoint).body
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body.encode(), ContentType="text/csv"
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_linear_update_over_the_latency_budget_rolls_back_on_the_p99_alarm(
    registry, flow, slow_archive, capsys
):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    endpoint = f"{flow.project}-prod"
    registry.register(flow.group, archive=slow_archive)
    assert flow.build() == 0
    # Half the traffic per step; the p99 budget (100 ms) is what the slow model misses.
    _prod_config(
        flow,
        TrafficRoutingType="LINEAR",
        TrafficShiftPercent="50",
        LatencyAlarmThresholdMicroseconds="100000",
    )
    capsys.readouterr()
    with _traffic(registry, endpoint).running() as traffic:
        assert flow.deploy("prod") == 1
    assert traffic.failed == 0  # slow, never wrong: only the latency alarm can see it
    error = capsys.readouterr().err
    assert "ModelLatencyAlarm" in error and "rolled back by its deployment guardrails" in error

    deployment = _latest(endpoint)
    assert deployment["routing_type"] == "LINEAR"
    assert [s["name"] for s in deployment["stages"]] == ["linear 50%", "rollback"]
    assert deployment["stages"][0]["green_requests"] >= 1
    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert served_package(registry.sagemaker, described) == good
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{flow.project}-prod")
    latency = next(a for a in alarms["MetricAlarms"] if a["MetricName"] == "ModelLatency")
    assert "ModelLatencyAlarm" in described["FailureReason"]
    # The update had lowered the alarm's threshold; the stack's rollback put the old one back.
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 300000.0)


def test_prod_shadow_variant_runs_the_named_package_beside_production(registry, flow):
    shadow = registry.register(flow.group)
    live = registry.register(flow.group)
    assert flow.build() == 0
    _prod_config(flow, ShadowModelPackageName=shadow)
    assert flow.deploy("staging") == 0 and flow.smoke("staging") == 0
    assert flow.deploy("prod") == 0  # the smoke test after it checks what production serves
    endpoint = f"{flow.project}-prod"
    assert (
        served_package(
            registry.sagemaker, registry.sagemaker.describe_endpoint(EndpointName=endpoint)
        )
        == live
    )
    resources = boto3.client("cloudformation").describe_stack_resources(StackName=endpoint)
    models = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == "AWS::SageMaker::Model"
    }
    shadow_model = registry.sagemaker.describe_model(ModelName=models["ShadowModel"].split("/")[-1])
    assert shadow_model["PrimaryContainer"]["ModelPackageName"] == shadow
