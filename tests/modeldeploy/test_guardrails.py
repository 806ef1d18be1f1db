"""The deployment-guardrail settings of the stage configs: the shipped ones, and the
combinations build.py and deploy.py refuse in one line before anything is deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeldeploy import build
from modeldeploy.errors import ConfigError
from modeldeploy.guardrails import deployment_seconds, effective
from modeldeploy.stage_config import TEMPLATE, load_stage_config, template_parameters

HERE = Path(__file__).parents[2] / "modeldeploy"


def test_shipped_stages_staging_all_at_once_and_prod_canary_with_alarms():
    staging = effective(
        load_stage_config(HERE / "staging-config.json")["Parameters"], template_parameters()
    )
    prod = effective(
        load_stage_config(HERE / "prod-config.json")["Parameters"], template_parameters()
    )
    assert (staging["TrafficRoutingType"], staging["RollbackAlarmsEnabled"]) == (
        "ALL_AT_ONCE",
        "false",
    )
    assert (prod["TrafficRoutingType"], prod["TrafficShiftPercent"]) == ("CANARY", "10")
    assert prod["RollbackAlarmsEnabled"] == "true"
    assert prod["ShadowModelPackageName"] == ""  # the shadow variant is off by default
    assert deployment_seconds(prod) == 2 * 300 + 300


def _write(tmp_path: Path, **parameters: str) -> Path:
    config = json.loads((HERE / "prod-config.json").read_text())
    config["Parameters"].update(parameters)
    path = tmp_path / "prod-config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"TrafficRoutingType": "BLUE"}, "TrafficRoutingType='BLUE' is not one of"),
        ({"TrafficShiftPercent": "60"}, "TrafficShiftPercent=60 is above 50"),
        (
            {"TrafficRoutingType": "LINEAR", "TrafficShiftPercent": "5"},
            "TrafficShiftPercent=5 is below 10, the smallest LINEAR step",
        ),
        (
            {"RollbackAlarmsEnabled": "false"},
            "TrafficRoutingType=CANARY needs RollbackAlarmsEnabled=true",
        ),
        (
            {"WaitIntervalInSeconds": "1800", "MaximumExecutionTimeoutInSeconds": "3600"},
            "MaximumExecutionTimeoutInSeconds=3600 is not above the 3900 s",
        ),
        (
            # ten linear steps of 330 s, then 300 s before the old fleet goes
            {
                "TrafficRoutingType": "LINEAR",
                "TrafficShiftPercent": "10",
                "WaitIntervalInSeconds": "330",
            },
            "MaximumExecutionTimeoutInSeconds=3600 is not above the 3600 s a LINEAR",
        ),
        ({"ShadowModelPackageName": "model-3"}, "ShadowModelPackageName='model-3' does not"),
        ({"WaitIntervalInSeconds": "-1"}, "WaitIntervalInSeconds=-1 is below 0"),
    ],
)
def test_bad_guardrail_settings_are_refused_naming_file_and_parameter(
    tmp_path, parameters, message
):
    path = _write(tmp_path, **parameters)
    with pytest.raises(ConfigError) as refused:
        load_stage_config(path, TEMPLATE)
    assert str(path) in str(refused.value) and message in str(refused.value)


def test_build_refuses_them_in_one_line_before_any_call(tmp_path, capsys):
    path = _write(tmp_path, TrafficRoutingType="LINEAR", TrafficShiftPercent="5")
    argv = ["--model-execution-role", "arn:aws:iam::123456789012:role/r"]
    argv += ["--model-package-group-name", "g", "--sagemaker-project-id", "p-1"]
    argv += ["--sagemaker-project-name", "p", "--s3-bucket", "b"]
    argv += ["--import-prod-config", str(path)]
    argv += ["--export-staging-config", str(tmp_path / "s.json")]
    argv += ["--export-prod-config", str(tmp_path / "p.json")]
    argv += ["--export-manifest", str(tmp_path / "m.json")]
    # No client is ever used: the stage configs are checked first.
    assert build.main(argv, sagemaker=object(), s3=object()) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "TrafficShiftPercent=5" in error
    assert not list(tmp_path.glob("*.json"))[1:]  # only the bad config itself
