"""The SageMaker XGBoost algorithm (algorithm mode, no script) on the open-source xgboost.

Training, `python xgboost_algorithm.py ML_ROOT MODEL_FORMAT`, reads what the container
reads under ML_ROOT (the job's /opt/ml): `input/config/hyperparameters.json` (every value a
string, as CreateTrainingJob passes them), `input/config/inputdataconfig.json` and the
`train` (and optional `validation`) channel, CSV with the label in the first column and no
header, or libsvm (the algorithm's default). It prints the evaluation log the container
prints (`[0]<TAB>train-rmse:...<TAB>validation-rmse:...`), from which the runner reads the
`train:rmse`/`validation:rmse` metrics, and saves `model/xgboost-model` as the image
version does: pickled before 1.3, `Booster.save_model` from 1.3 on (MODEL_FORMAT).

Serving: `model_fn`/`input_fn`/`predict_fn`/`output_fn`, what the container answers for a
batch transform: CSV (no label) or libsvm in, one prediction per line out (text/csv) or
`{"predictions": [{"score": ...}]}` (application/json).
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from sandbox.runner.containers.channels import CSV, DataError, content_type, read_csv, read_libsvm

MODEL_NAME = "xgboost-model"
# Hyperparameters the container consumes itself; the rest go to xgboost.train as they are
# (xgboost takes its parameters as strings).
CONTAINER_ONLY = (
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "_tuning_objective_metric",
    "save_model_on_termination",
    "_kfold",
    "_num_cv_round",
)
TRAINING_DEFAULT_CONTENT_TYPE = "text/libsvm"


def _integer(hyperparameters: dict, name: str, default: int | None = None) -> int | None:
    value = hyperparameters.get(name)
    if value is None:
        return default
    try:
        return int(float(value))
    except ValueError:
        raise DataError(f"hyperparameter {name}: {value!r} is not an integer") from None


def xgboost_parameters(hyperparameters: dict) -> dict:
    """What xgboost.train gets: the hyperparameters less the container's own, with
    `eval_metric` as a list that holds the tuning objective's metric too (as the container
    adds it)."""
    parameters = {k: v for k, v in hyperparameters.items() if k not in CONTAINER_ONLY}
    metrics = [m for m in str(parameters.pop("eval_metric", "")).split(",") if m]
    objective = hyperparameters.get("_tuning_objective_metric")
    if objective and ":" in objective:
        name = objective.split(":", 1)[1]
        if name not in metrics:
            metrics.append(name)
    if metrics:
        parameters["eval_metric"] = metrics
    return parameters


def _matrices(data: Path, channels: dict, hyperparameters: dict) -> list[tuple[xgb.DMatrix, str]]:
    """The watchlist: the train channel, and the validation one when there is one."""
    names = [name for name in ("train", "validation") if name in channels]
    kinds = {
        name: content_type(channels[name].get("ContentType"), TRAINING_DEFAULT_CONTENT_TYPE)
        for name in names
    }
    weights = bool(_integer(hyperparameters, "csv_weights", 0))
    libsvm = [name for name in names if kinds[name] != CSV]
    sparse = (
        dict(zip(libsvm, read_libsvm([data / name for name in libsvm]), strict=True))
        if libsvm
        else {}
    )
    matrices = []
    for name in names:
        if name in sparse:
            features, labels = sparse[name]
            matrices.append((xgb.DMatrix(features, label=labels), name))
        else:
            features, labels, weight = read_csv(data / name, weights and name == "train")
            matrices.append((xgb.DMatrix(features, label=labels, weight=weight), name))
    return matrices


def train(ml_root: Path, model_format: str) -> None:
    config = ml_root / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    channels = json.loads((config / "inputdataconfig.json").read_text())
    if "train" not in channels:
        raise DataError("the XGBoost algorithm needs a 'train' channel")
    num_round = _integer(hyperparameters, "num_round")
    if num_round is None:
        raise DataError("hyperparameter num_round is required")
    evals = _matrices(ml_root / "input" / "data", channels, hyperparameters)
    train_matrix = evals[0][0]
    print(f"Train matrix has {train_matrix.num_row()} rows and {train_matrix.num_col()} columns")
    booster = xgb.train(
        xgboost_parameters(hyperparameters),
        train_matrix,
        num_boost_round=num_round,
        evals=evals,
        early_stopping_rounds=_integer(hyperparameters, "early_stopping_rounds"),
        verbose_eval=True,  # the container's evaluation log, one line a round
    )
    model_dir = ml_root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    if model_format == "pickle":
        with (model_dir / MODEL_NAME).open("wb") as out:
            pickle.dump(booster, out)
    else:
        # No extension, as the container names it: xgboost saves UBJSON then, and warns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            booster.save_model(str(model_dir / MODEL_NAME))


# --- serving, as the batch-transform server calls a model's handlers ------------------------


def model_fn(model_dir: str) -> xgb.Booster:
    """The booster in the model folder, pickled or saved by xgboost (the container tries
    both, in this order)."""
    candidates = sorted(p for p in Path(model_dir).iterdir() if p.is_file())
    if not candidates:
        raise DataError("model.tar.gz holds no model file")
    path = candidates[0]
    try:
        with path.open("rb") as model:
            booster = pickle.load(model)
    except Exception:  # noqa: BLE001 — not a pickle: xgboost's own format
        booster = xgb.Booster()
        booster.load_model(str(path))
    booster.set_param("nthread", 1)
    return booster


def input_fn(body: bytes, request_content_type: str) -> xgb.DMatrix:
    kind = content_type(request_content_type, "text/csv")
    text = body.decode("utf-8").strip()
    if kind == CSV:
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=np.float64)
        return xgb.DMatrix(frame.to_numpy())
    from sklearn.datasets import load_svmlight_file

    features, _ = load_svmlight_file(io.BytesIO(text.encode()), zero_based=True)
    return xgb.DMatrix(features)


def predict_fn(data: xgb.DMatrix, booster: xgb.Booster) -> np.ndarray:
    return booster.predict(data, validate_features=False)


def output_fn(predictions: np.ndarray, accept: str) -> tuple[str, str]:
    """One prediction a line (a row of class probabilities as CSV), as the container answers
    a batch transform; or JSON with a score each."""
    kind = (accept or "text/csv").split(";")[0].strip().lower()
    if kind == "application/json":
        scores = [{"score": p} for p in predictions.tolist()]
        return json.dumps({"predictions": scores}), "application/json"
    if kind != "text/csv":
        raise DataError(f"Accept {accept!r} is not supported (text/csv, application/json are)")
    rows = [",".join(map(str, p)) if isinstance(p, list) else str(p) for p in predictions.tolist()]
    return "\n".join(rows) + "\n", "text/csv"


if __name__ == "__main__":
    try:
        train(Path(sys.argv[1]), sys.argv[2])
    except (DataError, xgb.core.XGBoostError) as err:
        print(f"AlgorithmError: {err}".splitlines()[0], file=sys.stderr)
        sys.exit(1)
