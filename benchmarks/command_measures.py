"""The measures that time whole commands: the demo's lifecycle, `make test`, a fresh install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import Measure, median

ROOT = Path(__file__).resolve().parents[1]


def _timed(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - started, done


def _tail(done: subprocess.CompletedProcess) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return "\n".join(lines[-20:])


def lifecycle(work: Path, runs: int) -> Measure:
    """`python -m sandbox demo`, after a first run in the same state folder (warm: its
    state, restored at each start, grows by a package and a deployment per run)."""
    command = [sys.executable, "-m", "sandbox", "--home", str(work / "demo"), "demo"]
    name, target = "Warm `make demo` lifecycle (`python -m sandbox demo`)", "≤ 20 s"
    if _timed([*command, "--help"])[1].returncode != 0:
        return Measure(name, target, "not available (no `python -m sandbox demo`)", None)
    times = []
    for attempt in range(runs + 1):
        seconds, done = _timed(command)
        if done.returncode != 0:
            return Measure(
                name, target, f"failed (exit {done.returncode})", False, {"tail": _tail(done)}
            )
        if attempt:  # the first run only warms up
            times.append(seconds)
    return Measure(
        name,
        target,
        f"{median(times):.1f} s (median of {runs})",
        median(times) <= 20,
        {"seconds": times},
    )


def make_test() -> Measure:
    """`make test` is `make lint`, then the suite: each is timed (so that a lint failure
    caused by someone's uncommitted work in a shared tree still leaves the suite's time)."""
    lint_seconds, lint = _timed(["make", "lint"])
    suite_seconds, suite = _timed([sys.executable, "-m", "pytest", "-q"])
    seconds = lint_seconds + suite_seconds
    result = f"{seconds:.0f} s (lint {lint_seconds:.0f} s + suite {suite_seconds:.0f} s, 1 run)"
    for name, done in (("lint", lint), ("suite", suite)):
        if done.returncode != 0:
            result += f"; {name} failed (exit {done.returncode})"
    raw = {
        "lint": {"seconds": lint_seconds, "exit_code": lint.returncode, "tail": _tail(lint)},
        "suite": {"seconds": suite_seconds, "exit_code": suite.returncode, "tail": _tail(suite)},
    }
    met = seconds <= 120 and lint.returncode == suite.returncode == 0
    return Measure("Warm `make test` (lint, then the suite)", "≤ 120 s", result, met, raw)


def install(work: Path) -> Measure:
    """`make install`'s uv sync into an empty virtualenv, from uv's (warm) cache."""
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(work / "fresh-venv")}
    env.pop("VIRTUAL_ENV", None)  # make exports the project's; uv would warn about it
    command = [uv, "sync", "--frozen", "--extra", "dev", "--compile-bytecode", "--python", "3.11"]
    seconds, done = _timed(command, env=env)
    shutil.rmtree(work / "fresh-venv", ignore_errors=True)
    result = (
        f"{seconds:.0f} s (`uv sync --frozen --extra dev --compile-bytecode` into an empty "
        "venv, warm uv cache)"
    )
    if done.returncode != 0:
        result += f", failed (exit {done.returncode})"
    raw = {"seconds": seconds, "exit_code": done.returncode, "tail": _tail(done)}
    met = None if done.returncode == 0 else False  # no target: measured
    return Measure("Install of a fresh environment", "measured", result, met, raw)
