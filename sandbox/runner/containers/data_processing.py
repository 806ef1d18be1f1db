"""Batch transform's data processing (CreateTransformJob's DataProcessing): the JSONPath
subset SageMaker accepts for InputFilter/OutputFilter, and JoinSource.

A CSV record is handled as SageMaker does, as a JSON array of its fields (strings), so
only index-based paths apply to it (`$[1:]`, `$[0]`, `$[-1]`, `$[0,5:]`); a JSON record by
keys too (`$.features`, `$['id','SageMakerOutput']`). Joined with its input, a CSV output is
appended to the input's fields; a JSON one becomes the input object's `SageMakerOutput`
(`{"SageMakerInput": [...], "SageMakerOutput": ...}` for a CSV input).
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any


class FilterError(ValueError):
    """A JSONPath outside SageMaker's subset, or one the record does not have."""


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]*)\]")
_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")


def _selectors(path: str) -> list[str | list[str]]:
    """`$.a[0,2:]['b']` as ['a', ['0', '2:'], ["'b'"]]."""
    if not path.startswith("$"):
        raise FilterError(f"JSONPath {path!r} must start with $")
    steps: list[str | list[str]] = []
    position = 1
    for match in _STEP.finditer(path, 1):
        if match.start() != position:
            break
        steps.append(
            match.group(1) if match.group(1) else [p.strip() for p in match.group(2).split(",")]
        )
        position = match.end()
    if position != len(path):
        raise FilterError(f"JSONPath {path!r}: {path[position:]!r} is not supported")
    return steps


def _pick(value: Any, parts: list[str], path: str) -> Any:
    """One bracket: a single index or name gives the element; a union or a slice a list
    (names: an object with those keys)."""
    names = [p[1:-1] for p in parts if len(p) >= 2 and p[0] == p[-1] and p[0] in "'\""]
    if names:
        if len(names) != len(parts) or not isinstance(value, dict):
            raise FilterError(f"JSONPath {path!r} does not apply to {type(value).__name__}")
        if len(names) == 1:
            return _key(value, names[0], path)
        return {name: _key(value, name, path) for name in names}
    if not isinstance(value, list):
        raise FilterError(f"JSONPath {path!r}: an index into a {type(value).__name__}")
    selected: list = []
    for part in parts:
        if part == "*":
            selected.extend(value)
            continue
        sliced = _SLICE.match(part)
        if sliced:
            start, end = (int(x) if x else None for x in sliced.groups())
            selected.extend(value[start:end])
            continue
        try:
            index = int(part)
        except ValueError:
            raise FilterError(f"JSONPath {path!r}: {part!r} is not supported") from None
        if not -len(value) <= index < len(value):
            raise FilterError(f"JSONPath {path!r}: index {index} is out of range")
        if len(parts) == 1:
            return value[index]
        selected.append(value[index])
    return selected


def _key(value: dict, name: str, path: str) -> Any:
    if name not in value:
        raise FilterError(f"JSONPath {path!r}: the record has no {name!r}")
    return value[name]


def validate(path: str | None) -> None:
    """Raises FilterError when `path` is outside the subset (before any record is read)."""
    if path and path != "$":
        _selectors(path)


def select(value: Any, path: str | None) -> Any:
    """`value` filtered by `path` (None or `$`: all of it)."""
    if not path or path == "$":
        return value
    for step in _selectors(path):
        if isinstance(step, str):
            if not isinstance(value, dict):
                raise FilterError(f"JSONPath {path!r}: .{step} of a {type(value).__name__}")
            value = _key(value, step, path)
        else:
            value = _pick(value, step, path)
    return value


# --- records as SageMaker sees them ---------------------------------------------------------


def is_csv(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in ("text/csv", "csv")


def parse(record: bytes, content_type: str | None) -> Any:
    """A record as JSON: a CSV line as the array of its fields, else the JSON it holds."""
    text = record.decode("utf-8")
    if is_csv(content_type):
        rows = list(csv.reader(io.StringIO(text)))
        return rows[0] if rows else []
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise FilterError(
            f"a record is neither CSV nor JSON (ContentType {content_type!r}): {text[:80]!r}"
        ) from None


def render(value: Any, as_csv: bool) -> bytes:
    """A filtered record back in its format: CSV fields, or JSON."""
    if as_csv:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(value if isinstance(value, list) else [value])
        return out.getvalue().encode()
    return json.dumps(value).encode()


def join(input_record: Any, output: bytes, input_csv: bool, output_csv: bool) -> tuple[Any, bool]:
    """JoinSource=Input: the record and its inference as one (a JSON value), and whether it
    is rendered as CSV."""
    if input_csv and output_csv:
        return [*input_record, *parse(output, "text/csv")], True
    try:
        inference = json.loads(output)
    except json.JSONDecodeError:
        inference = output.decode("utf-8")
    if isinstance(input_record, dict):
        return {**input_record, "SageMakerOutput": inference}, False
    return {"SageMakerInput": input_record, "SageMakerOutput": inference}, False
