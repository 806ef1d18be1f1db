"""Reading a built-in algorithm's channels as its container does: the files of
`/opt/ml/input/data/<channel>`, CSV (label first, no header) or libsvm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CSV = "csv"
LIBSVM = "libsvm"


class DataError(ValueError):
    """A channel that cannot be read; the message names it."""


def content_type(value: str | None, default: str) -> str:
    """`text/csv`, `csv`, `text/csv; label_size=1`, `text/libsvm`, `text/x-libsvm`, ... as
    csv or libsvm; anything else is refused, naming it."""
    kind = (value or default).split(";")[0].strip().lower()
    if kind in ("text/csv", "csv"):
        return CSV
    if kind in ("text/libsvm", "text/x-libsvm", "libsvm"):
        return LIBSVM
    raise DataError(
        f"ContentType {value!r} is not supported locally (text/csv and text/libsvm are)"
    )


def files(folder: Path) -> list[Path]:
    """The channel's data files (hidden files and folders' own entries skipped)."""
    found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not found:
        raise DataError(f"no data in channel folder {folder}")
    return found


def read_csv(
    folder: Path, weights: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(features, labels, weights or None) from every CSV file in `folder`: the label in
    the first column, the instance weight in the second when `weights`, no header."""
    frames = []
    for path in files(folder):
        try:
            frames.append(pd.read_csv(path, header=None, dtype=np.float64))
        except ValueError as err:
            raise DataError(f"{path.name}: not numeric CSV without a header ({err})") from None
    table = pd.concat(frames, ignore_index=True).to_numpy()
    first = 2 if weights else 1
    if table.shape[1] <= first:
        raise DataError(f"{folder.name}: CSV rows need a label and at least one feature")
    return table[:, first:], table[:, 0], table[:, 1] if weights else None


def read_libsvm(folders: list[Path]) -> list[tuple[object, np.ndarray]]:
    """(sparse features, labels) for each channel folder, read together so that every
    channel has the same feature count (indices as written: zero-based, as xgboost reads)."""
    from scipy.sparse import vstack
    from sklearn.datasets import load_svmlight_files

    per_folder = [files(folder) for folder in folders]
    try:
        loaded = load_svmlight_files(
            [str(p) for paths in per_folder for p in paths], zero_based=True
        )
    except ValueError as err:
        raise DataError(f"not libsvm data ({err})") from None
    pairs = [(loaded[i], loaded[i + 1]) for i in range(0, len(loaded), 2)]
    result, start = [], 0
    for paths in per_folder:
        chunk = pairs[start : start + len(paths)]
        start += len(paths)
        result.append(
            (vstack([x for x, _ in chunk]).tocsr(), np.concatenate([y for _, y in chunk]))
        )
    return result
