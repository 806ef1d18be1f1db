"""Train step: fit a churn classifier on the train channel and save it to the model dir.

Script mode in the SageMaker scikit-learn training container. SDK v3's driver passes the
hyperparameters as `--name value` arguments; channels and the model dir come from the
SageMaker environment (`SM_CHANNEL_<NAME>`, `SM_MODEL_DIR`), with the container paths as
defaults, so the script also runs as is on local folders.

The saved model is a scikit-learn Pipeline over the *raw* feature columns (imputation and
encoding included), so the endpoint accepts the same rows that the data has. `inference.py`
is copied into `<model dir>/code/`, where the scikit-learn serving container looks for it:
the model package needs no repack step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

TARGET_COLUMN = "churn"
CATEGORICAL_COLUMNS = ["contract", "internet_service", "payment_method", "paperless_billing"]
MODEL_FILE = "model.joblib"


def build_model(args: argparse.Namespace, feature_columns: list[str]) -> Pipeline:
    """The untrained pipeline: encoding for categoricals, boosted trees on top."""
    categorical = [c for c in feature_columns if c in CATEGORICAL_COLUMNS]
    numeric = [c for c in feature_columns if c not in CATEGORICAL_COLUMNS]
    encode = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    features = ColumnTransformer(
        [("categorical", encode, categorical), ("numeric", "passthrough", numeric)]
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        max_depth=args.max_depth,
        l2_regularization=args.l2_regularization,
        random_state=args.seed,
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def _read_channel(directory: str) -> pd.DataFrame:
    files = sorted(Path(directory).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no CSV file in channel directory {directory}")
    return pd.concat((pd.read_csv(f) for f in files), ignore_index=True)


def train(args: argparse.Namespace) -> dict[str, float]:
    """Fit, report validation AUC and save the model; returns the validation metrics."""
    train_data = _read_channel(args.train_dir)
    features = [c for c in train_data.columns if c != TARGET_COLUMN]
    model = build_model(args, features)
    model.fit(train_data[features], train_data[TARGET_COLUMN])

    metrics = {}
    if args.validation_dir:
        validation = _read_channel(args.validation_dir)
        scores = model.predict_proba(validation[features])[:, 1]
        metrics["validation:auc"] = float(roc_auc_score(validation[TARGET_COLUMN], scores))
        # One line per metric, in the form a TrainingJob MetricDefinition regex reads.
        for name, value in metrics.items():
            print(f"{name}={value:.6f}")

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    (model_dir / "features.json").write_text(json.dumps(features))
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    shutil.copy2(Path(__file__).with_name("inference.py"), code_dir / "inference.py")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Train the churn classifier.")
    # Hyperparameters arrive as --snake_case from SageMaker; kebab-case works by hand.
    parser.add_argument("--learning-rate", "--learning_rate", type=float, default=0.1)
    parser.add_argument("--max-iter", "--max_iter", type=int, default=200)
    parser.add_argument("--max-depth", "--max_depth", type=int, default=6)
    parser.add_argument("--l2-regularization", "--l2_regularization", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--train-dir", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument(
        "--validation-dir",
        default=env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"),
    )
    parser.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
