"""Results: one row a measure (its target, the number, whether it is met), written as a
Markdown table for people and as JSON (with every run's raw numbers) for tools."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Measure:
    """One row: `result` is what the table shows; `met` is None where there is no target
    (or the measure could not run); `raw` keeps the numbers behind it."""

    name: str
    target: str
    result: str
    met: bool | None
    raw: dict = field(default_factory=dict)


def machine() -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(measures: list[Measure], context: dict) -> str:
    """The results table, with the machine and the command under it."""
    verdict = {True: "met", False: "**missed**", None: "—"}
    rows = [
        "| Measure | Target | Result | Met |",
        "|---|---|---|---|",
        *(f"| {m.name} | {m.target} | {m.result} | {verdict[m.met]} |" for m in measures),
    ]
    start, end = context["machine_at_start"], context["machine_at_end"]
    notes = [
        "",
        f"{start['date']}, {start['cpus']} CPUs, Python {start['python']}, {start['platform']}; "
        f"load average {start['load_average'][0]} at the start, {end['load_average'][0]} at "
        f"the end; {context['wall_seconds']:.0f} s in all. Reproduce: `{context['command']}`.",
    ]
    return "\n".join(rows + notes) + "\n"


def write(measures: list[Measure], context: dict, folder: Path) -> tuple[Path, Path]:
    """Write `benchmark.md` and `benchmark.json` into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "benchmark.md"
    table.write_text(markdown(measures, context))
    data = folder / "benchmark.json"
    data.write_text(
        json.dumps({**context, "measures": [asdict(m) for m in measures]}, indent=2) + "\n"
    )
    return table, data
