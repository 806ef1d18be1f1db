"""Per-environment settings of the churn pipeline, read from `config/<environment>.json`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines import parameters

CONFIG_DIR = Path(__file__).with_name("config")
# The config fields that feed pipeline parameter defaults, checked by the same rules as the
# parameters themselves (pipelines/parameters.py: SageMaker's own value lists, from botocore).
INSTANCE_TYPE_RULES = {
    "processing_instance_type": parameters.processing_instance_type(),
    "training_instance_type": parameters.training_instance_type(),
}
APPROVAL_STATUS_RULE = parameters.approval_status()
# EventBridge Scheduler cron: six fields inside cron(...).
SCHEDULE = re.compile(r"^cron\((\S+\s+){5}\S+\)$")


class ConfigError(ValueError):
    """An environment name or config file is wrong; the message names the file and field."""


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    min_roc_auc: float
    # How far below the champion's ROC AUC a new model may be and still pass (CheckChampion).
    champion_tolerance: float
    processing_instance_type: str
    training_instance_type: str
    model_approval_status: str
    retraining_schedule: str
    hyperparameters: dict[str, float | int]


def _field(raw: dict, key: str, kind: type | tuple[type, ...], path: Path):
    if key not in raw:
        raise ConfigError(f"{path}: missing field '{key}'")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{path}: field '{key}' has the wrong type ({type(value).__name__})")
    return value


def load_environment(name: str, config_dir: Path = CONFIG_DIR) -> EnvironmentConfig:
    """Read and check the config of environment `name`.

    Raises ConfigError for an unknown name, invalid JSON or a bad field.
    """
    path = config_dir / f"{name}.json"
    if not re.fullmatch(r"[a-z0-9-]+", name or "") or not path.is_file():
        known = ", ".join(sorted(p.stem for p in config_dir.glob("*.json")))
        raise ConfigError(f"unknown environment {name!r} (known: {known})")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be an object")

    threshold = _field(raw, "min_roc_auc", (int, float), path)
    if not 0 < threshold <= 1:
        raise ConfigError(f"{path}: field 'min_roc_auc' must be in (0, 1], got {threshold}")
    tolerance = _field(raw, "champion_tolerance", (int, float), path)
    if not 0 <= tolerance <= 1:
        raise ConfigError(f"{path}: field 'champion_tolerance' must be in [0, 1], got {tolerance}")
    for key, rule in INSTANCE_TYPE_RULES.items():
        problem = rule(_field(raw, key, str, path))
        if problem:
            raise ConfigError(f"{path}: field '{key}' is not an ml.* instance type: {problem}")
    status = _field(raw, "model_approval_status", str, path)
    problem = APPROVAL_STATUS_RULE(status)
    if problem:
        raise ConfigError(f"{path}: field 'model_approval_status' {problem}")
    if not SCHEDULE.match(_field(raw, "retraining_schedule", str, path)):
        raise ConfigError(f"{path}: field 'retraining_schedule' must be cron(<6 fields>)")
    hyperparameters = _field(raw, "hyperparameters", dict, path)
    for key, value in hyperparameters.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: hyperparameter '{key}' must be a number")

    return EnvironmentConfig(
        name=name,
        min_roc_auc=float(threshold),
        champion_tolerance=float(tolerance),
        processing_instance_type=raw["processing_instance_type"],
        training_instance_type=raw["training_instance_type"],
        model_approval_status=status,
        retraining_schedule=raw["retraining_schedule"],
        hyperparameters=dict(hyperparameters),
    )
