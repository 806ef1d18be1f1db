"""Evaluate: a model-quality report whose numbers agree with each other."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.churn.steps.evaluate import (
    CONFUSION_IMAGE,
    ROC_IMAGE,
    UnsafeArchiveError,
    compute_report,
    draw_figures,
    load_model,
    safe_extract,
)
from tests.sandbox.test_safe_tar import (
    MALICIOUS,
    assert_normal_archive_extracts,
    assert_refused,
    make_archive,
)


def test_report_has_model_quality_metrics_in_range(evaluation: Path):
    metrics = json.loads(evaluation.read_text())["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert 0.0 <= metrics[name]["value"] <= 1.0, name
    assert metrics["auc"]["value"] > 0.75


def test_metrics_are_consistent_with_the_confusion_matrix(evaluation: Path):
    metrics = json.loads(evaluation.read_text())["binary_classification_metrics"]
    matrix = metrics["confusion_matrix"]
    tn, fp = matrix["0"]["0"], matrix["0"]["1"]
    fn, tp = matrix["1"]["0"], matrix["1"]["1"]
    assert tn + fp + fn + tp == 300  # the 15 % test split of 2,000 rows
    assert metrics["accuracy"]["value"] == pytest.approx((tp + tn) / (tp + tn + fp + fn))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert metrics["precision"]["value"] == pytest.approx(precision)
    assert metrics["recall"]["value"] == pytest.approx(recall)
    assert metrics["f1"]["value"] == pytest.approx(2 * precision * recall / (precision + recall))


def test_roc_curve_runs_from_0_0_to_1_1(evaluation: Path):
    curve = json.loads(evaluation.read_text())["binary_classification_metrics"][
        "receiver_operating_characteristic_curve"
    ]
    assert curve["false_positive_rates"][0] == 0 and curve["true_positive_rates"][-1] == 1
    assert curve["false_positive_rates"] == sorted(curve["false_positive_rates"])


def test_perfect_scores_give_auc_1_and_no_errors():
    labels = np.array([0, 0, 1, 1])
    report = compute_report(labels, np.array([0.1, 0.2, 0.8, 0.9]))
    metrics = report["binary_classification_metrics"]
    assert metrics["auc"]["value"] == 1.0
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 0}, "1": {"0": 0, "1": 2}}


def test_roc_and_confusion_images_are_pngs_next_to_the_report(evaluation: Path):
    for name in (ROC_IMAGE, CONFUSION_IMAGE):
        image = evaluation.parent / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert image.stat().st_size > 5_000, name  # a drawn figure, not an empty canvas


def test_without_matplotlib_the_report_is_still_written(evaluation: Path, tmp_path, monkeypatch):
    # SageMaker's scikit-learn image has no matplotlib: the gate must not depend on pictures.
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    report = json.loads(evaluation.read_text())
    assert draw_figures(report, tmp_path) == []
    assert not list(tmp_path.iterdir())


# The step's own copy of sandbox/safe_tar.py's check (it runs alone in its container): the
# same malicious archives, on this interpreter and as on one without tarfile's filters (3.11.2).
@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_model_archive_is_refused_and_nothing_is_written(case, interpreter, tmp_path):
    assert_refused(safe_extract, tmp_path, case)


def test_normal_archive_extracts(interpreter, tmp_path):
    assert_normal_archive_extracts(safe_extract, tmp_path)


def test_load_model_refuses_a_malicious_model_tar_gz(tmp_path):
    make_archive(tmp_path / "model.tar.gz", MALICIOUS["dot-dot traversal"], tmp_path / "out")
    with pytest.raises(UnsafeArchiveError, match="refusing member '../out/evil'"):
        load_model(tmp_path)


def test_load_model_reads_the_training_model_tar_gz(model_archive: Path, interpreter):
    assert hasattr(load_model(model_archive), "predict_proba")
