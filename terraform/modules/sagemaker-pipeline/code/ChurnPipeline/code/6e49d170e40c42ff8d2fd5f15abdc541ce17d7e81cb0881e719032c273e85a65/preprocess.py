"""Preprocess step: validate the raw churn CSV and split it into train/validation/test.

Runs in the SageMaker scikit-learn processing container, where only this file is shipped,
so it imports nothing from the project. Every path is an argument whose default is the
container path, so the script also runs as is on local folders.

Bad input exits 1 with one line on stderr naming the problem; SageMaker (and the sandbox)
shows that line as the step's failure reason.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

# Kept equal to pipelines/churn/schema.py by a test.
ID_COLUMN = "customer_id"
TARGET_COLUMN = "churn"
NUMERIC_COLUMNS = [
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
]
CATEGORICAL_COLUMNS = ["contract", "internet_service", "payment_method", "paperless_billing"]
REQUIRED_COLUMNS = [*NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS, TARGET_COLUMN]
CHUNK_ROWS = 200_000
SCAN_BYTES = 1 << 20


class InputError(Exception):
    """The input data breaks the contract; the message names the problem."""


def _input_files(input_dir: Path) -> list[Path]:
    files = sorted(p for p in input_dir.rglob("*") if p.is_file() and p.suffix == ".csv")
    if not files:
        raise InputError(f"no CSV file found in {input_dir}")
    return files


def _first_nul_line(source: Path) -> int | None:
    """The line of the first NUL byte (which no CSV text has), or None."""
    lines_before = 0
    with source.open("rb") as stream:
        while block := stream.read(SCAN_BYTES):
            at = block.find(b"\0")
            if at >= 0:
                return lines_before + block.count(b"\n", 0, at) + 1
            lines_before += block.count(b"\n")
    return None


def _undecodable(source: Path) -> str:
    """Where the first byte that is not UTF-8 is. A newline is never part of a multi-byte
    character, so each line decodes on its own."""
    with source.open("rb") as stream:
        for number, line in enumerate(stream, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                byte = line[err.start]
                return (
                    f"line {number}: not UTF-8 text (byte 0x{byte:02x} at position {err.start + 1})"
                )
    return "not UTF-8 text"


def _ragged(source: Path, width: int) -> str:
    """Which row first has a field count other than `width` (for a row whose quoted field
    spans lines, its first line)."""
    with source.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(filter(None, reader))  # the header
        end = reader.line_num
        for row in reader:
            if row and len(row) != width:
                problem = "too many" if len(row) > width else "too few"
                return f"line {end + 1}: {problem} fields, {len(row)} where the header has {width}"
            end = reader.line_num
    return f"a row does not have the header's {width} fields"


def check_text(source: Path, label: str) -> None:
    """Check that `source` is a UTF-8 CSV text whose rows all have as many fields as its
    header, so that pandas neither pads short rows with missing values nor drops or shifts
    long ones. Blank lines are not rows (pandas skips them too).

    Raises InputError naming the file, the line and the problem.
    """
    nul_line = _first_nul_line(source)
    if nul_line is not None:
        raise InputError(f"{label}: line {nul_line}: binary content (a NUL byte), not CSV text")
    with source.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        try:
            header = next(filter(None, reader), None)
            if header is None:
                raise InputError(f"{label}: line 1: file is empty, expected a header row")
            width = len(header)
            # Scanned without a Python loop per row: about 1 s per million rows.
            ragged = any(map(width.__ne__, map(len, filter(None, reader))))
        except UnicodeDecodeError:
            raise InputError(f"{label}: {_undecodable(source)}") from None
        except csv.Error as err:
            raise InputError(f"{label}: line {reader.line_num}: malformed CSV: {err}") from None
    if ragged:
        raise InputError(f"{label}: {_ragged(source, width)}")


def _coerce_numeric(chunk: pd.DataFrame, label: str) -> None:
    """Convert numeric columns in place, naming the first value that is not a number."""
    for column in [*NUMERIC_COLUMNS, TARGET_COLUMN]:
        converted = pd.to_numeric(chunk[column], errors="coerce")
        bad = converted.isna() & chunk[column].notna()
        if bad.any():
            value = chunk.loc[bad, column].iloc[0]
            raise InputError(f"{label}: column '{column}' has non-numeric value {value!r}")
        chunk[column] = converted


def read_raw(input_dir: Path) -> pd.DataFrame:
    """Read and validate every CSV under `input_dir` chunk by chunk.

    Returns the cleaned frame (id column dropped, rows without a label dropped).
    Raises InputError for an empty, binary or ragged file, a missing column or a
    non-numeric value.
    """
    frames = []
    for source in _input_files(input_dir):
        label = source.relative_to(input_dir).as_posix()
        check_text(source, label)
        try:
            reader = pd.read_csv(
                source,
                dtype=str,
                chunksize=CHUNK_ROWS,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8",
                on_bad_lines="error",  # never "skip": a row is read or the step fails
            )
            for chunk in reader:
                missing = [c for c in REQUIRED_COLUMNS if c not in chunk.columns]
                if missing:
                    raise InputError(f"{label}: missing column(s): {', '.join(missing)}")
                chunk = chunk[REQUIRED_COLUMNS].copy()
                _coerce_numeric(chunk, label)
                frames.append(chunk)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            # check_text found nothing pandas disagrees with; still one line, not a traceback.
            problem = " ".join(str(err).split())
            raise InputError(f"{label}: unreadable CSV: {problem}") from None
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise InputError("input has a header but no rows")
    data = data[data[TARGET_COLUMN].notna()]
    if data.empty:
        raise InputError(f"no rows left after dropping rows without '{TARGET_COLUMN}'")
    labels = set(data[TARGET_COLUMN].unique())
    if not labels <= {0, 1}:
        raise InputError(f"column '{TARGET_COLUMN}' must be 0 or 1, found {sorted(labels)}")
    if len(labels) < 2:
        raise InputError(f"column '{TARGET_COLUMN}' has a single class: {labels.pop():g}")
    data[TARGET_COLUMN] = data[TARGET_COLUMN].astype(np.int8)
    return data


def split(data: pd.DataFrame, validation: float, test: float, seed: int):
    """Stratified split into (train, validation, test) frames."""
    counts = data[TARGET_COLUMN].value_counts()
    if counts.min() < 3:
        raise InputError(
            f"column '{TARGET_COLUMN}' needs at least 3 rows of each class to split, "
            f"found {counts.to_dict()}"
        )
    rest, test_part = train_test_split(
        data, test_size=test, stratify=data[TARGET_COLUMN], random_state=seed
    )
    train_part, validation_part = train_test_split(
        rest,
        test_size=validation / (1 - test),
        stratify=rest[TARGET_COLUMN],
        random_state=seed,
    )
    return train_part, validation_part, test_part


def run(args: argparse.Namespace) -> dict[str, int]:
    """Validate, split and write the three CSVs; returns the row count of each split."""
    data = read_raw(Path(args.input_dir))
    parts = split(data, args.validation_fraction, args.test_fraction, args.seed)
    sizes = {}
    for name, part, out_dir in zip(
        ("train", "validation", "test"),
        parts,
        (args.train_dir, args.validation_dir, args.test_dir),
        strict=True,
    ):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        part.to_csv(Path(out_dir) / f"{name}.csv", index=False)
        sizes[name] = len(part)
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    base = "/opt/ml/processing"
    parser = argparse.ArgumentParser(description="Validate and split the churn data.")
    parser.add_argument("--input-dir", default=f"{base}/raw")
    parser.add_argument("--train-dir", default=f"{base}/train")
    parser.add_argument("--validation-dir", default=f"{base}/validation")
    parser.add_argument("--test-dir", default=f"{base}/test")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sizes = run(args)
    except InputError as err:
        print(f"InputError: {err}", file=sys.stderr)
        return 1
    print("split sizes: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
