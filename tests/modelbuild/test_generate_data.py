"""The churn generator: seeded, realistic, chunked."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.churn import generate_data
from pipelines.churn.schema import ALL_COLUMNS, CATEGORICAL_COLUMNS, NUMERIC_COLUMNS


@pytest.fixture(name="sample", scope="module")
def fixture_sample(tmp_path_factory) -> pd.DataFrame:
    path = generate_data.write_churn_csv(tmp_path_factory.mktemp("gen") / "c.csv", 20_000)
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def test_columns_and_row_count(sample):
    assert list(sample.columns) == ALL_COLUMNS
    assert len(sample) == 20_000
    assert sample["customer_id"].is_unique


def test_positive_rate_is_between_20_and_30_percent(sample):
    assert 0.20 <= sample["churn"].mean() <= 0.30


def test_some_values_are_missing_but_never_the_label(sample):
    missing = sample.isna().mean()
    assert 0.005 < missing["total_charges"] < 0.05
    assert 0.005 < missing["payment_method"] < 0.05
    assert missing["churn"] == 0


def test_categoricals_use_only_their_levels(sample):
    for column, levels in CATEGORICAL_COLUMNS.items():
        assert set(sample[column].dropna()) <= set(levels), column
    for column in NUMERIC_COLUMNS:
        assert pd.api.types.is_numeric_dtype(sample[column]), column


def test_label_depends_on_features(sample):
    by_contract = sample.groupby("contract")["churn"].mean()
    assert by_contract["Month-to-month"] > 2 * by_contract["Two year"]


def test_same_seed_same_file_and_other_seed_differs(tmp_path):
    a = generate_data.write_churn_csv(tmp_path / "a.csv", 500, seed=1).read_bytes()
    b = generate_data.write_churn_csv(tmp_path / "b.csv", 500, seed=1).read_bytes()
    c = generate_data.write_churn_csv(tmp_path / "c.csv", 500, seed=2).read_bytes()
    assert a == b
    assert a != c


def test_writes_in_chunks_with_one_header(tmp_path, monkeypatch):
    monkeypatch.setattr(generate_data, "CHUNK_ROWS", 300)
    path = generate_data.write_churn_csv(tmp_path / "c.csv", 1_000)
    lines = path.read_text().splitlines()
    assert len(lines) == 1_001
    assert sum(line.startswith("customer_id,") for line in lines) == 1
    ids = pd.read_csv(path)["customer_id"]
    assert ids.is_unique and ids.iloc[-1] == "C00000999"


def test_cli_writes_file(tmp_path, capsys):
    out = tmp_path / "nested" / "c.csv"
    assert generate_data.main(["--rows", "50", "--output", str(out)]) == 0
    assert len(pd.read_csv(out)) == 50
    assert "wrote 50 rows" in capsys.readouterr().out


def test_cli_rejects_non_positive_rows(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        generate_data.main(["--rows", "0", "--output", str(tmp_path / "c.csv")])
    assert exit_info.value.code == 2
