"""Inference handlers for the SageMaker scikit-learn serving container.

The container calls model_fn once, then input_fn -> predict_fn -> output_fn per request.
Requests are CSV (with or without a header row; without one, columns are in training order)
or JSON (`{"instances": [{column: value, ...}, ...]}`, a list of such objects, or a list of
lists in training order). Responses carry, per row, the churn probability and the label.
An empty CSV field or a JSON null is a missing value (the model imputes it).

Malformed input raises PayloadError (a ValueError with `status_code` 400) whose message
names the CSV line or JSON row and the feature: CSV that does not parse, a value that is not
a number, a non-finite one (nan, inf), a category the model was not trained on. Inside the
serving container it is also the inference toolkit's BaseInferenceToolkitError, the type
the toolkit answers with its own status code instead of a 500.

Requests are checked one by one in plain Python, then scored together: rows of requests that
arrive while a prediction runs are scored in one call (`BatchScorer`). A scikit-learn
pipeline costs about the same for 1 row as for 200 (its per-call checks dominate), so under
concurrent load this keeps latency flat instead of queueing one full call per request.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import threading
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


class BatchScorer:
    """Scores rows with `score(rows)`, one call for the rows of every request waiting.

    Each caller queues its rows; whoever then holds the lock scores everything queued, so
    callers that arrived during a prediction are answered by the next single call.
    """

    def __init__(self, score):
        self._score = score
        self._queue: list[dict] = []
        self._queue_lock = threading.Lock()
        self._score_lock = threading.Lock()

    def __call__(self, rows: list[list]) -> np.ndarray:
        item: dict = {"rows": rows}
        with self._queue_lock:
            self._queue.append(item)
        with self._score_lock:
            if "result" not in item:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._score_batch(batch)
        if isinstance(item["result"], Exception):
            raise item["result"]
        return item["result"]

    def _score_batch(self, batch: list[dict]) -> None:
        try:
            scores = self._score([row for item in batch for row in item["rows"]])
        except Exception:  # noqa: BLE001 — score each alone, so an error reaches its own caller
            for item in batch:
                try:
                    item["result"] = self._score(item["rows"])
                except Exception as err:  # noqa: BLE001 — handed to the caller, who raises it
                    item["result"] = err
            return
        start = 0
        for item in batch:
            item["result"] = scores[start : start + len(item["rows"])]
            start += len(item["rows"])


class ChurnModel:
    """The fitted pipeline, the feature order it was trained on, and its known categories."""

    def __init__(self, pipeline, features: list[str]):
        self.pipeline = pipeline
        self.features = features
        # The categories the one-hot encoder learnt, per categorical column.
        _, encode, columns = pipeline.named_steps["features"].transformers_[0]
        known = encode.named_steps["onehot"].categories_
        self.categories = {c: {str(v) for v in k} for c, k in zip(columns, known, strict=True)}
        self.numeric = [f for f in features if f not in self.categories]
        self.score = BatchScorer(lambda rows: pipeline.predict_proba(self.frame(rows))[:, 1])

    def frame(self, rows: list[list]) -> pd.DataFrame:
        """Checked rows (feature order) as the frame the pipeline was trained on: numbers
        as floats, categories as objects, a missing value as NaN."""
        columns = zip(*rows, strict=True)
        return pd.DataFrame(
            {
                feature: np.array(
                    [np.nan if v is None else v for v in values],
                    dtype=object if feature in self.categories else float,
                )
                for feature, values in zip(self.features, columns, strict=True)
            },
            columns=self.features,
        )


def model_fn(model_dir: str) -> ChurnModel:
    model_dir_path = Path(model_dir)
    features = json.loads((model_dir_path / "features.json").read_text())
    return ChurnModel(joblib.load(model_dir_path / MODEL_FILE), features)


class CsvRows(list):
    """Rows of a CSV request as strings, with the line each starts on."""

    def __init__(self, rows: list[list[str]], lines: list[int]):
        super().__init__(rows)
        self.lines = lines


def _read_csv(text: str) -> CsvRows:
    """Every row of a CSV body; raises PayloadError naming the line that does not parse."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, lines = [], []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise PayloadError(f"malformed CSV at line {line}: {err}") from None
        if row:  # a blank line is no row
            rows.append(row)
            lines.append(line)
    if not rows:
        raise PayloadError("empty CSV payload")
    return CsvRows(rows, lines)


def input_fn(request_body, request_content_type: str, model: ChurnModel | None = None):
    """Parse a request into raw rows: CsvRows, or the JSON list of records or lists."""
    if isinstance(request_body, bytes | bytearray):
        try:
            request_body = request_body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise PayloadError(f"payload is not UTF-8 text: {err.reason}") from None
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        return _read_csv(request_body)
    if content_type == "application/json":
        try:
            payload = json.loads(request_body)
        except json.JSONDecodeError as err:
            raise PayloadError(f"payload is not valid JSON: {err.msg}") from None
        return payload.get("instances") if isinstance(payload, dict) else payload
    raise PayloadError(f"unsupported content type {request_content_type!r}")


def _csv_rows(rows: CsvRows, features: list[str]) -> tuple[list[list], list[str]]:
    """Rows in feature order, and where each came from; a header row names the columns."""
    first, lines = rows[0], rows.lines
    if set(features) <= set(first):
        if len(rows) == 1:
            raise PayloadError("CSV payload has a header but no rows")
        positions = [first.index(f) for f in features]
        body, lines = rows[1:], lines[1:]
        for row, line in zip(body, lines, strict=True):
            if len(row) != len(first):
                raise PayloadError(
                    f"CSV line {line}: {len(row)} values under a header of {len(first)}"
                )
        body = [[row[p] for p in positions] for row in body]
    else:
        body = list(rows)
        for row, line in zip(body, lines, strict=True):
            if len(row) != len(features):
                raise PayloadError(
                    f"CSV line {line}: each CSV row needs {len(features)} values, got {len(row)}"
                )
    return [[v if v != "" else None for v in row] for row in body], [
        f"CSV line {line}" for line in lines
    ]


def _json_rows(rows, features: list[str]) -> tuple[list[list], list[str]]:
    if not isinstance(rows, list) or not rows:
        raise PayloadError("payload has no rows")
    if all(isinstance(r, dict) for r in rows):
        missing = sorted({f for r in rows for f in features if f not in r})
        if missing:
            raise PayloadError(f"payload is missing feature(s): {', '.join(missing)}")
        values = [[r[f] for f in features] for r in rows]
    elif all(isinstance(r, list) for r in rows):
        bad = [len(r) for r in rows if len(r) != len(features)]
        if bad:
            raise PayloadError(f"each row needs {len(features)} values, got {bad[0]}")
        values = rows
    else:
        raise PayloadError("rows must be all objects or all lists")
    return values, [f"row {index}" for index in range(len(rows))]


def _checked(value, feature: str, where: str, model: ChurnModel):
    """A value the pipeline can take (float, category string or None); else PayloadError."""
    if value is None:
        return None
    if feature in model.categories:
        text = str(value)
        if text not in model.categories[feature]:
            known = ", ".join(repr(c) for c in sorted(model.categories[feature]))
            raise PayloadError(
                f"{where}: feature '{feature}' has unknown category {text!r} (known: {known})"
            )
        return text
    if isinstance(value, bool):
        raise PayloadError(f"{where}: feature '{feature}' has non-numeric value {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PayloadError(
            f"{where}: feature '{feature}' has non-numeric value {value!r}"
        ) from None
    if not math.isfinite(number):
        raise PayloadError(
            f"{where}: feature '{feature}' has non-finite value {value!r} "
            "(send an empty CSV field or a JSON null for a missing value)"
        )
    return number


def predict_fn(input_data, model: ChurnModel) -> np.ndarray:
    """Churn probability per row; raises PayloadError naming the first bad value."""
    if isinstance(input_data, CsvRows):
        rows, places = _csv_rows(input_data, model.features)
    else:
        rows, places = _json_rows(input_data, model.features)
    checked = [
        [_checked(v, f, where, model) for v, f in zip(row, model.features, strict=True)]
        for row, where in zip(rows, places, strict=True)
    ]
    return model.score(checked)


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
