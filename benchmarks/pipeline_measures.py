"""The measures of our runner: orchestration overhead, against kfp's local runner, the
cached re-run, and the whole pipeline at 100 k and 1 M rows.

The first three come from one session on 10 k rows, alternated so that the machine's
noise falls on both sides alike: our cold run, its cached re-run, kfp's run; again.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.kfp_runs import KfpWorkload
from benchmarks.report import Measure, median
from benchmarks.sandbox_runs import PipelineRun, SandboxWorkload
from pipelines.churn.generate_data import write_churn_csv

SAMPLE_ROWS = 10_000
SCALE_ROWS = (100_000, 1_000_000)
GiB = 1 << 30


class BenchmarkError(Exception):
    """A run the benchmark needs did not succeed; the message says which."""


def _data(work: Path, rows: int) -> Path:
    """The seeded CSV of `rows` customers, alone in its folder (kfp reads the folder)."""
    path = work / "data" / str(rows) / "churn.csv"
    return path if path.exists() else write_churn_csv(path, rows)


def _succeeded(run: PipelineRun) -> PipelineRun:
    if run.status != "Succeeded":
        failed = [s.name for s in run.steps if s.status == "Failed"]
        raise BenchmarkError(f"pipeline {run.pipeline} {run.status} (failed: {failed})")
    return run


def runner_measures(work: Path, runs: int, scale: bool) -> list[Measure]:
    """Run the sessions; returns the overhead, kfp, cache and (with `scale`) scale rows."""
    sample = _data(work, SAMPLE_ROWS)
    kfp = KfpWorkload(work / "kfp")
    with SandboxWorkload(work / "sandbox") as ours:
        uri = ours.upload_data(sample, str(SAMPLE_ROWS))
        # Not timed: the first run of each pays one-off costs (our warm interpreter's
        # imports, kfp's first compile, the disk cache).
        first = _succeeded(ours.run(ours.new_pipeline(), uri))
        kfp.run(sample)
        cold, cached, theirs = [], [], []
        for _ in range(runs):
            pipeline = ours.new_pipeline()
            cold.append(_succeeded(ours.run(pipeline, uri)))
            cached.append(_succeeded(ours.run(pipeline, uri)))
            theirs.append(kfp.run(sample))
        measures = [overhead(cold), versus_kfp(cold, theirs), caching(cold, cached)]
        measures[0].raw["first_run_seconds"] = first.seconds
        if scale:
            measures.append(scaling(ours, work))
    return measures


def overhead(cold: list[PipelineRun]) -> Measure:
    ratios = [r.seconds / r.process_seconds for r in cold]
    wall = median([r.seconds for r in cold])
    scripts = median([r.process_seconds for r in cold])
    return Measure(
        name="Orchestration overhead: pipeline wall time / sum of step processes' time",
        target="≤ 1.3×",
        result=f"{median(ratios):.2f}× (median of {len(cold)}; {wall:.1f} s / {scripts:.1f} s)",
        met=median(ratios) <= 1.3,
        raw={
            "ratios": ratios,
            "wall_seconds": [r.seconds for r in cold],
            "steps": [[s.__dict__ for s in r.steps] for r in cold],
        },
    )


def versus_kfp(cold: list[PipelineRun], theirs: list[float]) -> Measure:
    ours = [r.seconds for r in cold]
    ratio = median(ours) / median(theirs)
    return Measure(
        name="3 steps on 10 k rows: our runner / kfp SubprocessRunner(use_venv=False)",
        target="≤ 0.5",
        result=f"{ratio:.2f} ({median(ours):.1f} s / {median(theirs):.1f} s, "
        f"medians of {len(ours)} alternated runs)",
        met=ratio <= 0.5,
        raw={
            "ours_seconds": ours,
            "kfp_seconds": theirs,
            "pair_ratios": [a / b for a, b in zip(ours, theirs, strict=True)],
        },
    )


def caching(cold: list[PipelineRun], cached: list[PipelineRun]) -> Measure:
    ratios = [c.seconds / r.seconds for r, c in zip(cold, cached, strict=True)]
    return Measure(
        name="Cached re-run / cold run of an unchanged pipeline",
        target="≤ 0.2×",
        result=f"{median(ratios):.2f}× ({median([c.seconds for c in cached]):.2f} s / "
        f"{median([r.seconds for r in cold]):.1f} s, median of {len(cold)} pairs)",
        met=median(ratios) <= 0.2,
        raw={"ratios": ratios, "cached_seconds": [c.seconds for c in cached]},
    )


def scaling(ours: SandboxWorkload, work: Path) -> Measure:
    """One cold run a size: the largest takes minutes, and its time dwarfs the noise."""
    runs = {}
    for rows in SCALE_ROWS:
        uri = ours.upload_data(_data(work, rows), str(rows))
        runs[rows] = _succeeded(ours.run(ours.new_pipeline(), uri))
    small, large = (runs[rows] for rows in SCALE_ROWS)
    growth = large.seconds / small.seconds
    peak = max(s.peak_rss_bytes or 0 for r in runs.values() for s in r.steps)
    peaks = ", ".join(
        f"{s.name} {s.peak_rss_bytes / GiB:.2f}" for s in large.steps if s.peak_rss_bytes
    )
    return Measure(
        name="Whole sandbox pipeline at 100 k and 1 M rows",
        target="every step's peak RSS ≤ 2 GiB; 10× rows ≤ 12× time",
        result=f"{small.seconds:.0f} s → {large.seconds:.0f} s ({growth:.1f}× time); "
        f"peak RSS at 1 M (GiB): {peaks}",
        met=peak <= 2 * GiB and growth <= 12,
        raw={
            str(rows): {"seconds": r.seconds, "steps": [s.__dict__ for s in r.steps]}
            for rows, r in runs.items()
        },
    )
