"""Preprocess: schema validation and the stratified split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines.churn.steps import preprocess

SCRIPT = Path(preprocess.__file__)


def test_split_sizes_are_70_15_15(splits: Path, churn_csv: Path):
    total = len(pd.read_csv(churn_csv))
    sizes = {
        name: len(pd.read_csv(splits / name / f"{name}.csv"))
        for name in ("train", "validation", "test")
    }
    assert sum(sizes.values()) == total
    assert sizes["train"] == pytest.approx(0.70 * total, abs=2)
    assert sizes["validation"] == pytest.approx(0.15 * total, abs=2)
    assert sizes["test"] == pytest.approx(0.15 * total, abs=2)


def test_split_is_stratified(splits: Path, churn_csv: Path):
    overall = pd.read_csv(churn_csv)["churn"].mean()
    for name in ("train", "validation", "test"):
        rate = pd.read_csv(splits / name / f"{name}.csv")["churn"].mean()
        assert rate == pytest.approx(overall, abs=0.01), name


def test_splits_drop_the_id_and_keep_raw_features(splits: Path):
    train = pd.read_csv(splits / "train" / "train.csv")
    assert "customer_id" not in train.columns
    assert list(train.columns) == preprocess.REQUIRED_COLUMNS
    assert train["total_charges"].isna().any()  # imputation belongs to the model


def _write(tmp_path: Path, text: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.csv").write_text(text)
    return raw


def _run(raw: Path, tmp_path: Path) -> int:
    return preprocess.main(
        [
            "--input-dir",
            str(raw),
            "--train-dir",
            str(tmp_path / "train"),
            "--validation-dir",
            str(tmp_path / "validation"),
            "--test-dir",
            str(tmp_path / "test"),
        ]
    )


def _valid_rows(churn_csv: Path, n: int = 40) -> pd.DataFrame:
    return pd.read_csv(churn_csv, dtype=str, keep_default_na=False).head(n)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns=["tenure_months"]), "missing column(s): tenure_months"),
        (
            lambda df: df.assign(monthly_charges=["abc"] + list(df.monthly_charges[1:])),
            "column 'monthly_charges' has non-numeric value 'abc'",
        ),
        (lambda df: df.assign(churn="0"), "column 'churn' has a single class: 0"),
        (lambda df: df.assign(churn=""), "no rows left after dropping rows without 'churn'"),
        (lambda df: df.head(0), "input has a header but no rows"),
        (lambda df: df.assign(churn="2"), "column 'churn' must be 0 or 1"),
    ],
    ids=[
        "missing-column",
        "text-in-numeric",
        "single-class",
        "no-rows-after-cleaning",
        "header-only",
        "label-out-of-range",
    ],
)
def test_bad_input_exits_1_with_one_line(mutate, message, churn_csv, tmp_path, capsys):
    raw = _write(tmp_path, mutate(_valid_rows(churn_csv)).to_csv(index=False))
    assert _run(raw, tmp_path) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert not (tmp_path / "train").exists()  # nothing half-written


def test_empty_file_is_reported(tmp_path, capsys):
    assert _run(_write(tmp_path, ""), tmp_path) == 1
    assert "data.csv: file is empty" in capsys.readouterr().err


def test_no_csv_is_reported(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert _run(tmp_path / "raw", tmp_path) == 1
    assert "no CSV file found" in capsys.readouterr().err


def test_script_runs_standalone_and_its_last_stderr_line_is_the_reason(tmp_path):
    """As the container runs it: a fresh interpreter, only argv; the reason is the last line."""
    raw = _write(tmp_path, "customer_id,churn\nC1,1\n")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--input-dir",
            str(raw),
            "--train-dir",
            str(tmp_path / "t"),
            "--validation-dir",
            str(tmp_path / "v"),
            "--test-dir",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("InputError: data.csv: missing column")
