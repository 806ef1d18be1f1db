"""The sandbox's deployment guardrails (sandbox/guardrails.py) below the deploy flow: the
traffic plan of each routing type, and the stack alarms they watch (moto patch
cloudwatch_alarm_resource). The flows themselves are in tests/modeldeploy/
test_guarded_rollout.py. The breaks of the guardrail patches are in BREAKS, for
test_moto_patches."""

from __future__ import annotations

import json

import pytest

from sandbox.guardrails import shares

ALARM_TEMPLATE = {
    "Parameters": {"Threshold": {"Type": "Number"}},
    "Resources": {
        "Errors": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocation5XXErrors",
                "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": {"Ref": "Threshold"},
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Errors"}}},
    },
}


@pytest.mark.parametrize(
    ("traffic", "expected"),
    [
        ({"Type": "ALL_AT_ONCE"}, [("all at once", 1.0)]),
        (
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            [("canary 10%", 0.1), ("all traffic", 1.0)],
        ),
        (
            {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}},
            [("canary 25%", 0.25), ("all traffic", 1.0)],
        ),
        (
            {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 30}},
            [("linear 30%", 0.3), ("linear 60%", 0.6), ("linear 90%", 0.9), ("linear 100%", 1.0)],
        ),
    ],
)
def test_traffic_shifts_of_each_routing_type(traffic, expected):
    got = shares(traffic, green_instances=4)
    assert [(name, round(share, 6)) for name, share in got] == expected


def test_stack_alarm_is_created_referenced_updated_in_place_and_deleted(sandbox):
    cloudformation = sandbox.client("cloudformation")
    cloudwatch = sandbox.client("cloudwatch")
    body = json.dumps(ALARM_TEMPLATE)
    cloudformation.create_stack(
        StackName="alarm-stack",
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "1"}],
    )
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="alarm-stack-Errors-")["MetricAlarms"]
    assert [(a["MetricName"], a["Threshold"]) for a in alarms] == [("Invocation5XXErrors", 1.0)]
    name = alarms[0]["AlarmName"]
    # Ref gives the alarm's name (what an Endpoint's AutoRollbackConfiguration names).
    topics = [t["TopicArn"] for t in sandbox.client("sns").list_topics()["Topics"]]
    assert any(t.endswith(f":{name}") for t in topics)

    cloudformation.update_stack(
        StackName="alarm-stack",
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "5"}],
    )
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="alarm-stack-Errors-")["MetricAlarms"]
    assert [(a["AlarmName"], a["Threshold"]) for a in alarms] == [(name, 5.0)]

    cloudformation.delete_stack(StackName="alarm-stack")
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


# --- the guardrail patches' checks of moto's internals (run by test_moto_patches) ----------


def _break_cloudwatch_alarm_resource(monkeypatch):
    from moto.cloudwatch.models import CloudWatchBackend

    monkeypatch.delattr(CloudWatchBackend, "delete_alarms")
    return "CloudWatchBackend.delete_alarms does not exist"


def _break_stack_update_rollback(monkeypatch):
    from moto.cloudformation.parsing import ResourceMap

    monkeypatch.delattr(ResourceMap, "_delete_resource")
    return "ResourceMap._delete_resource does not exist"


def _break_endpoint_update(monkeypatch):
    from moto.sagemaker.models import FakeEndpoint

    monkeypatch.delattr(FakeEndpoint, "_process_production_variants")
    return "FakeEndpoint._process_production_variants does not exist"


BREAKS = {
    "cloudwatch_alarm_resource": _break_cloudwatch_alarm_resource,
    "stack_update_rollback": _break_stack_update_rollback,
    "endpoint_update": _break_endpoint_update,
}


@pytest.mark.parametrize(
    ("statistic", "extended", "expected"),
    [("Sum", None, 5050.0), ("Average", None, 50.5), ("Maximum", None, 100.0), (None, "p99", 99.0)],
)
def test_alarm_statistics_of_a_period(statistic, extended, expected):
    from types import SimpleNamespace

    from sandbox.metric_alarms import statistic as compute

    alarm = SimpleNamespace(statistic=statistic, extended_statistic=extended)
    assert compute(alarm, [float(v) for v in range(100, 0, -1)]) == expected
