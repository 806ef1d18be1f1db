"""The endpoint template's parameter rules are what build.py checks (test_wiring.py lints it)."""

from __future__ import annotations

from modeldeploy.stage_config import TEMPLATE, template_parameters


def test_every_parameter_is_described_and_constrained():
    for name, rule in template_parameters().items():
        assert rule.get("Description"), name
        assert {"AllowedValues", "AllowedPattern", "MinValue", "Default"} & set(rule), name


def _resources() -> dict:
    import yaml

    from modeldeploy.stage_config import _CfnLoader

    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"]


def test_prod_only_resources_are_conditional():
    resources = _resources()
    for name in ("ScalableTarget", "InvocationsScalingPolicy"):
        assert resources[name]["Condition"] == "IsProd", name
    # The rollback alarms and the shadow follow the stage config's switches.
    for name in ("Invocation5xxAlarm", "ModelLatencyAlarm"):
        assert resources[name]["Condition"] == "UseRollbackAlarms", name
    assert resources["ShadowModel"]["Condition"] == "HasShadow"


def test_latency_alarm_watches_p99_and_both_alarms_roll_deployments_back():
    resources = _resources()
    assert resources["ModelLatencyAlarm"]["Properties"]["ExtendedStatistic"] == "p99"
    assert resources["Invocation5xxAlarm"]["Properties"]["MetricName"] == "Invocation5XXErrors"
    rollback = resources["Endpoint"]["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]
    condition, alarms, _ = rollback  # !If [UseRollbackAlarms, {Alarms: [...]}, NoValue]
    assert condition == "UseRollbackAlarms"
    assert [a["AlarmName"] for a in alarms["Alarms"]] == ["Invocation5xxAlarm", "ModelLatencyAlarm"]
