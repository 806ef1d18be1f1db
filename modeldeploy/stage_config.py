"""Stage configs (`staging-config.json`, `prod-config.json`) checked against the template's
own parameter rules, and the CloudFormation TemplateConfiguration files built from them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from modeldeploy.errors import ConfigError, read_json_file
from modeldeploy.guardrails import check_guardrails

TEMPLATE = Path(__file__).with_name("endpoint-config-template.yml")
STAGES = ("staging", "prod")


# libyaml's parser when PyYAML has it: the pure-Python one took 0.1 s for the template.
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML loader that accepts CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    """An intrinsic function (!Sub x, !Ref y, !If [...]) read as its plain argument."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_CfnLoader.add_multi_constructor("!", _intrinsic)


def template_parameters(template: Path = TEMPLATE) -> dict[str, dict]:
    """The template's Parameters section."""
    return yaml.load(template.read_text(), Loader=_CfnLoader)["Parameters"]


def check_value(name: str, value: str, rule: dict, source: str) -> None:
    """Raise ConfigError if `value` breaks the template's rule for parameter `name`."""
    where = f"{source}: parameter {name}"
    if "AllowedValues" in rule and value not in [str(v) for v in rule["AllowedValues"]]:
        raise ConfigError(f"{where}={value!r} is not one of {rule['AllowedValues']}")
    if "AllowedPattern" in rule and not re.match(rule["AllowedPattern"], value):
        raise ConfigError(f"{where}={value!r} does not match {rule['AllowedPattern']}")
    if rule.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{where}={value!r} is not a number") from None
        if "MinValue" in rule and number < rule["MinValue"]:
            raise ConfigError(f"{where}={value} is below {rule['MinValue']}")
        if "MaxValue" in rule and number > rule["MaxValue"]:
            raise ConfigError(f"{where}={value} is above {rule['MaxValue']}")


def _checked_parameters(raw, path: Path, rules: dict[str, dict]) -> dict[str, str]:
    """A config's Parameters as strings, each checked against the template's rule (and a
    StageName, when the template has one)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("Parameters"), dict):
        raise ConfigError(f"{path}: must be an object with a 'Parameters' object")
    parameters = {}
    for name, value in raw["Parameters"].items():
        if name not in rules:
            raise ConfigError(
                f"{path}: unknown parameter {name!r} (the template has {', '.join(sorted(rules))})"
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: parameter {name} must be a string or number")
        parameters[name] = str(value)
        check_value(name, parameters[name], rules[name], str(path))
    if "StageName" in rules and parameters.get("StageName") not in STAGES:
        raise ConfigError(f"{path}: parameter StageName must be one of {', '.join(STAGES)}")
    check_guardrails(parameters, rules, str(path))  # the rules that join parameters
    return parameters


def _checked_tags(raw: dict, path: Path) -> dict[str, str]:
    tags = raw.get("Tags", {})
    if not isinstance(tags, dict):
        raise ConfigError(f"{path}: 'Tags' must be an object")
    for key, value in tags.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: tag {key!r} must be a string or number")
    return {k: str(v) for k, v in tags.items()}


def load_stage_config(path: Path, template: Path = TEMPLATE) -> dict:
    """Read a stage config; returns {"Parameters": {...}, "Tags": {...}} with string values.

    Raises ConfigError naming the file and field for invalid JSON, an unknown parameter,
    a value the template would refuse, or a missing StageName.
    """
    raw = read_json_file(path)
    parameters = _checked_parameters(raw, path, template_parameters(template))
    return {"Parameters": parameters, "Tags": _checked_tags(raw, path)}


def load_template_config(path: Path, template: Path = TEMPLATE) -> dict:
    """Read a TemplateConfiguration (what build.py writes, what deploy.py deploys): the
    stage config's checks against `template`'s own rules (any template: the sandbox demo
    deploys its foundation stack this way too), and a value for every parameter without a
    default.

    Raises ConfigError naming the file and field; nothing is deployed from a config that
    CloudFormation (or the endpoint) would refuse.
    """
    raw = read_json_file(path)
    rules = template_parameters(template)
    parameters = _checked_parameters(raw, path, rules)
    missing = [n for n, rule in rules.items() if "Default" not in rule and n not in parameters]
    if missing:
        raise ConfigError(f"{path}: no value for template parameter(s) {', '.join(missing)}")
    return {"Parameters": parameters, "Tags": _checked_tags(raw, path)}


def export_config(
    stage: dict,
    extra: dict[str, str],
    tags: dict[str, str],
    template: Path = TEMPLATE,
    source: str = "build",
) -> dict:
    """The TemplateConfiguration for one stage: its parameters plus the build's.

    Raises ConfigError when a value breaks the template's rules or one is missing.
    """
    rules = template_parameters(template)
    parameters = {**stage["Parameters"], **extra}
    for name, value in extra.items():
        check_value(name, value, rules[name], source)
    missing = [n for n, rule in rules.items() if "Default" not in rule and n not in parameters]
    if missing:
        raise ConfigError(f"{source}: no value for template parameter(s) {', '.join(missing)}")
    return {"Parameters": parameters, "Tags": {**stage["Tags"], **tags}}
