"""get-pipeline-definition: the seed's command line, rendered against whatever AWS endpoint
is configured (the sandbox with no account), and one clear line without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipelines import get_pipeline_definition
from tests.conftest import FAKE_AWS

KWARGS = (
    '{"region":"us-east-1","role":"arn:aws:iam::111122223333:role/r",'
    '"default_bucket":"render-bucket"}'
)


def _no_aws_environment() -> dict[str, str]:
    """The process environment with every AWS credential and endpoint removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    env.update(
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _seed_command(out) -> list[str]:
    return [
        os.path.join(os.path.dirname(sys.executable), "get-pipeline-definition"),
        "-n",
        "pipelines.churn.pipeline",
        "-f",
        str(out),
        "-kwargs",
        KWARGS,
    ]


def test_renders_with_the_seed_command_line_against_an_endpoint(tmp_path, moto_server):
    """The endpoint and fake credentials as `python -m sandbox exec` gives them (boto3's
    standard variables; tests/sandbox/test_exec.py runs exec itself)."""
    out = tmp_path / "definition.json"
    done = subprocess.run(
        _seed_command(out),
        env={**_no_aws_environment(), **FAKE_AWS, "AWS_ENDPOINT_URL": moto_server},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the SDK's chatter is held back at the default log level
    definition = json.loads(out.read_text())
    steps = [s["Type"] for s in definition["Steps"]]
    # Preprocess, Baseline, Train, Evaluate, Champion, CheckEvaluation
    processing = "Processing"
    assert steps == [processing, processing, "Training", processing, processing, "Condition"]
    floor = definition["Steps"][5]["Arguments"]
    assert [s["Type"] for s in floor["IfSteps"] + floor["ElseSteps"]] == ["Condition", "Fail"]
    champion = floor["IfSteps"][0]["Arguments"]
    assert [s["Type"] for s in champion["IfSteps"] + champion["ElseSteps"]] == [
        "RegisterModel",
        "Fail",
    ]


def test_without_aws_says_how_to_render_in_one_line(tmp_path):
    done = subprocess.run(
        _seed_command(tmp_path / "definition.json"),
        env=_no_aws_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("get-pipeline-definition: AWS call failed")
    assert "python -m sandbox exec -- get-pipeline-definition" in line
    assert not (tmp_path / "definition.json").exists()


def test_prints_to_stdout_without_file(capsys, aws_endpoint):
    assert get_pipeline_definition.main(["-n", "pipelines.churn.pipeline", "--kwargs", KWARGS]) == 0
    assert json.loads(capsys.readouterr().out)["Parameters"][0]["Name"] == "InputDataUri"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["-n", "pipelines.nope", "--kwargs", KWARGS],
            "pipeline module 'pipelines.nope' not found",
        ),
        (["-n", "pipelines.churn.pipeline", "--kwargs", "{oops"], "--kwargs is neither JSON"),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", KWARGS[:-1] + ',"environment":"qa"}'],
            "unknown environment 'qa'",
        ),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", '{"role": "r"}'],
            '--kwargs must include "region"',
        ),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", '["us-east-1"]'],
            "--kwargs must be an object, got list",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    assert get_pipeline_definition.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err
