"""The Baseline step writes statistics.json and constraints.json in Model Monitor's formats."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.churn.generate_data import write_churn_csv
from pipelines.churn.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, NUMERIC_COLUMNS
from pipelines.churn.steps import baseline


@pytest.fixture(name="baseline_dir", scope="module")
def fixture_baseline_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline")
    data = pd.read_csv(write_churn_csv(folder / "raw.csv", rows=2_000, seed=5))
    train = folder / "train"
    train.mkdir()
    data[[*FEATURE_COLUMNS, "churn"]].to_csv(train / "train.csv", index=False)
    arguments = ["--input-dir", str(train), "--output-dir", str(folder / "out")]
    assert baseline.main([*arguments, "--exclude-columns", "churn"]) == 0
    return folder / "out"


def test_statistics_have_model_monitor_fields_for_every_feature_in_training_order(baseline_dir):
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    assert statistics["version"] == 0.0
    assert statistics["dataset"]["item_count"] == 2_000
    assert [f["name"] for f in statistics["features"]] == FEATURE_COLUMNS  # no label
    by_name = {f["name"]: f for f in statistics["features"]}
    age = by_name["age"]
    assert age["inferred_type"] == "Integral"
    numeric = age["numerical_statistics"]
    common = numeric["common"]
    assert common["num_present"] + common["num_missing"] == 2_000 and common["num_missing"] > 0
    assert {"mean", "sum", "std_dev", "min", "max"} <= set(numeric)
    kll = numeric["distribution"]["kll"]
    assert sum(b["count"] for b in kll["buckets"]) == common["num_present"]
    assert kll["buckets"][0]["lower_bound"] == numeric["min"]
    assert kll["buckets"][-1]["upper_bound"] == numeric["max"]
    assert {"c", "k"} == set(kll["sketch"]["parameters"]) and kll["sketch"]["data"][0]
    assert by_name["monthly_charges"]["inferred_type"] == "Fractional"
    contract = by_name["contract"]
    assert contract["inferred_type"] == "String"
    strings = contract["string_statistics"]
    assert strings["distinct_count"] == 3.0
    buckets = strings["distribution"]["categorical"]["buckets"]
    assert {b["value"] for b in buckets} == set(CATEGORICAL_COLUMNS["contract"])
    assert sum(b["count"] for b in buckets) == strings["common"]["num_present"]


def test_constraints_suggest_types_completeness_domains_and_drift_comparison(baseline_dir):
    constraints = json.loads((baseline_dir / "constraints.json").read_text())
    assert constraints["version"] == 0.0
    by_name = {f["name"]: f for f in constraints["features"]}
    assert set(by_name) == set(FEATURE_COLUMNS)
    for name in NUMERIC_COLUMNS:
        assert by_name[name]["num_constraints"] == {"is_non_negative": True}
        assert by_name[name]["inferred_type"] in ("Integral", "Fractional")
    for name, values in CATEGORICAL_COLUMNS.items():
        assert by_name[name]["string_constraints"]["domains"] == sorted(values)
    assert all(0 < f["completeness"] <= 1 for f in constraints["features"])
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == config["emit_metrics"] == "Enabled"
    assert config["distribution_constraints"] == {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    }


def test_missing_values_lower_completeness(tmp_path):
    frame = pd.DataFrame({"x": [1.5, None, 2.5, 3.5], "y": ["a", "b", None, None]})
    statistics = baseline.dataset_statistics(frame)
    constraints = baseline.suggest_constraints(statistics, 0.2, completeness_allowance=0.05)
    assert [f["completeness"] for f in constraints["features"]] == [0.7, 0.45]
    full = baseline.dataset_statistics(frame.fillna({"x": 1.0}))
    assert baseline.suggest_constraints(full, 0.2, 0.05)["features"][0]["completeness"] == 1.0
    assert statistics["features"][0]["numerical_statistics"]["common"]["num_missing"] == 1


def test_an_unknown_excluded_column_is_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    code = baseline.main(
        [
            "--input-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "o"),
            "--exclude-columns",
            "churn",
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "InputError: --exclude-columns names no column of the data: churn"
    )
    assert not (tmp_path / "o").exists()
