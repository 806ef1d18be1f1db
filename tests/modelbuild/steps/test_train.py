"""Train: the saved model loads, predicts, and carries its inference code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipelines.churn.steps.training import train

SCRIPT = Path(train.__file__)


def test_model_dir_holds_model_features_and_inference_code(model_dir: Path):
    assert (model_dir / "model.joblib").is_file()
    assert json.loads((model_dir / "features.json").read_text())[0] == "age"
    assert (model_dir / "code" / "inference.py").read_text() == (
        SCRIPT.with_name("inference.py").read_text()
    )


def test_saved_model_predicts_probabilities_that_beat_chance(model_dir: Path, splits: Path):
    model = joblib.load(model_dir / "model.joblib")
    test = pd.read_csv(splits / "test" / "test.csv")
    scores = model.predict_proba(test.drop(columns=["churn"]))[:, 1]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc_score(test["churn"], scores) > 0.75


def test_reads_channels_and_hyperparameters_as_the_sagemaker_driver_passes_them(
    splits: Path, tmp_path: Path
):
    """SM_CHANNEL_*/SM_MODEL_DIR from the environment, hyperparameters as --snake_case."""
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(splits / "train"),
        "SM_CHANNEL_VALIDATION": str(splits / "validation"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--max_iter", "20", "--learning_rate", "0.2"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "validation:auc=" in done.stdout
    model = joblib.load(tmp_path / "model" / "model.joblib")
    assert model.named_steps["classifier"].max_iter == 20
    assert model.named_steps["classifier"].learning_rate == 0.2
