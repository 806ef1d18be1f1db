"""The step scripts carry their own copy of the columns (only the script is shipped to the
container); these tests keep the copies equal to pipelines/churn/schema.py."""

from __future__ import annotations

from pipelines.churn import schema
from pipelines.churn.steps import evaluate, preprocess
from pipelines.churn.steps.training import train


def test_preprocess_columns_match_schema():
    assert preprocess.NUMERIC_COLUMNS == schema.NUMERIC_COLUMNS
    assert preprocess.CATEGORICAL_COLUMNS == list(schema.CATEGORICAL_COLUMNS)
    assert preprocess.TARGET_COLUMN == schema.TARGET_COLUMN == train.TARGET_COLUMN
    assert evaluate.TARGET_COLUMN == schema.TARGET_COLUMN


def test_train_categoricals_match_schema():
    assert train.CATEGORICAL_COLUMNS == list(schema.CATEGORICAL_COLUMNS)
