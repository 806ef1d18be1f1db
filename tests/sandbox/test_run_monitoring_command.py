"""`python -m sandbox run-monitoring`: bad names are one line and exit 1. (The command's
whole path, captured traffic to violation to retraining, is in
tests/orchestration/test_drift_in_sandbox.py.)"""

from __future__ import annotations

from tests.sandbox.conftest import sandbox_cli


def test_an_unknown_schedule_or_endpoint_is_one_line_and_exit_1(home):
    assert sandbox_cli(home, "up").returncode == 0
    done = sandbox_cli(home, "run-monitoring", "no-such-endpoint")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "sandbox run-monitoring: 'no-such-endpoint' is no monitoring schedule, and the endpoint "
        "of that name has 0 (none): name the schedule"
    ]
    assert done.stdout == ""


def test_run_monitoring_needs_a_name(home):
    done = sandbox_cli(home, "run-monitoring")
    assert done.returncode == 2
    assert "the following arguments are required: name" in done.stderr
