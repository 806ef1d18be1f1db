"""Data contracts: load one, and check CSV rows against it (standard library only, so that
the Lambda needs no layer).

A contract (orchestration/data_contract/<name>-v<N>.json) lists the columns in order with
their type (string, number, integer, category), range or allowed values and null budget,
the minimum row count and the label's minimum class fraction. `Checker` reads rows once,
file by file, keeping counts and the first offending value per column and rule, so a
million-row file costs one pass and constant memory.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "data_contract"
CONTRACT_NAME = re.compile(r"^[a-z0-9-]+-v[0-9]+$")
TYPES = ("string", "number", "integer", "category")


class ContractError(ValueError):
    """A contract is missing or malformed; the message names the file and field."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column (None for the whole data set), which rule, and why."""

    column: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "data set"
        return f"{where}: {self.rule}: {self.message}"


@dataclass
class Report:
    contract: str
    rows: int
    files: list[str]
    violations: list[Violation]

    @property
    def valid(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid}


def load_contract(name: str, folder: Path = CONTRACT_DIR) -> dict:
    """The contract `name` (e.g. "churn-v1"), checked.

    Raises ContractError for an unknown name or a malformed file.
    """
    path = folder / f"{name}.json"
    if not CONTRACT_NAME.match(name or "") or not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.json")))
        raise ContractError(f"unknown data contract {name!r} (known: {known})")
    try:
        contract = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ContractError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    _check_contract(contract, path)
    return contract


def _check_contract(contract: dict, path: Path) -> None:
    for key in ("columns", "rows", "label"):
        if key not in contract:
            raise ContractError(f"{path}: missing field '{key}'")
    names = [c.get("name") for c in contract["columns"]]
    for column in contract["columns"]:
        if column.get("type") not in TYPES:
            raise ContractError(f"{path}: column {column.get('name')!r}: type must be {TYPES}")
        if column["type"] == "category" and not column.get("values"):
            raise ContractError(f"{path}: column {column['name']!r}: a category needs 'values'")
        if not 0 <= column.get("max_null_fraction", 0) <= 1:
            raise ContractError(
                f"{path}: column {column['name']!r}: max_null_fraction not in [0, 1]"
            )
    if contract["label"].get("column") not in names:
        raise ContractError(f"{path}: label column is not one of the columns")


def _at(value: str, label: str, line: int) -> str:
    return f"{value!r} ({label} line {line})"


@dataclass
class _ColumnState:
    """What has been seen of one column: nulls, and per rule a count and the first example.
    The spec's bounds are unpacked once: this runs for every value of every row."""

    spec: dict
    is_label: bool = False
    nulls: int = 0
    broken: dict[str, list] = field(default_factory=dict)  # rule -> [count, first message]

    def __post_init__(self) -> None:
        self.minimum = self.spec.get("minimum")
        self.maximum = self.spec.get("maximum")
        values = self.spec.get("values")
        self.allowed = frozenset(values) if values is not None else None

    def note(self, rule: str, message: str) -> None:
        if rule in self.broken:
            self.broken[rule][0] += 1
        else:
            self.broken[rule] = [1, message]


class Checker:
    """Checks the rows of one or more CSV files against a contract; `report()` at the end."""

    def __init__(self, contract: dict, contract_name: str):
        self.contract = contract
        self.name = contract_name
        label = contract["label"]["column"]
        self.columns = {c["name"]: _ColumnState(c, c["name"] == label) for c in contract["columns"]}
        self.rows = 0
        self.files: list[str] = []
        self.labels: Counter[str] = Counter()
        self.dataset: list[Violation] = []

    def feed(self, label: str, lines: Iterable[str]) -> None:
        """Check every row of one file (`label` names it in messages)."""
        self.files.append(label)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
            if header is None:
                self.dataset.append(Violation(None, "schema", f"{label}: empty file, no header"))
                return
            missing = [name for name in self.columns if name not in header]
            for name in missing:
                self.dataset.append(Violation(name, "schema", f"{label}: column is missing"))
            if missing:
                return
            positions = {name: header.index(name) for name in self.columns}
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    self.dataset.append(
                        Violation(
                            None,
                            "shape",
                            f"{label} line {reader.line_num}: {len(row)} fields where the "
                            f"header has {len(header)}",
                        )
                    )
                    return
                self.rows += 1
                for name, state in self.columns.items():
                    self._check_value(state, row[positions[name]], label, reader.line_num)
        except UnicodeDecodeError as err:
            self.dataset.append(Violation(None, "encoding", f"{label}: not UTF-8 text ({err})"))
        except csv.Error as err:
            self.dataset.append(
                Violation(None, "shape", f"{label} line {reader.line_num}: malformed CSV: {err}")
            )

    def _check_value(self, state: _ColumnState, value: str, label: str, line: int) -> None:
        spec = state.spec
        if value == "":
            state.nulls += 1
            return
        if state.is_label:
            self.labels[value] += 1
        kind = spec["type"]
        if kind == "category":
            if value not in state.allowed:
                where = _at(value, label, line)
                state.note("values", f"not one of {spec['values']}, first {where}")
            return
        if kind == "string":
            return
        try:
            number = float(value)
        except ValueError:
            state.note("type", f"not a number: {_at(value, label, line)}")
            return
        if not math.isfinite(number) or (kind == "integer" and not number.is_integer()):
            state.note("type", f"not a finite {kind}: {_at(value, label, line)}")
            return
        if state.minimum is not None and number < state.minimum:
            state.note("minimum", f"below {state.minimum:g}, first {_at(value, label, line)}")
        if state.maximum is not None and number > state.maximum:
            state.note("maximum", f"above {state.maximum:g}, first {_at(value, label, line)}")
        if state.allowed is not None and number not in state.allowed:
            state.note("values", f"not one of {spec['values']}, first {_at(value, label, line)}")

    def report(self) -> Report:
        """Every broken rule, column by column in contract order, then the data set's."""
        violations = list(self.dataset)
        checked = self.rows > 0 and not any(v.rule in ("schema", "shape") for v in self.dataset)
        for name, state in self.columns.items():
            for rule, (count, first) in state.broken.items():
                violations.append(Violation(name, rule, f"{count} value(s) {first}"))
            budget = state.spec.get("max_null_fraction", 0)
            if checked and state.nulls / self.rows > budget:
                violations.append(
                    Violation(
                        name,
                        "nulls",
                        f"{state.nulls} of {self.rows} rows empty "
                        f"({state.nulls / self.rows:.1%}), at most {budget:.0%} allowed",
                    )
                )
        if checked or not self.dataset:
            minimum = self.contract["rows"]["minimum"]
            if self.rows < minimum:
                violations.append(
                    Violation(None, "row_count", f"{self.rows} rows, at least {minimum} needed")
                )
        if self.rows:
            violations.extend(self._label_balance())
        return Report(self.name, self.rows, self.files, violations)

    def _label_balance(self) -> list[Violation]:
        label = self.contract["label"]
        spec = self.columns[label["column"]].spec
        classes = [str(v) for v in spec.get("values", [])] or sorted(self.labels)
        total = sum(self.labels.values()) or 1
        fractions = {
            c: sum(n for v, n in self.labels.items() if _same(v, c)) / total for c in classes
        }
        smallest = min(fractions, key=fractions.get)
        if fractions[smallest] < label["minimum_class_fraction"]:
            shares = ", ".join(f"{c}: {f:.1%}" for c, f in fractions.items())
            return [
                Violation(
                    label["column"],
                    "label_balance",
                    f"class {smallest} is {fractions[smallest]:.1%} of the rows ({shares}), "
                    f"at least {label['minimum_class_fraction']:.0%} needed",
                )
            ]
        return []


def _same(value: str, label_class: str) -> bool:
    """'1', '1.0' and 1 are the same class."""
    try:
        return float(value) == float(label_class)
    except ValueError:
        return value == label_class
