"""Inference handlers for the SageMaker scikit-learn serving container.

The container calls model_fn once, then input_fn -> predict_fn -> output_fn per request.
Requests are CSV (with or without a header row; without one, columns are in training order)
or JSON (`{"instances": [{column: value, ...}, ...]}`, a list of such objects, or a list of
lists in training order). Responses carry, per row, the churn probability and the label.

Malformed input raises PayloadError (a ValueError with `status_code` 400). Inside the
serving container it is also the inference toolkit's BaseInferenceToolkitError, the type the
toolkit answers with its own status code instead of a 500.
"""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

MODEL_FILE = "model.joblib"
THRESHOLD = 0.5


def _toolkit_error() -> type:
    """The serving toolkit's error base class where it is installed, else Exception."""
    for module in ("sagemaker_inference.errors", "sagemaker_containers._errors"):
        try:
            return importlib.import_module(module).BaseInferenceToolkitError
        except (ImportError, AttributeError):
            continue
    return Exception


class PayloadError(ValueError, _toolkit_error()):
    """A request the model cannot score: answered with HTTP 400 and this message."""

    status_code = 400

    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.message = self.phrase = message


class ChurnModel:
    """The fitted pipeline and the feature order it was trained on."""

    def __init__(self, pipeline, features: list[str]):
        self.pipeline = pipeline
        self.features = features


def model_fn(model_dir: str) -> ChurnModel:
    model_dir_path = Path(model_dir)
    features = json.loads((model_dir_path / "features.json").read_text())
    return ChurnModel(joblib.load(model_dir_path / MODEL_FILE), features)


def _frame(rows, features: list[str]) -> pd.DataFrame:
    if not isinstance(rows, list) or not rows:
        raise PayloadError("payload has no rows")
    if all(isinstance(r, dict) for r in rows):
        missing = sorted({f for r in rows for f in features if f not in r})
        if missing:
            raise PayloadError(f"payload is missing feature(s): {', '.join(missing)}")
        return pd.DataFrame(rows)[features]
    if all(isinstance(r, list) for r in rows):
        bad = [len(r) for r in rows if len(r) != len(features)]
        if bad:
            raise PayloadError(f"each row needs {len(features)} values, got {bad[0]}")
        return pd.DataFrame(rows, columns=features)
    raise PayloadError("rows must be all objects or all lists")


def _numeric(frame: pd.DataFrame, model: ChurnModel) -> pd.DataFrame:
    """Cast the numeric columns, naming the first value that is not a number."""
    categorical = set(model.pipeline.named_steps["features"].transformers_[0][2])
    for column in (c for c in model.features if c not in categorical):
        converted = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")
        bad = converted.isna() & frame[column].notna() & (frame[column] != "")
        if bad.any():
            raise PayloadError(
                f"feature '{column}' has non-numeric value {frame.loc[bad, column].iloc[0]!r}"
            )
        frame[column] = converted
    return frame


def input_fn(request_body, request_content_type: str, model: ChurnModel | None = None):
    """Parse a request into rows of raw features (a DataFrame or a list of rows)."""
    if isinstance(request_body, bytes | bytearray):
        request_body = request_body.decode("utf-8")
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        text = request_body.strip()
        if not text:
            raise PayloadError("empty CSV payload")
        return pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False)
    if content_type == "application/json":
        try:
            payload = json.loads(request_body)
        except json.JSONDecodeError as err:
            raise PayloadError(f"payload is not valid JSON: {err.msg}") from None
        return payload.get("instances") if isinstance(payload, dict) else payload
    raise PayloadError(f"unsupported content type {request_content_type!r}")


def _rows_from_csv(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    first = [str(v) for v in frame.iloc[0]]
    if set(features) <= set(first):  # a header row names the columns
        body = frame.iloc[1:].copy()
        body.columns = first
        if body.empty:
            raise PayloadError("CSV payload has a header but no rows")
        frame = body[features]
    elif frame.shape[1] != len(features):
        raise PayloadError(f"each CSV row needs {len(features)} values, got {frame.shape[1]}")
    else:
        frame.columns = features
    return frame.replace("", np.nan)  # an empty CSV field is a missing value


def predict_fn(input_data, model: ChurnModel) -> np.ndarray:
    """Churn probability per row."""
    if isinstance(input_data, pd.DataFrame):
        frame = _rows_from_csv(input_data, model.features)
    else:
        frame = _frame(input_data, model.features)
    frame = _numeric(frame.replace({None: np.nan}), model)
    return model.pipeline.predict_proba(frame)[:, 1]


def output_fn(prediction: np.ndarray, accept: str = "application/json"):
    """Serialise probabilities as JSON (default) or CSV `probability,label` lines."""
    accept = (accept or "application/json").split(";")[0].strip().lower()
    labels = (prediction >= THRESHOLD).astype(int)
    if accept == "text/csv":
        body = "\n".join(f"{p:.6f},{label}" for p, label in zip(prediction, labels, strict=True))
        return body, "text/csv"
    if accept in ("application/json", "*/*"):
        predictions = [
            {"churn_probability": round(float(p), 6), "predicted_label": int(label)}
            for p, label in zip(prediction, labels, strict=True)
        ]
        return json.dumps({"predictions": predictions}), "application/json"
    raise PayloadError(f"unsupported accept type {accept!r}")
