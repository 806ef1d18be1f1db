"""The churn data contract: it agrees with schema.py, and each rule names its column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from orchestration.lambdas.contract import (
    CONTRACT_DIR,
    Checker,
    ContractError,
    Violation,
    load_contract,
)
from pipelines.churn import schema
from pipelines.churn.generate_data import write_churn_csv

CONTRACT = "churn-v1"


def test_contract_columns_are_schema_columns_in_order():
    """schema.py is the one source of the columns: the contract may not drift from it."""
    contract = load_contract(CONTRACT)
    assert [c["name"] for c in contract["columns"]] == schema.ALL_COLUMNS
    types = {c["name"]: c["type"] for c in contract["columns"]}
    for name in schema.NUMERIC_COLUMNS:
        assert types[name] in ("number", "integer"), name
    for name, values in schema.CATEGORICAL_COLUMNS.items():
        [column] = [c for c in contract["columns"] if c["name"] == name]
        assert column["type"] == "category" and column["values"] == values, name
    assert contract["label"]["column"] == schema.TARGET_COLUMN


def test_every_contract_file_loads():
    names = [p.stem for p in CONTRACT_DIR.glob("*.json")]
    assert CONTRACT in names
    for name in names:
        assert load_contract(name)["columns"], name


@pytest.fixture(name="generated", scope="module")
def fixture_generated(tmp_path_factory) -> list[str]:
    path = write_churn_csv(tmp_path_factory.mktemp("contract") / "churn.csv", rows=3_000, seed=5)
    return path.read_text().splitlines(keepends=True)


def check(lines: list[str], contract: dict | None = None) -> list[Violation]:
    checker = Checker(contract or load_contract(CONTRACT), CONTRACT)
    checker.feed("churn.csv", lines)
    return checker.report().violations


def test_generated_data_meets_the_contract(generated):
    checker = Checker(load_contract(CONTRACT), CONTRACT)
    checker.feed("churn.csv", generated)
    report = checker.report()
    assert report.valid, report.violations
    assert report.rows == 3_000 and report.as_dict()["valid"] is True


def edit(lines: list[str], column: str, value: str, rows: range) -> list[str]:
    """`lines` with `column` set to `value` in the data rows `rows` (0 = first data row)."""
    table = list(csv.reader(lines))
    at = table[0].index(column)
    for row in rows:
        table[row + 1][at] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    return out.getvalue().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("column", "value", "rows", "rule", "message"),
    [
        ("age", "150", range(3), "maximum", "3 value(s) above 120, first '150' (churn.csv line 2)"),
        ("tenure_months", "-1", range(1), "minimum", "below 0"),
        ("monthly_charges", "cheap", range(2), "type", "not a number: 'cheap'"),
        ("support_calls", "1.5", range(1), "type", "not a finite integer: '1.5'"),
        ("contract", "Weekly", range(1), "values", "not one of ['Month-to-month'"),
        ("churn", "2", range(1), "values", "not one of [0, 1]"),
        ("tenure_months", "", range(1), "nulls", "1 of 3000 rows empty (0.0%), at most 0% allowed"),
        ("age", "", range(300), "nulls", "at most 5% allowed"),
    ],
)
def test_each_broken_rule_names_its_column(generated, column, value, rows, rule, message):
    [violation] = check(edit(generated, column, value, rows))
    assert (violation.column, violation.rule) == (column, rule)
    assert message in violation.message
    assert str(violation).startswith(f"column '{column}': {rule}: ")


def test_missing_column_is_a_schema_violation_and_stops_there(generated):
    table = [row[:-1] for row in csv.reader(generated)]  # drop churn
    lines = [",".join(row) + "\n" for row in table]
    assert [(v.column, v.rule) for v in check(lines)] == [("churn", "schema")]


def test_too_few_rows(generated):
    [violation] = check(generated[:101])
    assert (violation.column, violation.rule) == (None, "row_count")
    assert violation.message == "100 rows, at least 1000 needed"


def test_label_balance(generated):
    lines = edit(generated, "churn", "0", range(2_990))
    [violation] = check(lines)
    assert (violation.column, violation.rule) == ("churn", "label_balance")
    assert violation.message.startswith("class 1 is 0.")


def test_ragged_row_is_a_shape_violation(generated):
    lines = [*generated[:10], "C1,2,3\n", *generated[10:]]
    assert (None, "shape") in [(v.column, v.rule) for v in check(lines)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("churn-v9", "unknown data contract 'churn-v9' (known: churn-v1)"),
        ("../churn-v1", "unknown data contract"),
        ("", "unknown data contract"),
    ],
)
def test_unknown_contract_names_the_known_ones(name, message):
    with pytest.raises(ContractError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_contract(name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("rows"), "missing field 'rows'"),
        (lambda c: c["columns"][1].update(type="float"), "column 'age': type must be"),
        (lambda c: c["columns"][7].pop("values"), "column 'contract': a category needs 'values'"),
        (lambda c: c["label"].update(column="nope"), "label column is not one of the columns"),
    ],
)
def test_malformed_contract_names_file_and_field(tmp_path: Path, change, message):
    contract = json.loads((CONTRACT_DIR / f"{CONTRACT}.json").read_text())
    change(contract)
    (tmp_path / "bad-v1.json").write_text(json.dumps(contract))
    with pytest.raises(ContractError, match=message) as info:
        load_contract("bad-v1", tmp_path)
    assert "bad-v1.json" in str(info.value)
