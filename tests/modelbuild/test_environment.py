"""Environment configs: dev and prod load; bad names and files are one clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines.churn.environment import CONFIG_DIR, ConfigError, load_environment


def test_dev_and_prod_thresholds():
    assert load_environment("dev").min_roc_auc == 0.80
    assert load_environment("prod").min_roc_auc == 0.90
    # A retrained prod model may lose less against its champion than a dev one.
    assert load_environment("prod").champion_tolerance < load_environment("dev").champion_tolerance


def test_configs_carry_instance_types_schedule_and_approval_status():
    prod = load_environment("prod")
    assert prod.processing_instance_type.startswith("ml.")
    assert prod.retraining_schedule.startswith("cron(")
    assert prod.model_approval_status == "PendingManualApproval"
    assert prod.hyperparameters["max_iter"] > 0


def test_unknown_environment_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown environment 'staging' \(known: dev, prod\)"):
        load_environment("staging")


@pytest.fixture(name="config_dir")
def fixture_config_dir(tmp_path: Path) -> Path:
    shutil.copy(CONFIG_DIR / "dev.json", tmp_path / "dev.json")
    return tmp_path


def _rewrite(config_dir: Path, **changes) -> None:
    raw = json.loads((config_dir / "dev.json").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    (config_dir / "dev.json").write_text(json.dumps(raw))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_roc_auc": None}, "missing field 'min_roc_auc'"),
        ({"min_roc_auc": "high"}, "field 'min_roc_auc' has the wrong type"),
        ({"min_roc_auc": 1.5}, "field 'min_roc_auc' must be in (0, 1]"),
        ({"champion_tolerance": None}, "missing field 'champion_tolerance'"),
        ({"champion_tolerance": -0.1}, "field 'champion_tolerance' must be in [0, 1]"),
        ({"training_instance_type": "m5.large"}, "not an ml.* instance type"),
        ({"model_approval_status": "Maybe"}, "field 'model_approval_status' must be one of"),
        ({"retraining_schedule": "daily"}, "field 'retraining_schedule' must be cron"),
        ({"hyperparameters": {"max_iter": "many"}}, "hyperparameter 'max_iter' must be a number"),
    ],
)
def test_malformed_field_names_file_and_field(config_dir, changes, message):
    _rewrite(config_dir, **changes)
    with pytest.raises(ConfigError) as error:
        load_environment("dev", config_dir)
    assert str(config_dir / "dev.json") in str(error.value)
    assert message in str(error.value)


def test_invalid_json_names_the_line(config_dir):
    # A missing comma: every supported Python places it on line 3 (a trailing comma is
    # reported on line 3 before 3.13 and on line 2 from 3.13 on).
    (config_dir / "dev.json").write_text('{\n  "min_roc_auc": 0.8\n  "stage": "dev"\n}')
    with pytest.raises(ConfigError, match="invalid JSON at line 3"):
        load_environment("dev", config_dir)
