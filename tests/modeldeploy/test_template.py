"""The endpoint template: cfn-lint clean, and its parameter rules are what build.py checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modeldeploy.stage_config import TEMPLATE, template_parameters

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def test_cfn_lint_reports_nothing():
    done = subprocess.run(
        [str(CFN_LINT), str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_every_parameter_is_described_and_constrained():
    for name, rule in template_parameters().items():
        assert rule.get("Description"), name
        assert {"AllowedValues", "AllowedPattern", "MinValue", "Default"} & set(rule), name


def test_prod_only_resources_are_conditional():
    import yaml

    from modeldeploy.stage_config import _CfnLoader

    resources = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"]
    for name in (
        "Invocation5xxAlarm",
        "ModelLatencyAlarm",
        "ScalableTarget",
        "InvocationsScalingPolicy",
    ):
        assert resources[name]["Condition"] == "IsProd", name
