"""Seeded generator of a realistic customer-churn CSV of any size.

Rows are produced and written in chunks, so a 1 M-row file needs no more memory than one
chunk. The label follows a logistic model of the features plus noise: learnable, not trivial.

    python -m pipelines.churn.generate_data --rows 10000 --output data/churn.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.churn.schema import ALL_COLUMNS, CATEGORICAL_COLUMNS

CHUNK_ROWS = 100_000
MISSING_RATE = 0.02  # share of values blanked in the columns that real exports leave empty
# Chosen so that about a quarter of customers churn.
INTERCEPT = -2.5


def _chunk(rng: np.random.Generator, start: int, n: int) -> pd.DataFrame:
    """One chunk of `n` customers whose ids start at `start`."""
    contract = rng.choice(CATEGORICAL_COLUMNS["contract"], n, p=[0.55, 0.25, 0.20])
    internet = rng.choice(CATEGORICAL_COLUMNS["internet_service"], n, p=[0.35, 0.45, 0.20])
    payment = rng.choice(CATEGORICAL_COLUMNS["payment_method"], n, p=[0.35, 0.2, 0.22, 0.23])
    paperless = rng.choice(CATEGORICAL_COLUMNS["paperless_billing"], n, p=[0.6, 0.4])

    age = rng.normal(45, 14, n).clip(18, 90).round()
    tenure = rng.gamma(1.6, 18, n).clip(0, 72).round()
    base_fee = np.select([internet == "Fiber optic", internet == "DSL"], [80.0, 55.0], 22.0)
    monthly = (base_fee + rng.normal(0, 12, n)).clip(18, 130).round(2)
    total = (monthly * tenure * rng.normal(1.0, 0.05, n)).clip(0).round(2)
    support_calls = rng.poisson(0.8 + 1.2 * (internet == "Fiber optic"), n)
    data_usage = rng.lognormal(2.5, 0.8, n).round(1)

    logit = (
        INTERCEPT
        + 2.2 * (contract == "Month-to-month")
        - 1.8 * (contract == "Two year")
        - 0.07 * tenure
        + 0.04 * (monthly - 65)
        + 0.8 * support_calls
        + 0.9 * (payment == "Electronic check")
        + 0.4 * (paperless == "Yes")
        - 0.02 * (age - 45)
        + rng.normal(0, 0.4, n)  # what the features cannot explain
    )
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in range(start, start + n)],
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "data_usage_gb": data_usage,
            "contract": contract,
            "internet_service": internet,
            "payment_method": payment,
            "paperless_billing": paperless,
            "churn": churn,
        },
        columns=ALL_COLUMNS,
    )
    for column in ("age", "total_charges", "data_usage_gb", "payment_method"):
        frame.loc[rng.random(n) < MISSING_RATE, column] = np.nan
    return frame


def write_churn_csv(path: str | Path, rows: int, seed: int = 42) -> Path:
    """Write `rows` customers to `path` (created with its parents); returns the path.

    The same `rows` and `seed` always give the same file.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as out:
        for start in range(0, rows, CHUNK_ROWS):
            chunk = _chunk(rng, start, min(CHUNK_ROWS, rows - start))
            chunk.to_csv(out, header=start == 0, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="number of customers")
    parser.add_argument("--output", required=True, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    path = write_churn_csv(args.output, args.rows, args.seed)
    print(f"wrote {args.rows} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
