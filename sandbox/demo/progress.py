"""Stages with start/end lines, elapsed times and a log file each; failures that say where.

Every command a stage runs streams to the terminal (indented) and to the stage's log, so a
failure can name the stage, the reason and the file to read.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INDENT = "    "
# A failed check or a raised error says most; a generic "...failed" line comes next.
_FAILED_CHECK = re.compile(r"^\s*(FAIL\b|ERROR\b|error:|\w+Error:|\w+Exception:)")
_ERROR_LINE = re.compile(r"error|failed|exception|traceback", re.IGNORECASE)


class StageFailed(Exception):
    """A stage did not succeed; `reason` is one line, `log` the file with the whole story."""

    def __init__(self, stage: str, reason: str, log: Path | None = None):
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason, self.log = stage, reason, log


@dataclass
class StageTiming:
    name: str
    seconds: float
    status: str  # Succeeded | Failed | Rejected
    log: Path


class StageLog:
    """What one stage prints: to the terminal, indented, and to its log file."""

    def __init__(self, name: str, path: Path, out=None):
        self.name, self.path = name, path
        self._out = out or sys.stdout
        self._file = path.open("w", encoding="utf-8")
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)
        self._file.write(line + "\n")
        self._file.flush()
        print(INDENT + line, file=self._out, flush=True)

    def run(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> list[str]:
        """Run a command, streaming its output; raises StageFailed if it exits nonzero."""
        self._file.write(f"$ {' '.join(argv)}\n")
        start = len(self.lines)
        with subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as process:
            for line in process.stdout:
                self.say(line.rstrip("\n"))
        output = self.lines[start:]
        if process.returncode != 0:
            raise StageFailed(self.name, failure_reason(output, process.returncode), self.path)
        return output

    def close(self) -> None:
        self._file.close()


def failure_reason(output: list[str], returncode: int) -> str:
    """The most telling line of a failed command: its last failed check or error, else its
    last error-looking line, else its last line."""
    for line in reversed(output):
        if _FAILED_CHECK.search(line):
            return line.strip()
    for line in reversed(output):
        if _ERROR_LINE.search(line) and not line.lstrip().startswith("File "):
            return line.strip()
    last = next((line.strip() for line in reversed(output) if line.strip()), "")
    return last or f"exited with status {returncode}"


class Progress:
    """Opens stages one after another and remembers how long each took."""

    def __init__(self, log_dir: Path, out=None):
        self.log_dir = log_dir
        self.out = out or sys.stdout
        self.timings: list[StageTiming] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def _log_path(self, name: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        return self.log_dir / f"{len(self.timings) + 1:02d}-{slug}.log"

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[StageLog]:
        log = StageLog(name, self._log_path(name), self.out)
        print(f"▶ {name}" + (f"  ({detail})" if detail else ""), file=self.out, flush=True)
        started = time.perf_counter()
        status = "Failed"
        try:
            yield log
            status = "Succeeded"
        except StageFailed as failed:
            status = "Rejected" if failed.reason.startswith("rejected") else "Failed"
            failed.log = failed.log or log.path
            raise
        except Exception as err:  # an unexpected error still names its stage and log
            log.say(f"{type(err).__name__}: {err}")
            raise StageFailed(name, f"{type(err).__name__}: {err}", log.path) from err
        finally:
            log.close()
            seconds = time.perf_counter() - started
            self.timings.append(StageTiming(name, seconds, status, log.path))
            mark = "✔" if status == "Succeeded" else "✘"
            print(f"{mark} {name}  {status.lower()} in {seconds:.1f} s", file=self.out, flush=True)
