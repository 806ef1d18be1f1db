"""Run the step scripts in sequence on generated data, once per module that needs them."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from pipelines.churn.steps import evaluate, preprocess
from pipelines.churn.steps.training import train


@pytest.fixture(name="splits", scope="session")
def fixture_splits(churn_csv: Path, tmp_path_factory) -> Path:
    """Preprocess output: <root>/{train,validation,test}/<name>.csv."""
    root = tmp_path_factory.mktemp("splits")
    assert (
        preprocess.main(
            [
                "--input-dir",
                str(churn_csv.parent),
                "--train-dir",
                str(root / "train"),
                "--validation-dir",
                str(root / "validation"),
                "--test-dir",
                str(root / "test"),
            ]
        )
        == 0
    )
    return root


@pytest.fixture(name="model_dir", scope="session")
def fixture_model_dir(splits: Path, tmp_path_factory) -> Path:
    """SM_MODEL_DIR after training, as the container leaves it."""
    model_dir = tmp_path_factory.mktemp("model")
    assert (
        train.main(
            [
                "--train-dir",
                str(splits / "train"),
                "--validation-dir",
                str(splits / "validation"),
                "--model-dir",
                str(model_dir),
                "--max_iter",
                "60",
            ]
        )
        == 0
    )
    return model_dir


@pytest.fixture(name="model_archive", scope="session")
def fixture_model_archive(model_dir: Path, tmp_path_factory) -> Path:
    """A folder holding model.tar.gz, as the Evaluate step receives it."""
    folder = tmp_path_factory.mktemp("archive")
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    return folder


@pytest.fixture(name="evaluation", scope="session")
def fixture_evaluation(model_archive: Path, splits: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evaluation")
    assert (
        evaluate.main(
            [
                "--model-dir",
                str(model_archive),
                "--test-dir",
                str(splits / "test"),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    return out / "evaluation.json"
