"""The monitoring job: an endpoint's captured traffic against its model's baseline, in
SageMaker Model Monitor's formats, run by the stage's MonitoringSchedule.

It is a custom ("bring your own container") Model Monitor job: the schedule starts it with
Model Monitor's container contract, the environment variables
`dataset_source` (captured data, as `<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`),
`output_path`, `baseline_statistics` and `baseline_constraints` (the files the schedule's
BaselineConfig names: the Baseline step's, registered with the package),
`sagemaker_endpoint_name`, `sagemaker_monitoring_schedule_name`, `start_time`, `end_time`,
`publish_cloudwatch_metrics`. The job runs in the scikit-learn image (pandas, boto3) and is
shipped alone, so it imports nothing from the project.

Per baseline feature it checks, as Model Monitor's data-quality analysis does, and writes
`constraint_violations.json` ({"violations": [{"feature_name", "constraint_check_type",
"description"}]}):
- missing_column_check / extra_column_check: fewer or more columns than the baseline;
- completeness_check: the share of present values below the constraint's `completeness`;
- data_type_check: the share of values of the baseline's type below
  `datatype_check_threshold` (a word where a number was, a fraction in an Integral column);
- categorical_values_check: the share of values inside the baseline's `domains` below
  `domain_content_threshold`;
- baseline_drift_check: the L-infinity distance between the baseline's and the traffic's
  distributions (numeric: the largest gap between the two cumulative distributions, the
  Kolmogorov-Smirnov statistic, against the baseline's sketch; categorical: the largest gap
  between category frequencies) above `comparison_threshold`.
It also writes `feature_drift.json` (every feature's distance and threshold, violated or
not) and, with `publish_cloudwatch_metrics` Enabled, the `feature_baseline_drift_<name>`
metrics where Model Monitor publishes a custom container's metrics from.

A violation is sent to EventBridge (PutEvents, source `EVENT_SOURCE`, detail-type
`EVENT_DETAIL_TYPE`), where the orchestration stack's rule starts the lifecycle state
machine: retraining.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

EVENT_SOURCE = "mlops.model-monitor"
EVENT_DETAIL_TYPE = "Model Monitor Constraint Violations"
VIOLATIONS_FILE = "constraint_violations.json"
DRIFT_FILE = "feature_drift.json"
METRICS_DIR = "/opt/ml/output/metrics/cloudwatch"  # Model Monitor publishes what is here
NUMERIC = ("Integral", "Fractional")


class MonitoringError(Exception):
    """The job cannot run (no baseline, no captured data); the message says which."""


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    def as_dict(self) -> dict:
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


# --- captured data --------------------------------------------------------------------------


def capture_files(dataset_source: Path) -> list[Path]:
    return sorted(p for p in dataset_source.rglob("*.jsonl") if p.is_file())


def _decoded(record: dict) -> tuple[str, str]:
    """(content type, text) of a capture record's endpointInput."""
    data = record["captureData"]["endpointInput"]
    text = data.get("data", "")
    if data.get("encoding") == "BASE64":
        text = base64.b64decode(text).decode("utf-8")
    return data.get("observedContentType", ""), text


def _csv_rows(text: str, features: list[str]) -> list[dict | list]:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if rows and rows[0] == features[: len(rows[0])] and len(rows[0]) == len(features):
        return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]
    return rows


def _json_rows(text: str) -> list[dict | list]:
    payload = json.loads(text)
    if isinstance(payload, dict):
        payload = payload.get("instances", [payload])
    return payload if isinstance(payload, list) else [payload]


def read_capture(dataset_source: Path, features: list[str]) -> pd.DataFrame:
    """The requests' rows, one column per field (header-less CSV rows and JSON lists are
    named by position after the baseline's features, then `_c<N>`), as the values arrived.

    Raises MonitoringError when nothing was captured.
    """
    records: list[dict] = []
    for path in capture_files(dataset_source):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            content_type, text = _decoded(json.loads(line))
            rows = _json_rows(text) if "json" in content_type else _csv_rows(text, features)
            for row in rows:
                if isinstance(row, dict):
                    records.append(row)
                else:
                    names = features + [f"_c{i}" for i in range(len(features), len(row))]
                    records.append(dict(zip(names, row, strict=False)))
    if not records:
        raise MonitoringError(f"no captured requests under {dataset_source}")
    frame = pd.DataFrame.from_records(records)
    # An empty CSV field is a missing value, as the model reads it.
    return frame.replace("", None)


# --- the checks -----------------------------------------------------------------------------


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def ks_distance(baseline_points: np.ndarray, values: np.ndarray) -> float:
    """The largest gap between two empirical cumulative distributions (L-infinity)."""
    baseline_points, values = np.sort(baseline_points), np.sort(values)
    grid = np.union1d(baseline_points, values)
    left = np.searchsorted(baseline_points, grid, side="right") / baseline_points.size
    right = np.searchsorted(values, grid, side="right") / values.size
    return float(np.max(np.abs(left - right)))


def categorical_distance(buckets: list[dict], values: pd.Series) -> float:
    """The largest gap between the baseline's and the traffic's category frequencies."""
    expected = {b["value"]: float(b["count"]) for b in buckets}
    total = sum(expected.values()) or 1.0
    observed = values.astype(str).value_counts(normalize=True).to_dict()
    return max(
        abs(expected.get(k, 0.0) / total - observed.get(k, 0.0)) for k in {*expected, *observed}
    )


def _sketch(statistics: dict) -> np.ndarray:
    kll = statistics.get("distribution", {}).get("kll", {})
    points = [x for level in kll.get("sketch", {}).get("data", []) for x in level]
    return np.asarray(points, dtype=float)


def compare(statistics: dict, constraints: dict, frame: pd.DataFrame):
    """(violations, drift) of the traffic `frame` against the baseline: drift is
    {feature: {"distance", "threshold", "method"}} for every feature compared."""
    config = constraints.get("monitoring_config", {})
    distribution = config.get("distribution_constraints", {})
    compare_distributions = distribution.get("perform_comparison", "Enabled") == "Enabled"
    threshold = float(distribution.get("comparison_threshold", 0.1))
    categorical_threshold = float(distribution.get("categorical_comparison_threshold", threshold))
    type_threshold = float(config.get("datatype_check_threshold", 1.0))
    domain_threshold = float(config.get("domain_content_threshold", 1.0))
    baseline_stats = {f["name"]: f for f in statistics.get("features", [])}
    expected = [f["name"] for f in constraints["features"]]
    violations: list[Violation] = []
    drift: dict[str, dict] = {}
    for extra in [c for c in frame.columns if c not in expected]:
        violations.append(
            Violation(
                extra,
                "extra_column_check",
                f"There are extra columns in current dataset: {extra} is not in the baseline.",
            )
        )
    rows = len(frame)
    for feature in constraints["features"]:
        name, kind = feature["name"], feature["inferred_type"]
        if name not in frame.columns:
            violations.append(
                Violation(
                    name,
                    "missing_column_check",
                    f"There are missing columns in current dataset: {name} is in the baseline.",
                )
            )
            continue
        column = frame[name]
        present = column.dropna()
        completeness = len(present) / rows
        if completeness < float(feature.get("completeness", 1.0)) - 1e-9:
            violations.append(
                Violation(
                    name,
                    "completeness_check",
                    "Data completeness requirement is not met. Expected: "
                    f"{_percent(feature['completeness'])}, Observed: {_percent(completeness)}",
                )
            )
        if present.empty:
            continue
        if kind in NUMERIC:
            numbers = pd.to_numeric(present, errors="coerce")
            conforming = numbers.notna()
            if kind == "Integral":
                conforming &= np.mod(numbers.fillna(0.5), 1) == 0
            share = float(conforming.mean())
            if share < type_threshold - 1e-9:
                violations.append(
                    Violation(
                        name,
                        "data_type_check",
                        f"Data type match requirement is not met. Expected data type: {kind}, "
                        f"Expected match: {_percent(type_threshold)}. Observed: Only "
                        f"{_percent(share)} of data is {kind}.",
                    )
                )
            points = _sketch(baseline_stats.get(name, {}).get("numerical_statistics", {}))
            values = numbers.dropna().to_numpy(dtype=float)
            if compare_distributions and points.size and values.size:
                distance = ks_distance(points, values)
                drift[name] = {"distance": distance, "threshold": threshold, "method": "Robust"}
                if distance > threshold:
                    violations.append(
                        Violation(
                            name,
                            "baseline_drift_check",
                            f"Baseline drift distance: {distance:.4f} exceeds threshold: "
                            f"{threshold}",
                        )
                    )
            continue
        domains = feature.get("string_constraints", {}).get("domains")
        values = present.astype(str)
        if domains:
            inside = values.isin(domains)
            share = float(inside.mean())
            if share < domain_threshold - 1e-9:
                unknown = ", ".join(sorted(values[~inside].unique())[:5])
                violations.append(
                    Violation(
                        name,
                        "categorical_values_check",
                        f"Value(s) {unknown} not in the baseline domain. Expected match: "
                        f"{_percent(domain_threshold)}, Observed: {_percent(share)}",
                    )
                )
        buckets = (
            baseline_stats.get(name, {})
            .get("string_statistics", {})
            .get("distribution", {})
            .get("categorical", {})
            .get("buckets")
        )
        if compare_distributions and buckets:
            distance = categorical_distance(buckets, values)
            drift[name] = {
                "distance": distance,
                "threshold": categorical_threshold,
                "method": "LInfinity",
            }
            if distance > categorical_threshold:
                violations.append(
                    Violation(
                        name,
                        "baseline_drift_check",
                        f"Baseline drift distance: {distance:.4f} exceeds threshold: "
                        f"{categorical_threshold}",
                    )
                )
    return violations, drift


# --- the job --------------------------------------------------------------------------------


def _load(path_variable: str, environment: dict) -> dict:
    path = environment.get(path_variable)
    if not path:
        raise MonitoringError(f"environment variable {path_variable} is not set (no baseline)")
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise MonitoringError(f"{path_variable} {path}: {err}") from None


def write_metrics(folder: Path, drift: dict, environment: dict, timestamp: float) -> None:
    """One CloudWatch metric per feature, in the format Model Monitor publishes from."""
    folder.mkdir(parents=True, exist_ok=True)
    dimensions = [
        {"Name": "Endpoint", "Value": environment.get("sagemaker_endpoint_name", "")},
        {
            "Name": "MonitoringSchedule",
            "Value": environment.get("sagemaker_monitoring_schedule_name", ""),
        },
    ]
    lines = [
        json.dumps(
            {
                "MetricName": f"feature_baseline_drift_{name}",
                "Timestamp": timestamp,
                "Dimensions": dimensions,
                "Value": value["distance"],
            }
        )
        for name, value in drift.items()
    ]
    (folder / "feature_drift.jsonl").write_text("\n".join(lines) + "\n")


def violation_event(violations: list[Violation], drift: dict, environment: dict) -> dict:
    """The PutEvents entry a violation sends (the orchestration stack's rule matches it)."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "EventBusName": environment.get("EVENT_BUS_NAME", "default"),
        "Detail": json.dumps(
            {
                "endpointName": environment.get("sagemaker_endpoint_name", ""),
                "monitoringScheduleName": environment.get("sagemaker_monitoring_schedule_name", ""),
                "startTime": environment.get("start_time", ""),
                "endTime": environment.get("end_time", ""),
                "violationCount": len(violations),
                "violations": [v.as_dict() for v in violations][:20],
                "featureDrift": {k: round(v["distance"], 6) for k, v in drift.items()},
            }
        ),
    }


def run(environment: dict, events=None, now: float | None = None) -> list[Violation]:
    """Analyse the captured data the environment names, write the reports, send the event
    on a violation (through `events`, an EventBridge client). Raises MonitoringError."""
    import time

    statistics = _load("baseline_statistics", environment)
    constraints = _load("baseline_constraints", environment)
    features = [f["name"] for f in constraints["features"]]
    frame = read_capture(Path(environment.get("dataset_source", "")), features)
    violations, drift = compare(statistics, constraints, frame)
    output = Path(environment.get("output_path", "/opt/ml/processing/resultdata"))
    output.mkdir(parents=True, exist_ok=True)
    (output / VIOLATIONS_FILE).write_text(
        json.dumps({"violations": [v.as_dict() for v in violations]}, indent=1)
    )
    (output / DRIFT_FILE).write_text(
        json.dumps({"item_count": len(frame), "features": drift}, indent=1)
    )
    if environment.get("publish_cloudwatch_metrics") == "Enabled":
        folder = Path(environment.get("MONITORING_METRICS_DIR", METRICS_DIR))
        write_metrics(folder, drift, environment, now or time.time())
    if violations and events is not None:
        answer = events.put_events(Entries=[violation_event(violations, drift, environment)])
        if answer.get("FailedEntryCount"):
            raise MonitoringError(f"EventBridge refused the violation event: {answer['Entries']}")
    return violations


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    environment = dict(os.environ)
    try:
        import boto3

        events = boto3.client("events")
        violations = run(environment, events)
    except MonitoringError as err:
        print(f"MonitoringError: {err}", file=sys.stderr)
        return 1
    if violations:
        print(f"CompletedWithViolations: {len(violations)} violation(s)")
        for violation in violations:
            print(
                f"  {violation.feature_name}: {violation.constraint_check_type}: "
                f"{violation.description}"
            )
    else:
        print("Completed: no violations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
