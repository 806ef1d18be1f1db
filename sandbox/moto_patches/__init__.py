"""Where moto 5 differs from AWS in ways this project's flows depend on, made to behave as
AWS does: one module per behaviour, applied once when a sandbox starts (`apply_all`).

Each module's docstring names the AWS behaviour it restores and the moto behaviour it
replaces. Its `apply()` first checks that the moto internals it relies on are still there,
in the shape it expects (the attribute exists, the function takes the parameters the patch
passes on), and raises `MotoInternalsChanged` naming the patch, the moto version and what is
missing: after a moto upgrade the sandbox fails to start, loudly, rather than a flow
quietly behaving like moto again. `apply()` is idempotent.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

# In the order they are applied: registry_events wraps what update_model_package patched.
PATCHES = (
    "template_parsing",  # speed only: CloudFormation reads templates with libyaml, once
    "endpoint_name",
    "update_model_package",
    "sagemaker_tags",
    "stack_update_cascade",
    "change_set_apply",
    "change_set_changes",  # what a change set would do, as modeldeploy/preview.py shows it
    "empty_change_set",
    "continue_update_rollback",  # modeldeploy/rollback.py recovers UPDATE_ROLLBACK_FAILED
    "number_parameters",  # CreateChangeSet refuses a Number parameter that is not one
    # Deployment guardrails (sandbox/guardrails.py): alarms from the stack, blue/green
    # endpoint updates, and a stack that rolls back when one fails.
    "cloudwatch_alarm_resource",
    "stack_update_rollback",
    "endpoint_update",
    "scheduler_schedule_resource",  # a batch deployment's schedule (batch-transform-template)
    "registry_events",
    "server_routing",
    # What the Terraform AWS provider needs to apply, re-plan and destroy terraform/.
    "state_machine_validation",
    "state_machine_versions",
    "delete_model_package",
    "delete_model_package_group",
    "bucket_policy_transport",
    "bucket_notification_eventbridge",
    "lambda_dead_letter_config",
    # Stage accounts read the tooling account's registry through the group's policy.
    "model_package_group_policy",
    "create_model_package_group",  # an existing group (and its policy) is kept
    "model_package_group_resource",  # foundation.yml's group, with that policy
    "assume_role_trust",  # a stage account's deploy role trusts the pipeline's role only
    "kms_key_update",  # foundation.yml's key policy grants stage accounts on an update
    # Step Functions, Lambda, EventBridge as orchestration/ uses them (orchestration_services).
    "task_failure_cause",
    "stop_waiting_execution",
    "execution_name",
    "lambda_invoke",
    "event_targets",
    # The endpoint stack's Model Monitor schedule (python -m sandbox run-monitoring).
    "monitoring_schedule_resource",
)
_MARK = "__sandbox_moto_patch__"


class MotoInternalsChanged(RuntimeError):
    """A moto patch cannot apply: moto no longer has what the patch relies on."""

    def __init__(self, patch: str, missing: str):
        self.patch = patch
        self.missing = missing
        super().__init__(
            f"moto patch {patch!r} (sandbox/moto_patches/{patch}.py) cannot apply to moto "
            f"{moto_version()}: {missing}. Adapt the patch to this moto, or keep moto at a "
            "version it fits."
        )


def apply_all() -> None:
    """Apply every patch, in order; a second call changes nothing."""
    for name in PATCHES:
        importlib.import_module(f"{__name__}.{name}").apply()


def moto_version() -> str:
    import moto

    return getattr(moto, "__version__", "(unknown version)")


class Internals:
    """The checks a patch makes on moto before it patches; each failure names the patch."""

    def __init__(self, patch: str):
        self.patch = patch

    def missing(self, what: str) -> MotoInternalsChanged:
        return MotoInternalsChanged(self.patch, what)

    def attribute(self, owner: Any, name: str) -> Any:
        """owner.name, which must exist."""
        if not hasattr(owner, name):
            raise self.missing(f"{_name(owner)}.{name} does not exist")
        return getattr(owner, name)

    def function(self, owner: Any, name: str, *parameters: str) -> Callable:
        """owner.name, a callable whose signature names each of `parameters` (the ones the
        patch passes on or reads by name)."""
        value = self.attribute(owner, name)
        if not callable(value):
            raise self.missing(f"{_name(owner)}.{name} is no longer callable")
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            raise self.missing(f"{_name(owner)}.{name} has no readable signature") from None
        absent = [p for p in parameters if p not in signature.parameters]
        if absent:
            raise self.missing(
                f"{_name(owner)}.{name}{signature} no longer takes {', '.join(absent)}"
            )
        return value

    def instance_attributes(self, cls: type, *names: str) -> None:
        """Attributes a patch reads on instances of `cls`: a class attribute or property, or
        one that the source of the class (or of a base class) sets on `self`."""
        source = "\n".join(_class_source(base) for base in cls.__mro__ if base is not object)
        absent = [
            name
            for name in names
            if not hasattr(cls, name)
            and not re.search(rf"self\.{re.escape(name)}\b\s*(:[^=\n]*)?=", source)
        ]
        if absent:
            raise self.missing(f"{_name(cls)} instances no longer have {', '.join(absent)}")

    def calls(self, caller: Any, callee: str) -> None:
        """`caller`'s source reaches `callee` (so a patch of `callee` is what it uses)."""
        if callee not in _source(caller):
            raise self.missing(f"{_name(caller)} no longer calls {callee}")


def mark(function: Callable, patch: str) -> Callable:
    """Label a replacement as this patch's (see `applied`)."""
    setattr(function, _MARK, patch)
    return function


def applied(current: Any, patch: str) -> bool:
    """Whether `current` (an attribute as it is now) is, or wraps, this patch's replacement."""
    seen = 0
    while current is not None and seen < 50:
        if getattr(current, _MARK, None) == patch:
            return True
        current = getattr(current, "__wrapped__", None)
        seen += 1
    return False


def _name(owner: Any) -> str:
    module = getattr(owner, "__module__", None)
    qualname = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
    if inspect.ismodule(owner):
        return owner.__name__
    return f"{module}.{qualname}" if module else qualname


@functools.cache
def _source(owner: Any) -> str:
    if isinstance(owner, type):
        return _class_source(owner)
    try:
        return inspect.getsource(inspect.unwrap(owner))
    except (OSError, TypeError):
        return ""


@functools.cache
def _class_source(cls: type) -> str:
    """The source of the functions a class defines. (inspect.getsource(cls) parses the whole
    module: 0.1 s for moto's sagemaker/models.py, against milliseconds for its functions.)"""
    functions = []
    for value in vars(cls).values():
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            functions.append(_source(value))
    return "\n".join(functions)
