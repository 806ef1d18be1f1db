"""Baseline step: the data-quality baseline of the training data, in SageMaker Model
Monitor's formats, for the endpoint's monitoring schedule to compare live traffic with.

Runs in the SageMaker scikit-learn processing container (pandas only; only this file is
shipped, so it imports nothing from the project). Reads the train split and writes, as
Model Monitor's baselining job does:

- `statistics.json`: {"version": 0.0, "dataset": {"item_count": N}, "features": [{"name",
  "inferred_type": "Integral" | "Fractional" | "String", "numerical_statistics": {"common":
  {"num_present", "num_missing"}, "mean", "sum", "std_dev", "min", "max", "distribution":
  {"kll": {"buckets": [{"lower_bound", "upper_bound", "count"}], "sketch": {"parameters":
  {"c", "k"}, "data": [[...]]}}}} | "string_statistics": {"common", "distinct_count",
  "distribution": {"categorical": {"buckets": [{"value", "count"}]}}}}]}
- `constraints.json`: {"version": 0.0, "features": [{"name", "inferred_type",
  "completeness", "num_constraints": {"is_non_negative"} | "string_constraints":
  {"domains"}}], "monitoring_config": {"evaluate_constraints", "emit_metrics",
  "datatype_check_threshold", "domain_content_threshold", "distribution_constraints":
  {"perform_comparison", "comparison_threshold", "comparison_method",
  "categorical_comparison_threshold", "categorical_drift_method"}}}

Features are the data's columns in order (the order the model takes a header-less CSV
row in), less `--exclude-columns` (the label). The sketch holds the exact quantiles of the
column (at most `SKETCH_POINTS`), not a randomized KLL compaction: the monitoring job's
distance is the L-infinity distance between that and the live data's distribution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

VERSION = 0.0
KLL_BUCKETS = 10
SKETCH_POINTS = 2048
SKETCH_PARAMETERS = {"c": 0.64, "k": float(SKETCH_POINTS)}


class InputError(Exception):
    """No data to baseline; the message names the folder or column."""


def inferred_type(column: pd.Series) -> str:
    """Model Monitor's type of a column: Integral, Fractional or String."""
    present = column.dropna()
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return "String"
    if present.empty or np.all(np.mod(present.to_numpy(dtype=float), 1) == 0):
        return "Integral"
    return "Fractional"


def _common(column: pd.Series) -> dict:
    present = int(column.notna().sum())
    return {"num_present": present, "num_missing": int(len(column) - present)}


def numerical_statistics(column: pd.Series) -> dict:
    values = column.dropna().to_numpy(dtype=float)
    statistics: dict = {"common": _common(column)}
    if values.size == 0:
        return statistics
    low, high = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=KLL_BUCKETS, range=(low, high or low + 1))
    points = min(SKETCH_POINTS, values.size)
    quantiles = np.quantile(values, np.linspace(0, 1, points))
    statistics.update(
        mean=float(values.mean()),
        sum=float(values.sum()),
        std_dev=float(values.std()),
        min=low,
        max=high,
        distribution={
            "kll": {
                "buckets": [
                    {"lower_bound": float(a), "upper_bound": float(b), "count": float(c)}
                    for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
                ],
                "sketch": {
                    "parameters": SKETCH_PARAMETERS,
                    "data": [[float(q) for q in quantiles]],
                },
            }
        },
    )
    return statistics


def string_statistics(column: pd.Series) -> dict:
    counts = column.dropna().astype(str).value_counts()
    return {
        "common": _common(column),
        "distinct_count": float(len(counts)),
        "distribution": {
            "categorical": {
                "buckets": [{"value": value, "count": int(n)} for value, n in counts.items()]
            }
        },
    }


def dataset_statistics(frame: pd.DataFrame) -> dict:
    """statistics.json of `frame` (see the module docstring)."""
    features = []
    for name in frame.columns:
        column = frame[name]
        kind = inferred_type(column)
        feature = {"name": str(name), "inferred_type": kind}
        if kind == "String":
            feature["string_statistics"] = string_statistics(column)
        else:
            feature["numerical_statistics"] = numerical_statistics(column)
        features.append(feature)
    return {"version": VERSION, "dataset": {"item_count": len(frame)}, "features": features}


def suggest_constraints(
    statistics: dict, comparison_threshold: float, completeness_allowance: float = 0.0
) -> dict:
    """constraints.json from statistics.json, as Model Monitor's suggest_baseline does. A
    column with missing values gets `completeness_allowance` below its share of present
    values (Model Monitor suggests the share itself, which a sample of traffic from the
    same data misses half the time)."""
    items = statistics["dataset"]["item_count"]
    features = []
    for feature in statistics["features"]:
        kind = feature["inferred_type"]
        stats = feature.get("numerical_statistics") or feature["string_statistics"]
        present = stats["common"]["num_present"]
        constraint = {
            "name": feature["name"],
            "inferred_type": kind,
            "completeness": _completeness(present, items, completeness_allowance),
        }
        if kind == "String":
            buckets = stats["distribution"]["categorical"]["buckets"]
            constraint["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
        else:
            constraint["num_constraints"] = {"is_non_negative": stats.get("min", 0) >= 0}
        features.append(constraint)
    return {
        "version": VERSION,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": comparison_threshold,
                "comparison_method": "Robust",
                "categorical_comparison_threshold": comparison_threshold,
                "categorical_drift_method": "LInfinity",
            },
        },
    }


def _completeness(present: int, items: int, allowance: float) -> float:
    if not items or present == items:
        return 1.0
    return round(max(0.0, present / items - allowance), 4)


def read_frame(input_dir: Path, exclude: list[str]) -> pd.DataFrame:
    """Every CSV under `input_dir` (with a header), without the `exclude` columns."""
    files = sorted(p for p in input_dir.rglob("*.csv") if p.is_file())
    if not files:
        raise InputError(f"no CSV file found in {input_dir}")
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise InputError(f"--exclude-columns names no column of the data: {', '.join(missing)}")
    frame = frame.drop(columns=exclude)
    if frame.empty:
        raise InputError(f"{input_dir}: the data has no rows")
    return frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    base = "/opt/ml/processing"
    parser = argparse.ArgumentParser(description="Model Monitor baseline of the training data.")
    parser.add_argument("--input-dir", default=f"{base}/train")
    parser.add_argument("--output-dir", default=f"{base}/baseline")
    parser.add_argument("--exclude-columns", default="", help="comma-separated, e.g. the label")
    parser.add_argument("--comparison-threshold", type=float, default=0.1)
    parser.add_argument("--completeness-allowance", type=float, default=0.05)
    args = parser.parse_args(argv)
    if not 0 <= args.completeness_allowance < 1:
        parser.error("--completeness-allowance must be in [0, 1)")
    if not 0 < args.comparison_threshold <= 1:
        parser.error("--comparison-threshold must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exclude = [c for c in args.exclude_columns.split(",") if c]
    try:
        frame = read_frame(Path(args.input_dir), exclude)
    except InputError as err:
        print(f"InputError: {err}", file=sys.stderr)
        return 1
    statistics = dataset_statistics(frame)
    constraints = suggest_constraints(
        statistics, args.comparison_threshold, args.completeness_allowance
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "statistics.json").write_text(json.dumps(statistics, indent=1))
    (output / "constraints.json").write_text(json.dumps(constraints, indent=1))
    print(f"baseline of {len(frame)} rows, {len(frame.columns)} features -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
