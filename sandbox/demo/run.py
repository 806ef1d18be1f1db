"""`python -m sandbox demo [SCENARIO] [--interactive]` (sandbox.demo.SCENARIOS): run a
scenario, print a summary, write the report; exit 0 when the scenario ended as it should."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path

from botocore.exceptions import ClientError

from sandbox import daemon
from sandbox.demo import report
from sandbox.demo.lifecycle import Lifecycle, Outcome, run_scenario
from sandbox.demo.progress import Progress, StageFailed
from sandbox.server import Sandbox

DEFAULT_ROWS = 10_000


def ask(message: str) -> bool:
    """The manual approval, at the terminal."""
    print(f"\n  Manual approval: {message}")
    answer = input("  Approve the promotion to prod? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def auto_approve(message: str) -> bool:
    print("    Auto-approved: this run is not interactive (use --interactive to decide yourself)")
    return True


@contextlib.contextmanager
def sandbox_for_demo(home: Path, progress: Progress, given=None):
    """`given`, or the sandbox recorded in `home` if one runs, else a new one, stopped at
    the end."""
    with progress.stage("Sandbox") as log:
        running = given or daemon.find_running(home)
        if running:
            log.say(f"using the running sandbox at {running.endpoint_url}")
            sandbox = None
        else:
            sandbox = Sandbox(home=home).start()
            running = sandbox
            log.say(f"started at {sandbox.endpoint_url} (state in {home})")
    try:
        yield running
    finally:
        if sandbox is not None:
            sandbox.stop()
            print("Sandbox stopped")


def quiet_known_moto_gaps() -> None:
    """moto's CloudFormation warns for each type it skips (bucket policy, alarms, auto
    scaling...); cfn-lint and the wiring tests cover those, so the demo does not repeat it."""
    warnings.filterwarnings("ignore", "Tried to parse AWS")
    logging.getLogger("moto").setLevel(logging.ERROR)


def run_demo(
    scenario: str,
    interactive: bool,
    home: Path,
    rows: int = DEFAULT_ROWS,
    sandbox=None,
    codebuild_overrides: dict[str, str] | None = None,
    iac: str = "cloudformation",
) -> int:
    """Run `scenario`; `sandbox` (a running one) is for tests that chain scenarios;
    `codebuild_overrides` are environment variables every CodeBuild action gets last;
    `iac="terraform"` provisions the build side with Terraform (happy scenario only)."""
    quiet_known_moto_gaps()
    if iac == "terraform":
        from sandbox.demo.terraform import unavailable

        if scenario != "happy":
            print(f"demo: IAC=terraform runs the happy scenario, not {scenario}", file=sys.stderr)
            return 2
        why_not = unavailable()
        if why_not:
            print(f"demo: IAC=terraform skipped: {why_not}")
            return 0
    if interactive and not sys.stdin.isatty():
        print("demo: --interactive needs a terminal to ask for the approval", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report_dir = home / "report"
    work_dir = home / "demo"
    for folder in (report_dir, work_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    progress = Progress(report_dir / "logs")
    summary_md = report_dir / "metrics.md"
    outcome = Outcome(scenario)
    try:
        with sandbox_for_demo(home, progress, sandbox) as sandbox:
            approve = ask if interactive else auto_approve
            if iac == "terraform":
                facts = _run_on_terraform(sandbox, work_dir, progress, approve, rows, outcome)
            else:
                lifecycle = Lifecycle(
                    sandbox,
                    work_dir,
                    progress,
                    approve,
                    rows,
                    codebuild_overrides=codebuild_overrides,
                )
                try:
                    run_scenario(lifecycle, outcome, summary_md)
                except StageFailed as failed:
                    outcome.failed(failed)
                facts = report.collect(lifecycle, outcome)
    except StageFailed as failed:  # the sandbox itself did not start
        outcome.failed(failed)
        facts = None
    elapsed = time.perf_counter() - started
    written = report.write(report_dir, outcome, progress.timings, facts, summary_md, elapsed)
    report.print_summary(outcome, progress.timings, facts, elapsed, written)
    return 0 if outcome.expected else 1


def _run_on_terraform(sandbox, work_dir, progress, approve, rows, outcome) -> dict:
    """The happy scenario on what Terraform provisions; facts for the report are read
    before terraform destroy, which runs whatever happened."""
    from sandbox.demo.terraform import TerraformLifecycle, run_terraform_scenario

    lifecycle = TerraformLifecycle(sandbox, work_dir, progress, approve, rows)
    try:
        try:
            run_terraform_scenario(lifecycle, outcome)
        except StageFailed as failed:
            outcome.failed(failed)
        try:
            return report.collect(lifecycle, outcome)
        except ClientError as err:  # e.g. a failed run whose steps name jobs that are gone
            print(f"demo: the report lacks the sandbox's facts: {err}", file=sys.stderr)
            return None
    finally:
        try:
            lifecycle.teardown()
        except StageFailed as failed:
            if outcome.expected:
                outcome.failed(failed)
