"""Evaluate step: score the trained model on the held-out test split.

Runs in the SageMaker scikit-learn processing container. Writes `evaluation.json` in
SageMaker's model-quality metrics format for binary classification (the format Model
Registry and Studio read), which the pipeline's `CheckEvaluation` step reads with JsonGet
and the Register step attaches to the model package, plus ROC-curve and confusion-matrix
images for people (the run report shows them; so can anyone browsing the artifacts), and
`inference-contract.json`, the model's inference contract with held-out sample rows, which
the Register step attaches to the package for the deploy half's smoke test.
"""

from __future__ import annotations

import argparse
import json
import logging
import posixpath
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
ROC_IMAGE = "roc_curve.png"
CONFUSION_IMAGE = "confusion_matrix.png"
# The model's inference contract, registered with the package (InferenceContractUri): the
# deploy half's smoke test sends its sample and checks the answers against it.
CONTRACT_FILE = "inference-contract.json"
CONTRACT_SAMPLE_ROWS = 20
logger = logging.getLogger(__name__)


def load_model(model_dir: Path):
    """Load the pipeline from model.tar.gz (as training packs it) or from a plain folder."""
    archive = model_dir / "model.tar.gz"
    if not archive.exists():
        return joblib.load(model_dir / MODEL_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        safe_extract(archive, tmp)
        return joblib.load(Path(tmp) / MODEL_FILE)


# A copy of sandbox/safe_tar.py's check: this script runs alone in its container.
class UnsafeArchiveError(ValueError):
    """A member of the archive would be written outside the target, or is not a plain file."""


def safe_extract(archive: Path | str, target: Path | str) -> None:
    """Extract `archive` into `target`, refusing (naming the archive and the member) absolute
    paths, ".." out of the target, links pointing out of it, members reached through a link
    and devices or fifos. `filter="data"` is applied too where the interpreter has it (3.11.4+).
    """
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        links = {posixpath.normpath(m.name) for m in members if m.issym()}

        def unsafe(path: str) -> str | None:  # why `path` (archive-relative) is unsafe
            if path.startswith("/"):
                return "is absolute"
            parts: list[str] = []
            for part in path.split("/"):
                if part in ("", "."):
                    continue
                if parts and "/".join(parts) in links:
                    return f"passes through the symlink {'/'.join(parts)!r}"
                if part != "..":
                    parts.append(part)
                elif parts:
                    parts.pop()
                else:
                    return "escapes the target"
            return None

        for member in members:
            why = unsafe(member.name)
            if why is None and member.issym():
                why = unsafe(posixpath.join(posixpath.dirname(member.name), member.linkname))
                why = why and f"links to {member.linkname!r}, which {why}"
            elif why is None and member.islnk():
                why = unsafe(member.linkname)
                why = why and f"hard-links to {member.linkname!r}, which {why}"
            elif why is None and not (member.isfile() or member.isdir()):
                why = "is a device or fifo, not a file, folder or link"
            if why:
                raise UnsafeArchiveError(f"{archive}: refusing member {member.name!r}: it {why}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # 3.11.0-3.11.3: drop setuid bits and others' write, as the filter would
            for member in members:
                member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
            tar.extractall(target, members=members)


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


def draw_figures(report: dict, output: Path) -> list[Path]:
    """ROC curve and confusion matrix as PNGs, drawn from the report itself.

    matplotlib is optional: SageMaker's scikit-learn image does not ship it, and a missing
    picture must not fail the quality gate. Use an image with matplotlib to get them on AWS.
    """
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, faster import
    except ImportError:
        logger.warning("matplotlib is not installed in this image: no ROC/confusion images")
        return []
    scores = report["binary_classification_metrics"]
    roc = scores["receiver_operating_characteristic_curve"]
    figure = Figure(figsize=(4.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(
        roc["false_positive_rates"],
        roc["true_positive_rates"],
        lw=2,
        label=f"model (AUC = {scores['auc']['value']:.3f})",
    )
    axes.plot([0, 1], [0, 1], ls="--", color="grey", label="chance")
    axes.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        title="ROC curve",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    axes.legend(loc="lower right")
    figure.savefig(output / ROC_IMAGE, dpi=100)

    counts = np.array([[scores["confusion_matrix"][a][p] for p in "01"] for a in "01"])
    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    for (actual, predicted), count in np.ndenumerate(counts):
        dark = count > counts.max() / 2
        axes.text(
            predicted,
            actual,
            f"{count:,}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
    labels = ["stays (0)", "churns (1)"]
    axes.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=labels,
        yticklabels=labels,
        xlabel="Predicted",
        ylabel="Actual",
        title=f"Confusion matrix (threshold {THRESHOLD})",
    )
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.savefig(output / CONFUSION_IMAGE, dpi=100)
    return [output / ROC_IMAGE, output / CONFUSION_IMAGE]


def inference_contract(test: pd.DataFrame) -> dict:
    """What inference.py takes and answers, with real held-out rows (label dropped) as the
    sample; the format is modeldeploy/contract.py's."""
    features = test.drop(columns=[TARGET_COLUMN])
    return {
        "contract_version": 1,
        "columns": list(features.columns),
        "content_types": ["text/csv", "application/json"],
        "json_instances_key": "instances",
        "sample": json.loads(features.head(CONTRACT_SAMPLE_ROWS).to_json(orient="records")),
        "response": {
            "predictions_key": "predictions",
            "fields": {
                "churn_probability": {"type": "number", "minimum": 0, "maximum": 1},
                "predicted_label": {"enum": [0, 1]},
            },
        },
        "invalid_payload": {"content_type": "text/csv", "body": "this,is,not,a,customer\n"},
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
    (output / CONTRACT_FILE).write_text(json.dumps(inference_contract(test), indent=2))
    draw_figures(report, output)
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
