"""`python -m benchmarks`: run the measures, write `results/benchmark.{md,json}`.

    python -m benchmarks                      # everything (what `make bench` runs)
    python -m benchmarks --runs 3 --skip make-test --skip scale

Exit codes: 0 every measure ran (met or not: the table says), 1 a run it needs failed,
2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks import command_measures, endpoint_measures, parallel_measures, report
from benchmarks.pipeline_measures import BenchmarkError, runner_measures

RESULTS = Path(__file__).with_name("results")
OPTIONAL = ("lifecycle", "scale", "make-test", "install", "endpoint", "parallel")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measure (default 5)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=OPTIONAL, help="leave a measure out"
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def measure(args: argparse.Namespace, work: Path) -> list[report.Measure]:
    measures = runner_measures(work, args.runs, scale="scale" not in args.skip)
    # Commands last: `make test` may re-sync the virtualenv without the bench extra.
    if "lifecycle" not in args.skip:
        measures.insert(0, command_measures.lifecycle(work, args.runs))
    if "parallel" not in args.skip:
        measures.append(parallel_measures.two_branches(work / "parallel", args.runs))
    if "endpoint" not in args.skip:
        measures.append(endpoint_measures.concurrent_invocations(work, args.runs))
    if "make-test" not in args.skip:
        measures.append(command_measures.make_test())
    if "install" not in args.skip:
        measures.append(command_measures.install(work))
    return measures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")  # SDK v3 and kfp warn about their own futures
    started_at, started = report.machine(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="benchmarks-") as work:
        try:
            measures = measure(args, Path(work))
        except BenchmarkError as err:
            print(f"benchmarks: {err}", file=sys.stderr)
            return 1
    given = sys.argv[1:] if argv is None else argv
    context = {
        "command": shlex.join(["python", "-m", "benchmarks", *given]) if given else "make bench",
        "machine_at_start": started_at,
        "machine_at_end": report.machine(),
        "wall_seconds": time.perf_counter() - started,
    }
    table, data = report.write(measures, context, args.output_dir)
    print(table.read_text(), end="")
    print(f"\nwritten: {table}, {data}")
    return 0
