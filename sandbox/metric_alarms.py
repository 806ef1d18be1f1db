"""CloudWatch as SageMaker deployment guardrails need it, on moto's CloudWatch: an
endpoint variant's metrics published, and a metric alarm evaluated from them.

moto stores PutMetricData and alarms but never evaluates an alarm: its state stays what
PutMetricAlarm or SetAlarmState made it. `evaluate` does what CloudWatch does for a metric
alarm on one metric: the statistic (Sum, Average, SampleCount, Minimum, Maximum) or
extended statistic (pNN) of each of the last EvaluationPeriods periods, compared with the
threshold; ALARM when at least DatapointsToAlarm of them breach (TreatMissingData
`breaching` counts an empty period as one). Periods are scaled as the sandbox scales time
(sandbox/guardrails.py).
"""

from __future__ import annotations

import json
import math

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import utcnow

from sandbox.constants import REGION

NAMESPACE = "AWS/SageMaker"
VALUES_PER_DATUM = 150  # PutMetricData's limit of Values in one datum
_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def publish(account: str, endpoint: str, variant: str, pending: list[tuple[str, float]]) -> None:
    """PutMetricData (moto's CloudWatch, in this process) of an endpoint variant's
    per-request values, as SageMaker publishes them: counts summed, latencies each."""
    if not pending:
        return
    dimensions = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": variant},
    ]
    by_name: dict[str, list[float]] = {}
    for name, value in pending:
        by_name.setdefault(name, []).append(value)
    now = utcnow()
    data = []
    for name, values in by_name.items():
        if name == "ModelLatency":  # every value: the alarms read percentiles of them
            data += [
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Values": values[i : i + VALUES_PER_DATUM],
                    "Unit": "Microseconds",
                }
                for i in range(0, len(values), VALUES_PER_DATUM)
            ]
        else:
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": sum(values),
                }
            )
    cloudwatch_backends[account][REGION].put_metric_data(NAMESPACE, data)


def statistic(alarm, values: list[float]) -> float:
    """The alarm's statistic (or percentile) of one period's values."""
    if alarm.extended_statistic:
        ordered = sorted(values)
        rank = float(alarm.extended_statistic[1:]) / 100
        return ordered[min(len(ordered) - 1, max(0, math.ceil(rank * len(ordered)) - 1))]
    return {
        "Sum": sum,
        "Average": lambda v: sum(v) / len(v),
        "SampleCount": len,
        "Maximum": max,
        "Minimum": min,
    }[alarm.statistic](values)


def evaluate(account: str, alarm_name: str, scale: float, min_period: float) -> str | None:
    """Evaluate a metric alarm over its last evaluation periods, each `Period` x `scale`
    seconds (at least `min_period`), set its state as SetAlarmState does if it changed, and
    return the state (None: no such alarm)."""
    backend = cloudwatch_backends[account][REGION]
    alarm = backend.alarms.get(alarm_name)
    if alarm is None:
        return None
    period = max(min_period, float(alarm.period) * scale)
    now = utcnow()
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    datapoints = [
        datum
        for datum in backend.metric_data
        if datum.namespace == alarm.namespace
        and datum.name == alarm.metric_name
        and wanted <= {(d.name, d.value) for d in datum.dimensions}
    ]
    breaching = 0
    for index in range(int(alarm.evaluation_periods)):
        high = now.timestamp() - index * period
        low = high - period
        values = [
            float(d.value)
            for d in datapoints
            if getattr(d, "value", None) is not None and low <= d.timestamp.timestamp() < high
        ]
        if not values:
            breaching += alarm.treat_missing_data == "breaching"
            continue
        value = statistic(alarm, values)
        breaching += _COMPARE[alarm.comparison_operator](value, float(alarm.threshold))
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    state = "ALARM" if breaching >= needed else "OK"
    if state != alarm.state_value:
        backend.set_alarm_state(
            alarm_name,
            f"Threshold Crossed: {breaching} of the last {alarm.evaluation_periods} datapoints "
            f"{'breached' if state == 'ALARM' else 'within'} the threshold ({alarm.threshold}) "
            f"[sandbox time scale {scale}]",
            json.dumps({"version": "1.0", "evaluatedDatapoints": breaching}),
            state,
        )
    return state
