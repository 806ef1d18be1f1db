"""Jobs as forks of the warm interpreter: the same contract as a fresh `python script.py`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sandbox.runner import jobs, warm

ENVIRONMENT = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "code" / "job.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(body)
    return script


def test_warm_job_sees_its_own_arguments_environment_and_folder(tmp_path):
    script = _script(
        tmp_path,
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv, 'cwd': os.getcwd(), 'mode': os.environ['MODE'],\n"
        "    'path0': sys.path[0], 'name': __name__, 'pandas': 'pandas' in sys.modules}))\n",
    )
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, str(script), "--flag", "value"]
    assert warm.script_arguments(command, work) == [str(script), "--flag", "value"]

    stats = jobs.run_logged(command, {**ENVIRONMENT, "MODE": "warm"}, work, tmp_path / "job.log")

    seen = json.loads((tmp_path / "job.log").read_text().splitlines()[1])
    assert seen == {
        "argv": [str(script), "--flag", "value"],
        "cwd": str(work),
        "mode": "warm",
        "path0": str(script.parent),
        "name": "__main__",
        "pandas": True,  # preloaded: the point of the warm interpreter
    }
    assert stats.seconds > 0 and stats.peak_rss_bytes > 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("import sys\nprint('bad row', file=sys.stderr)\nsys.exit(3)\n", "bad row"),
        ("raise ValueError('bad input')\n", "ValueError: bad input"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "killed before"),
    ],
)
def test_failing_warm_job_reports_its_last_stderr_line(tmp_path, body, reason):
    script = _script(tmp_path, body)
    with pytest.raises(jobs.JobFailed, match=reason):
        jobs.run_logged([sys.executable, str(script)], ENVIRONMENT, tmp_path, tmp_path / "x.log")


def test_import_time_settings_get_a_warm_interpreter_of_their_own():
    single = {**ENVIRONMENT, "OMP_NUM_THREADS": "1"}
    assert warm.shared(single) is warm.shared({**single, "SM_HOSTS": '["algo-1"]'})
    assert warm.shared(single) is not warm.shared({**ENVIRONMENT, "OMP_NUM_THREADS": "2"})


def test_only_python_script_files_run_warm(tmp_path):
    script = _script(tmp_path, "pass\n")
    assert warm.script_arguments([sys.executable, "-c", "pass"], tmp_path) is None
    assert warm.script_arguments(["/bin/sh", str(script)], tmp_path) is None
    assert warm.script_arguments([sys.executable, "missing.py"], tmp_path) is None
    assert warm.script_arguments([sys.executable, "code/job.py"], tmp_path) == ["code/job.py"]
