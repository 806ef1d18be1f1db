"""Preprocess: schema validation and the stratified split."""

from __future__ import annotations

import gzip
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


def _valid_lines(churn_csv: Path, n: int = 40) -> list[str]:
    """The header and `n` valid rows, as lines of CSV text (with their newlines)."""
    return _valid_rows(churn_csv, n).to_csv(index=False).splitlines(keepends=True)


def _one_line_exit_1(raw: Path, tmp_path: Path, capsys) -> str:
    """Run on `raw`: exit 1, exactly one line on stderr (returned), no traceback, no output."""
    assert _run(raw, tmp_path) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "train").exists()  # nothing half-written
    return err.strip()


def _write_bytes(tmp_path: Path, data: bytes) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.csv").write_bytes(data)
    return raw


def test_row_with_too_many_fields_names_the_line(churn_csv, tmp_path, capsys):
    lines = _valid_lines(churn_csv)
    lines[9] = lines[9].rstrip("\n") + ",surplus\n"  # line 10 of the file
    err = _one_line_exit_1(_write(tmp_path, "".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 10: too many fields, 13 where the header has 12"


def test_row_with_too_few_fields_names_the_line(churn_csv, tmp_path, capsys):
    """pandas would pad it with missing values, and then drop it for having no label."""
    lines = _valid_lines(churn_csv)
    lines[24] = lines[24].rsplit(",", 1)[0] + "\n"  # line 25 loses its last field, the label
    err = _one_line_exit_1(_write(tmp_path, "".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 25: too few fields, 11 where the header has 12"


def test_first_row_too_long_is_not_read_as_an_index(churn_csv, tmp_path, capsys):
    """pandas would silently take the first column as the index and shift every value."""
    lines = _valid_lines(churn_csv)
    lines[1] = lines[1].rstrip("\n") + ",surplus\n"
    err = _one_line_exit_1(_write(tmp_path, "".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 2: too many fields, 13 where the header has 12"


def test_ragged_row_line_counts_quoted_newlines(churn_csv, tmp_path, capsys):
    """A quoted field may span lines: the line named is the file's, not the row's index."""
    lines = _valid_lines(churn_csv)
    first = lines[3].split(",")
    lines[3] = ",".join([f'"{first[0]}\nsecond line"', *first[1:]])  # file lines 4-5
    lines[5] = lines[5].rsplit(",", 2)[0] + "\n"  # file line 7
    err = _one_line_exit_1(_write(tmp_path, "".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 7: too few fields, 10 where the header has 12"


def test_blank_lines_are_not_rows(churn_csv, tmp_path, capsys):
    lines = _valid_lines(churn_csv)
    raw = _write(tmp_path, "".join([*lines[:5], "\n", *lines[5:], "\n\n"]))
    assert _run(raw, tmp_path) == 0, capsys.readouterr().err
    sizes = [len(pd.read_csv(tmp_path / n / f"{n}.csv")) for n in ("train", "validation", "test")]
    assert sum(sizes) == len(lines) - 1  # every row, none dropped


def test_binary_file_names_the_line(churn_csv, tmp_path, capsys):
    """A compressed export saved as .csv: binary content, not a parse error."""
    data = gzip.compress("".join(_valid_lines(churn_csv)).encode())
    err = _one_line_exit_1(_write_bytes(tmp_path, data), tmp_path, capsys)
    assert err.startswith("InputError: data.csv: line 1: binary content (a NUL byte)")


def test_nul_bytes_name_their_line(churn_csv, tmp_path, capsys):
    lines = [line.encode() for line in _valid_lines(churn_csv)]
    lines[6] = b"\0\0" + lines[6]
    err = _one_line_exit_1(_write_bytes(tmp_path, b"".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 7: binary content (a NUL byte), not CSV text"


def test_undecodable_text_names_the_line_and_byte(churn_csv, tmp_path, capsys):
    """A Latin-1 export: one byte that is not UTF-8, on line 12."""
    lines = [line.encode() for line in _valid_lines(churn_csv)]
    lines[11] = "Ü".encode("latin-1") + lines[11]
    err = _one_line_exit_1(_write_bytes(tmp_path, b"".join(lines)), tmp_path, capsys)
    assert err == "InputError: data.csv: line 12: not UTF-8 text (byte 0xdc at position 1)"


@pytest.mark.parametrize("text", ["", "\n\n"], ids=["zero-bytes", "blank-lines"])
def test_empty_file_is_reported(text, tmp_path, capsys):
    err = _one_line_exit_1(_write(tmp_path, text), tmp_path, capsys)
    assert err == "InputError: data.csv: line 1: file is empty, expected a header row"


def test_file_in_a_subfolder_is_named_by_its_path(churn_csv, tmp_path, capsys):
    raw = _write(tmp_path, "".join(_valid_lines(churn_csv)))
    (raw / "2024").mkdir()
    (raw / "2024" / "data.csv").write_text("")
    err = _one_line_exit_1(raw, tmp_path, capsys)
    assert err.startswith("InputError: 2024/data.csv: line 1: file is empty")


def test_no_csv_is_reported(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert _run(tmp_path / "raw", tmp_path) == 1
    assert "no CSV file found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("customer_id,churn\nC1,1\n", "InputError: data.csv: missing column"),
        ("customer_id,churn\nC1,1,0\n", "InputError: data.csv: line 2: too many fields"),
        (b"customer_id,churn\nC1,\xff\n", "InputError: data.csv: line 2: not UTF-8 text"),
    ],
    ids=["missing-column", "ragged", "undecodable"],
)
def test_script_runs_standalone_and_its_last_stderr_line_is_the_reason(text, reason, tmp_path):
    """As the container runs it: a fresh interpreter, only argv; the reason is the last line."""
    raw = _write_bytes(tmp_path, text if isinstance(text, bytes) else text.encode())
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
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # no traceback
    assert done.stderr.strip().startswith(reason)
