"""Preprocess step: validate the raw churn CSV and split it into train/validation/test.

Runs in the SageMaker scikit-learn processing container, where only this file is shipped,
so it imports nothing from the project. Every path is an argument whose default is the
container path, so the script also runs as is on local folders.

Bad input exits 1 with one line on stderr naming the problem; SageMaker (and the sandbox)
shows that line as the step's failure reason.
"""

from __future__ import annotations

import argparse
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


class InputError(Exception):
    """The input data breaks the contract; the message names the problem."""


def _input_files(input_dir: Path) -> list[Path]:
    files = sorted(p for p in input_dir.rglob("*") if p.is_file() and p.suffix == ".csv")
    if not files:
        raise InputError(f"no CSV file found in {input_dir}")
    return files


def _coerce_numeric(chunk: pd.DataFrame, source: Path) -> None:
    """Convert numeric columns in place, naming the first value that is not a number."""
    for column in [*NUMERIC_COLUMNS, TARGET_COLUMN]:
        converted = pd.to_numeric(chunk[column], errors="coerce")
        bad = converted.isna() & chunk[column].notna()
        if bad.any():
            value = chunk.loc[bad, column].iloc[0]
            raise InputError(f"{source.name}: column '{column}' has non-numeric value {value!r}")
        chunk[column] = converted


def read_raw(input_dir: Path) -> pd.DataFrame:
    """Read and validate every CSV under `input_dir` chunk by chunk.

    Returns the cleaned frame (id column dropped, rows without a label dropped).
    Raises InputError for an empty file, a missing column or a non-numeric value.
    """
    frames = []
    for source in _input_files(input_dir):
        try:
            reader = pd.read_csv(
                source, dtype=str, chunksize=CHUNK_ROWS, keep_default_na=False, na_values=[""]
            )
            for chunk in reader:
                missing = [c for c in REQUIRED_COLUMNS if c not in chunk.columns]
                if missing:
                    raise InputError(f"{source.name}: missing column(s): {', '.join(missing)}")
                chunk = chunk[REQUIRED_COLUMNS].copy()
                _coerce_numeric(chunk, source)
                frames.append(chunk)
        except pd.errors.EmptyDataError:
            raise InputError(f"{source.name}: file is empty") from None
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
