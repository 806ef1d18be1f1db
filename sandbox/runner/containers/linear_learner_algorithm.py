"""The SageMaker Linear Learner algorithm, on scikit-learn.

Training, `python linear_learner_algorithm.py ML_ROOT`, reads the job's
`input/config/hyperparameters.json` and the `train` (optional `validation`, `test`)
channels, CSV with the label first and no header (the algorithm's recordio-protobuf is not
read here). `predictor_type` picks the model: `regressor` (squared loss: ridge regression;
`absolute_loss`: SGD on the absolute loss), `binary_classifier` and
`multiclass_classifier` (logistic regression; `num_classes` required); features and, for a
regressor, the label are standardised as `normalize_data`/`normalize_label` default.
`wd` is the L2 penalty; `epochs` bounds the solver's passes; `feature_dim` (checked against
the data when a number) and `mini_batch_size` are accepted. The metrics are logged as the
algorithm logs them (`#quality_metric: host=algo-1, test mse <loss>=...`), under its names:
`objective_loss`, `mse`, `rmse`, `absolute_loss` for a regressor;
`objective_loss`, `binary_classification_accuracy`, `binary_f_beta`, `precision`, `recall`,
`roc_auc_score` for a binary classifier; `objective_loss`, `multiclass_accuracy`,
`macro_f_beta`, `macro_precision`, `macro_recall` for a multiclass one (train: the objective
only).

The model artifact is the sandbox's own format, not the algorithm's MXNet one:
`linear-learner-model.joblib` (the fitted scikit-learn pipeline) and
`linear-learner-model.json` (`predictor_type`, `num_classes`). Serving answers as the
algorithm does: JSON `{"predictions": [{"score": ..., "predicted_label": ...}]}`, or CSV,
a line a record (`score`, or `predicted_label,score`).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import LogisticRegression, Ridge, SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sandbox.runner.containers.channels import CSV, DataError, content_type, read_csv

MODEL_FILE = "linear-learner-model.joblib"
META_FILE = "linear-learner-model.json"
PREDICTORS = ("regressor", "binary_classifier", "multiclass_classifier")
KNOWN = {
    "predictor_type",
    "feature_dim",
    "mini_batch_size",
    "epochs",
    "num_classes",
    "wd",
    "l1",
    "learning_rate",
    "loss",
    "normalize_data",
    "normalize_label",
    "use_bias",
    "optimizer",
    "num_models",
    "num_calibration_samples",
    "init_method",
    "early_stopping_patience",
    "early_stopping_tolerance",
    "binary_classifier_model_selection_criteria",
    "target_recall",
    "target_precision",
    "positive_example_weight_mult",
    "beta_1",
    "beta_2",
    "bias_lr_mult",
    "bias_wd_mult",
    "lr_scheduler_factor",
    "lr_scheduler_minimum_lr",
    "lr_scheduler_step",
    "momentum",
    "huber_delta",
    "quantile",
    "loss_insensitivity",
    "accuracy_top_k",
    "balance_multiclass_weights",
    "unbias_data",
    "unbias_label",
    "margin",
    "f_beta",
    "_tuning_objective_metric",
}


def _flag(hyperparameters: dict, name: str, default: bool) -> bool:
    value = str(hyperparameters.get(name, "auto")).lower()
    return default if value == "auto" else value == "true"


def build(hyperparameters: dict, feature_count: int):
    predictor = hyperparameters.get("predictor_type")
    if predictor not in PREDICTORS:
        raise DataError(
            f"hyperparameter predictor_type: {predictor!r} is not one of {', '.join(PREDICTORS)}"
        )
    dim = hyperparameters.get("feature_dim", "auto")
    if dim != "auto" and int(dim) != feature_count:
        raise DataError(
            f"hyperparameter feature_dim is {dim}, the data has {feature_count} features"
        )
    wd_value = hyperparameters.get("wd", "auto")
    wd = 0.0 if wd_value == "auto" else float(wd_value)
    epochs = int(hyperparameters.get("epochs", 15))
    loss = hyperparameters.get("loss", "auto")
    steps = [StandardScaler()] if _flag(hyperparameters, "normalize_data", True) else []
    if predictor == "regressor":
        if loss in ("auto", "squared_loss"):
            estimator = Ridge(alpha=wd)
        elif loss == "absolute_loss":
            estimator = SGDRegressor(
                loss="epsilon_insensitive",
                epsilon=0.0,
                alpha=wd,
                max_iter=max(epochs, 5),
                random_state=0,
            )
        else:
            raise DataError(
                f"hyperparameter loss {loss!r} is not supported locally for a regressor"
            )
        model = make_pipeline(*steps, estimator)
        if _flag(hyperparameters, "normalize_label", True):
            model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
        return model
    if loss not in ("auto", "logistic", "softmax_loss"):
        raise DataError(f"hyperparameter loss {loss!r} is not supported locally for a classifier")
    penalty = {"C": 1 / wd} if wd > 0 else {"C": 1e6}
    return make_pipeline(*steps, LogisticRegression(max_iter=max(epochs * 10, 100), **penalty))


def quality_metrics(
    predictor: str, model, features, labels, channel: str
) -> dict[str, tuple[str, float]]:
    """name -> (kind, value), as the algorithm reports them for a channel."""
    if predictor == "regressor":
        predicted = model.predict(features)
        mse = metrics.mean_squared_error(labels, predicted)
        found = {
            "objective_loss": ("loss", mse),
            "mse": ("loss", mse),
            "rmse": ("loss", mse**0.5),
            "absolute_loss": ("loss", metrics.mean_absolute_error(labels, predicted)),
        }
    else:
        probabilities = model.predict_proba(features)
        predicted = model.classes_[probabilities.argmax(axis=1)]
        loss = metrics.log_loss(labels, probabilities, labels=model.classes_)
        if predictor == "binary_classifier":
            found = {
                "objective_loss": ("loss", loss),
                "binary_classification_accuracy": (
                    "score",
                    metrics.accuracy_score(labels, predicted),
                ),
                "binary_f_beta": ("score", metrics.f1_score(labels, predicted, zero_division=0)),
                "precision": ("score", metrics.precision_score(labels, predicted, zero_division=0)),
                "recall": ("score", metrics.recall_score(labels, predicted, zero_division=0)),
                "roc_auc_score": (
                    "score",
                    metrics.roc_auc_score(labels, probabilities[:, 1])
                    if len(set(labels)) > 1
                    else float("nan"),
                ),
            }
        else:
            found = {
                "objective_loss": ("loss", loss),
                "multiclass_accuracy": ("score", metrics.accuracy_score(labels, predicted)),
                "macro_f_beta": (
                    "score",
                    metrics.f1_score(labels, predicted, average="macro", zero_division=0),
                ),
                "macro_precision": (
                    "score",
                    metrics.precision_score(labels, predicted, average="macro", zero_division=0),
                ),
                "macro_recall": (
                    "score",
                    metrics.recall_score(labels, predicted, average="macro", zero_division=0),
                ),
            }
    return {"objective_loss": found["objective_loss"]} if channel == "train" else found


def _channel(ml_root: Path, channels: dict, name: str):
    if name not in channels:
        return None
    if content_type(channels[name].get("ContentType"), "text/csv") != CSV:
        raise DataError(f"channel {name!r}: the Linear Learner reads text/csv here (not libsvm)")
    features, labels, _ = read_csv(ml_root / "input" / "data" / name)
    return features, labels


def train(ml_root: Path) -> None:
    config = ml_root / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    channels = json.loads((config / "inputdataconfig.json").read_text())
    unknown = sorted(set(hyperparameters) - KNOWN)
    if unknown:
        raise DataError(f"unknown hyperparameter(s) for the Linear Learner: {', '.join(unknown)}")
    if "train" not in channels:
        raise DataError("the Linear Learner needs a 'train' channel")
    features, labels = _channel(ml_root, channels, "train")
    predictor = hyperparameters.get("predictor_type")
    if predictor == "multiclass_classifier":
        classes = int(hyperparameters.get("num_classes", 0))
        if classes < 3:
            raise DataError(
                "hyperparameter num_classes (3 or more) is required for multiclass_classifier"
            )
        if not set(np.unique(labels)) <= set(range(classes)):
            raise DataError(f"multiclass labels must be integers 0..{classes - 1}")
    if predictor == "binary_classifier" and not set(np.unique(labels)) <= {0, 1}:
        raise DataError("binary_classifier labels must be 0 or 1")
    model = build(hyperparameters, features.shape[1])
    model.fit(features, labels)
    for name in ("train", "validation", "test"):
        data = _channel(ml_root, channels, name)
        if data is None:
            continue
        for metric, (kind, value) in quality_metrics(predictor, model, *data, name).items():
            print(f"#quality_metric: host=algo-1, {name} {metric} <{kind}>={value}")
    model_dir = ml_root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    (model_dir / META_FILE).write_text(
        json.dumps({"predictor_type": predictor, "num_classes": hyperparameters.get("num_classes")})
    )


# --- serving --------------------------------------------------------------------------------


def model_fn(model_dir: str):
    folder = Path(model_dir)
    return joblib.load(folder / MODEL_FILE), json.loads((folder / META_FILE).read_text())


def input_fn(body: bytes, request_content_type: str):
    if content_type(request_content_type, "text/csv") != CSV:
        raise DataError(
            f"ContentType {request_content_type!r}: the Linear Learner reads text/csv here"
        )
    return pd.read_csv(io.StringIO(body.decode("utf-8")), header=None, dtype=np.float64).to_numpy()


def predict_fn(features, loaded) -> list[dict]:
    model, meta = loaded
    if meta["predictor_type"] == "regressor":
        return [{"score": float(s)} for s in model.predict(features)]
    probabilities = model.predict_proba(features)
    labels = model.classes_[probabilities.argmax(axis=1)]
    if meta["predictor_type"] == "binary_classifier":
        return [
            {"score": float(p[1]), "predicted_label": int(k)}
            for p, k in zip(probabilities, labels, strict=True)
        ]
    return [
        {"score": p.tolist(), "predicted_label": int(k)}
        for p, k in zip(probabilities, labels, strict=True)
    ]


def output_fn(predictions: list[dict], accept: str) -> tuple[str, str]:
    kind = (accept or "application/json").split(";")[0].strip().lower()
    if kind == "text/csv":
        rows = [
            ",".join(
                str(v)
                for v in (
                    [p["predicted_label"], p["score"]] if "predicted_label" in p else [p["score"]]
                )
            )
            for p in predictions
        ]
        return "\n".join(rows) + "\n", "text/csv"
    if kind in ("application/json", "application/jsonlines"):
        if kind == "application/jsonlines":
            return "\n".join(json.dumps(p) for p in predictions) + "\n", kind
        return json.dumps({"predictions": predictions}), kind
    raise DataError(
        f"Accept {accept!r} is not supported "
        "(application/json, application/jsonlines, text/csv are)"
    )


if __name__ == "__main__":
    try:
        train(Path(sys.argv[1]))
    except DataError as err:
        print(f"ClientError: {err}", file=sys.stderr)
        sys.exit(1)
