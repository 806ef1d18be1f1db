"""inference.py: the handlers the scikit-learn serving container calls, CSV and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.churn.steps.training import inference


@pytest.fixture(name="model", scope="module")
def fixture_model(model_dir: Path):
    return inference.model_fn(str(model_dir))


@pytest.fixture(name="rows", scope="module")
def fixture_rows(splits: Path) -> pd.DataFrame:
    return pd.read_csv(splits / "test" / "test.csv").drop(columns=["churn"]).head(5)


def _invoke(model, body, content_type, accept="application/json"):
    data = inference.input_fn(body, content_type)
    return inference.output_fn(inference.predict_fn(data, model), accept)


def test_csv_without_header_gives_one_prediction_per_row(model, rows):
    body = rows.to_csv(header=False, index=False)
    payload, content_type = _invoke(model, body, "text/csv")
    predictions = json.loads(payload)["predictions"]
    assert content_type == "application/json"
    assert len(predictions) == 5
    for p in predictions:
        assert 0 <= p["churn_probability"] <= 1
        assert p["predicted_label"] == int(p["churn_probability"] >= 0.5)


def test_csv_with_header_and_json_agree(model, rows):
    from_csv, _ = _invoke(model, rows.to_csv(index=False).encode(), "text/csv")
    records = json.loads(rows.to_json(orient="records"))
    from_json, _ = _invoke(model, json.dumps({"instances": records}), "application/json")
    assert json.loads(from_csv) == json.loads(from_json)


def test_csv_response(model, rows):
    body, content_type = _invoke(
        model, rows.to_csv(header=False, index=False), "text/csv", "text/csv"
    )
    assert content_type == "text/csv"
    lines = body.splitlines()
    assert len(lines) == 5 and all(len(line.split(",")) == 2 for line in lines)


def test_missing_values_are_accepted(model, rows):
    records = json.loads(rows.to_json(orient="records"))
    records[0]["age"] = None
    payload, _ = _invoke(model, json.dumps(records), "application/json")
    assert len(json.loads(payload)["predictions"]) == 5


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('{"instances": []}', "application/json", "no rows"),
        ('[{"age": 3}]', "application/json", "missing feature(s)"),
        ("1,2,3", "text/csv", "each CSV row needs 10 values, got 3"),
        ("", "text/csv", "empty CSV payload"),
        ("a", "application/x-npy", "unsupported content type"),
    ],
)
def test_malformed_payloads_raise_value_error(model, body, content_type, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        inference.predict_fn(inference.input_fn(body, content_type), model)


def test_text_in_numeric_feature_is_named(model, rows):
    records = json.loads(rows.to_json(orient="records"))
    records[0]["tenure_months"] = "many"
    with pytest.raises(ValueError, match="feature 'tenure_months' has non-numeric value 'many'"):
        inference.predict_fn(records, model)


def test_batched_rows_come_back_to_their_own_callers_and_so_does_an_error():
    def score(rows):
        if ["bad"] in rows:
            raise ValueError("cannot score 'bad'")
        return np.array([float(r[0]) for r in rows])

    scorer = inference.BatchScorer(score)
    batch = [{"rows": [[1], [2]]}, {"rows": [["bad"]]}, {"rows": [[3]]}]
    scorer._score_batch(batch)  # the rows of three waiting callers, scored together
    assert list(batch[0]["result"]) == [1.0, 2.0]
    assert str(batch[1]["result"]) == "cannot score 'bad'"
    assert list(batch[2]["result"]) == [3.0]
    assert list(scorer([[4], [5]])) == [4.0, 5.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('1,"open\n2,3\n', "malformed CSV at line 1"),
        ("x" * 3 + "\n", "CSV line 1: each CSV row needs 10 values, got 1"),
    ],
)
def test_malformed_csv_names_the_line(model, body, message):
    with pytest.raises(inference.PayloadError, match=message):
        inference.predict_fn(inference.input_fn(body, "text/csv"), model)
