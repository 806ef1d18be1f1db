"""Templates parsed at the speed of PyYAML's C parser, each text once.

AWS: how fast CloudFormation reads a template is not the caller's concern.
moto: every CreateStack, CreateChangeSet, ExecuteChangeSet and ValidateTemplate parses the
template with PyYAML's pure-Python `yaml.Loader`, several times per call (the stack, the
change set, the template comparison): 0.1-0.2 s for the deploy template each time, about a
sixth of a deploy's time in the sandbox. The patch gives moto's CloudFormation a
`yaml` whose `load` with `yaml.Loader` uses the C parser (libyaml, the same constructors,
the same result) and parses a text once, handing out copies (moto may change what it gets).
"""

from __future__ import annotations

import copy
import functools
import types

import yaml

from sandbox.moto_patches import Internals, applied, mark

PATCH = "template_parsing"
MODULES = ("moto.cloudformation.models", "moto.cloudformation.responses")


class _CfnCLoader(getattr(yaml, "CLoader", yaml.Loader)):  # no libyaml: still cached
    """moto's loader (yaml.Loader plus its !Ref/!GetAtt/... constructor) on libyaml."""


@functools.lru_cache(maxsize=64)
def _parsed(text: str):
    return yaml.load(text, Loader=_CfnCLoader)  # noqa: S506 — moto's own loader, on C


def _load(stream, Loader):  # noqa: N803 — yaml.load's own parameter name
    if Loader is yaml.Loader and isinstance(stream, str):
        return copy.deepcopy(_parsed(stream))
    return yaml.load(stream, Loader=Loader)  # noqa: S506 — as moto called it


def apply() -> None:
    import importlib

    from moto.cloudformation.utils import yaml_tag_constructor

    check = Internals(PATCH)
    modules = [importlib.import_module(name) for name in MODULES]
    for module in modules:
        if check.attribute(module, "yaml") is not yaml and not applied(module.yaml, PATCH):
            raise check.missing(f"{module.__name__}.yaml is no longer PyYAML")
    check.calls(check.function(modules[0].Stack, "parse_template", "template"), "yaml.Loader")
    _CfnCLoader.add_multi_constructor("", yaml_tag_constructor)

    fast = types.SimpleNamespace(**{n: getattr(yaml, n) for n in dir(yaml) if n[0] != "_"})
    fast.load = _load
    mark(fast, PATCH)
    for module in modules:
        if not applied(module.yaml, PATCH):
            module.yaml = fast
