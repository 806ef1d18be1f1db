"""Evaluate step: score the trained model on the held-out test split.

Runs in the SageMaker scikit-learn processing container. Writes `evaluation.json` in
SageMaker's model-quality metrics format for binary classification (the format Model
Registry and Studio read), which the pipeline's `CheckEvaluation` step reads with JsonGet
and the Register step attaches to the model package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn import metrics

TARGET_COLUMN = "churn"
MODEL_FILE = "model.joblib"
THRESHOLD = 0.5
ROC_POINTS = 50  # enough for a smooth curve, small enough for the registry to store


def load_model(model_dir: Path):
    """Load the pipeline from model.tar.gz (as training packs it) or from a plain folder."""
    archive = model_dir / "model.tar.gz"
    if not archive.exists():
        return joblib.load(model_dir / MODEL_FILE)
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        return joblib.load(Path(tmp) / MODEL_FILE)


def _metric(value: float) -> dict:
    return {"value": float(value), "standard_deviation": "NaN"}


def compute_report(labels: np.ndarray, scores: np.ndarray) -> dict:
    """The model-quality report for `scores` (probabilities) against true `labels`."""
    predicted = (scores >= THRESHOLD).astype(int)
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, ROC_POINTS).round().astype(int))
    return {
        "binary_classification_metrics": {
            "accuracy": _metric(metrics.accuracy_score(labels, predicted)),
            "precision": _metric(metrics.precision_score(labels, predicted, zero_division=0)),
            "recall": _metric(metrics.recall_score(labels, predicted, zero_division=0)),
            "f1": _metric(metrics.f1_score(labels, predicted, zero_division=0)),
            "auc": _metric(metrics.roc_auc_score(labels, scores)),
            "confusion_matrix": {
                str(actual): {str(pred): int(matrix[actual][pred]) for pred in (0, 1)}
                for actual in (0, 1)
            },
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": [round(float(x), 6) for x in fpr[keep]],
                "true_positive_rates": [round(float(x), 6) for x in tpr[keep]],
            },
        }
    }


def evaluate(args: argparse.Namespace) -> dict:
    """Score the test split and write evaluation.json; returns the report."""
    model = load_model(Path(args.model_dir))
    test = pd.concat(
        (pd.read_csv(f) for f in sorted(Path(args.test_dir).glob("*.csv"))), ignore_index=True
    )
    scores = model.predict_proba(test.drop(columns=[TARGET_COLUMN]))[:, 1]
    report = compute_report(test[TARGET_COLUMN].to_numpy(), scores)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    base = "/opt/ml/processing"
    parser = argparse.ArgumentParser(description="Evaluate the churn model on the test split.")
    parser.add_argument("--model-dir", default=f"{base}/model")
    parser.add_argument("--test-dir", default=f"{base}/test")
    parser.add_argument("--output-dir", default=f"{base}/evaluation")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    report = evaluate(parse_args(argv))
    scores = report["binary_classification_metrics"]
    print(", ".join(f"{k}={scores[k]['value']:.4f}" for k in ("auc", "accuracy", "f1")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
