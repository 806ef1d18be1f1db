"""A stage's batch-inference target: the optional `BatchTransform` object of a stage config,
checked against modeldeploy/batch-transform-template.yml's own rules, and the
TemplateConfiguration build.py writes for it (`<stage export>-batch.json`).

    {"Parameters": {"StageName": "prod", ...},
     "BatchTransform": {"Parameters": {"ScheduleExpression": "cron(0 3 * * ? *)",
                                       "TransformInstanceType": "ml.m5.large"}}}

The stage then deploys the approved package as a scheduled batch transform beside its
endpoint (or instead of it: a pipeline that deploys only the batch export). Its input and
output default to `s3://<bucket>/batch-<stage>/input` and `.../output`.
"""

from __future__ import annotations

from pathlib import Path

from modeldeploy.errors import ConfigError, read_json_file
from modeldeploy.stage_config import _checked_tags, check_value, export_config, template_parameters

BATCH_TEMPLATE = Path(__file__).with_name("batch-transform-template.yml")
KEY = "BatchTransform"
# What the batch stack takes from the stage's own export (the same package, role, project).
FROM_STAGE = (
    "ModelPackageName",
    "ModelExecutionRoleArn",
    "SageMakerProjectName",
    "SageMakerProjectId",
)


def load_batch_config(path: Path, stage: str) -> dict | None:
    """The stage config's BatchTransform object as {"Parameters", "Tags"} (strings), or None
    when the stage has no batch target. Raises ConfigError naming the file and field."""
    raw = read_json_file(path)
    if not isinstance(raw, dict) or raw.get(KEY) is None:
        return None
    batch = raw[KEY]
    if not isinstance(batch, dict) or not isinstance(batch.get("Parameters", {}), dict):
        raise ConfigError(f"{path}: {KEY!r} must be an object with a 'Parameters' object")
    rules = template_parameters(BATCH_TEMPLATE)
    parameters = {"StageName": stage}
    for name, value in batch.get("Parameters", {}).items():
        if name not in rules or name == "StageName":
            raise ConfigError(
                f"{path}: unknown {KEY} parameter {name!r} (the batch template has "
                f"{', '.join(n for n in sorted(rules) if n != 'StageName')})"
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: {KEY} parameter {name} must be a string or number")
        parameters[name] = str(value)
        check_value(name, parameters[name], rules[name], f"{path}: {KEY}")
    return {"Parameters": parameters, "Tags": _checked_tags(batch, path)}


def batch_export(config: dict, stage: str, stage_export: dict, bucket: str) -> dict:
    """The batch stack's TemplateConfiguration: the stage's batch parameters plus, from the
    stage's own export, the package, role and project (and its tags), and the default
    input/output prefixes."""
    build_values = {k: stage_export["Parameters"][k] for k in FROM_STAGE}
    tags = stage_export["Tags"]
    defaults = {
        "BatchInputUri": f"s3://{bucket}/batch-{stage}/input",
        "BatchOutputUri": f"s3://{bucket}/batch-{stage}/output",
    }
    extra = {**{k: v for k, v in defaults.items() if k not in config["Parameters"]}, **build_values}
    return export_config(config, extra, tags, BATCH_TEMPLATE, source=f"{stage} {KEY}")


def batch_export_path(stage_export: Path) -> Path:
    """Where the batch export goes: beside the stage's, `<stem>-batch.json`."""
    stage_export = Path(stage_export)
    return stage_export.with_name(f"{stage_export.stem}-batch{stage_export.suffix}")
