"""The monitoring job: captured traffic against the Baseline step's baseline. A shifted
feature is flagged and an unshifted one is not; completeness, type, category and column
violations in Model Monitor's format; the violation event."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest

from modeldeploy.monitoring import monitor
from pipelines.churn.generate_data import write_churn_csv
from pipelines.churn.schema import FEATURE_COLUMNS
from pipelines.churn.steps import baseline


@pytest.fixture(name="training", scope="module")
def fixture_training(tmp_path_factory) -> pd.DataFrame:
    path = write_churn_csv(tmp_path_factory.mktemp("data") / "churn.csv", rows=6_000, seed=11)
    return pd.read_csv(path)[FEATURE_COLUMNS]


@pytest.fixture(name="reference", scope="module")
def fixture_reference(training):
    statistics = baseline.dataset_statistics(training.iloc[:4_000])
    return statistics, baseline.suggest_constraints(statistics, 0.1, 0.05)


def traffic(training: pd.DataFrame) -> pd.DataFrame:
    """Customers the baseline did not see, from the same population."""
    return training.iloc[4_000:].reset_index(drop=True)


def write_capture(folder: Path, frame: pd.DataFrame, content_type: str = "text/csv") -> Path:
    """`frame` as captured requests of 100 rows, in SageMaker's data-capture format."""
    target = folder / "churn-prod" / "AllTraffic" / "2026" / "12" / "03" / "09"
    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for start in range(0, len(frame), 100):
        chunk = frame.iloc[start : start + 100]
        if content_type == "text/csv":
            data, encoding = chunk.to_csv(header=False, index=False), "CSV"
        else:
            rows = json.loads(chunk.to_json(orient="records"))
            data, encoding = json.dumps({"instances": rows}), "JSON"
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": base64.b64encode(b"[]").decode(),
                    "encoding": "BASE64",
                },
            },
            "eventMetadata": {"eventId": f"e{start}", "inferenceTime": "2026-12-03T09:00:00Z"},
            "eventVersion": "0",
        }
        lines.append(json.dumps(record))
    path = target / "10-00-000-capture.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return folder


def checks(violations) -> set[tuple[str, str]]:
    return {(v.feature_name, v.constraint_check_type) for v in violations}


def test_traffic_like_the_training_data_has_no_violation(training, reference, tmp_path):
    frame = monitor.read_capture(write_capture(tmp_path, traffic(training)), FEATURE_COLUMNS)
    assert len(frame) == 2_000 and list(frame.columns) == FEATURE_COLUMNS
    violations, drift = monitor.compare(*reference, frame)
    assert violations == []
    assert set(drift) == set(FEATURE_COLUMNS)
    assert all(d["distance"] < d["threshold"] for d in drift.values())


def test_a_shifted_feature_is_flagged_and_only_that_one(training, reference, tmp_path):
    shifted = traffic(training)
    shifted["monthly_charges"] = shifted["monthly_charges"] * 1.6
    frame = monitor.read_capture(
        write_capture(tmp_path, shifted, "application/json"), FEATURE_COLUMNS
    )
    violations, drift = monitor.compare(*reference, frame)
    assert checks(violations) == {("monthly_charges", "baseline_drift_check")}
    assert drift["monthly_charges"]["distance"] > 0.3
    assert violations[0].description.startswith("Baseline drift distance: ")


def test_a_shifted_category_mix_is_flagged(training, reference, tmp_path):
    shifted = traffic(training)
    shifted["contract"] = "Month-to-month"
    frame = monitor.read_capture(write_capture(tmp_path, shifted), FEATURE_COLUMNS)
    violations, _ = monitor.compare(*reference, frame)
    assert checks(violations) == {("contract", "baseline_drift_check")}


def test_completeness_type_and_category_violations(training, reference, tmp_path):
    bad = traffic(training).astype(object)
    bad.loc[:599, "tenure_months"] = None  # 30 % missing
    bad.loc[:9, "support_calls"] = 2.5  # a fraction in an Integral column
    bad.loc[:9, "payment_method"] = "Crypto"  # outside the domain
    frame = monitor.read_capture(write_capture(tmp_path, bad), FEATURE_COLUMNS)
    violations, _ = monitor.compare(*reference, frame)
    found = checks(violations)
    assert ("tenure_months", "completeness_check") in found
    assert ("support_calls", "data_type_check") in found
    assert ("payment_method", "categorical_values_check") in found
    described = {v.constraint_check_type: v.description for v in violations}
    assert "Observed: Only 99.5% of data is Integral" in described["data_type_check"]
    assert described["categorical_values_check"].startswith("Value(s) Crypto not in")


def test_missing_and_extra_columns(training, reference, tmp_path):
    narrow = traffic(training).drop(columns=["paperless_billing"])
    frame = monitor.read_capture(write_capture(tmp_path / "a", narrow), FEATURE_COLUMNS)
    assert ("paperless_billing", "missing_column_check") in checks(
        monitor.compare(*reference, frame)[0]
    )
    wide = traffic(training).assign(extra=1)
    frame = monitor.read_capture(write_capture(tmp_path / "b", wide), FEATURE_COLUMNS)
    assert ("_c10", "extra_column_check") in checks(monitor.compare(*reference, frame)[0])


class Events:
    def __init__(self):
        self.entries = []

    def put_events(self, Entries):  # noqa: N803 — boto3's parameter name
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def job_environment(tmp_path: Path, reference, source: Path) -> dict:
    statistics, constraints = reference
    (tmp_path / "statistics.json").write_text(json.dumps(statistics))
    (tmp_path / "constraints.json").write_text(json.dumps(constraints))
    return {
        "dataset_source": str(source),
        "output_path": str(tmp_path / "out"),
        "baseline_statistics": str(tmp_path / "statistics.json"),
        "baseline_constraints": str(tmp_path / "constraints.json"),
        "sagemaker_endpoint_name": "churn-prod",
        "sagemaker_monitoring_schedule_name": "churn-prod-data-quality",
        "publish_cloudwatch_metrics": "Enabled",
        "MONITORING_METRICS_DIR": str(tmp_path / "metrics"),
    }


def test_the_job_writes_the_reports_and_sends_the_violation_event(training, reference, tmp_path):
    shifted = traffic(training)
    shifted["age"] = shifted["age"] + 25
    environment = job_environment(tmp_path, reference, write_capture(tmp_path / "capture", shifted))
    events = Events()
    violations = monitor.run(environment, events, now=1.0)
    assert checks(violations) == {("age", "baseline_drift_check")}
    report = json.loads((tmp_path / "out" / "constraint_violations.json").read_text())
    assert report == {"violations": [violations[0].as_dict()]}
    assert set(report["violations"][0]) == {"feature_name", "constraint_check_type", "description"}
    drift = json.loads((tmp_path / "out" / "feature_drift.json").read_text())
    assert drift["item_count"] == 2_000 and drift["features"]["age"]["distance"] > 0.3
    metrics = (tmp_path / "metrics" / "feature_drift.jsonl").read_text().splitlines()
    assert json.loads(metrics[0])["MetricName"] == "feature_baseline_drift_age"
    [entry] = events.entries
    assert (entry["Source"], entry["DetailType"]) == (
        monitor.EVENT_SOURCE,
        monitor.EVENT_DETAIL_TYPE,
    )
    detail = json.loads(entry["Detail"])
    assert detail["endpointName"] == "churn-prod" and detail["violationCount"] == 1


def test_no_violation_sends_no_event(training, reference, tmp_path):
    environment = job_environment(
        tmp_path, reference, write_capture(tmp_path / "capture", traffic(training))
    )
    events = Events()
    assert monitor.run(environment, events) == []
    assert events.entries == []
    assert json.loads((tmp_path / "out" / "constraint_violations.json").read_text()) == {
        "violations": []
    }


def test_nothing_captured_or_no_baseline_is_one_line_and_exit_1(
    reference, tmp_path, monkeypatch, capsys
):
    environment = job_environment(tmp_path, reference, tmp_path / "empty")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert monitor.main() == 1
    assert (
        capsys.readouterr().err.strip()
        == f"MonitoringError: no captured requests under {tmp_path / 'empty'}"
    )
    monkeypatch.delenv("baseline_constraints")
    assert monitor.main() == 1
    assert "baseline_constraints is not set" in capsys.readouterr().err
